-- The score events: every change of a learner's points, never updated or deleted.
-- depends: 0001_catalog_and_learners
create table scoreboard.score_events (
    time timestamptz not null,
    user_id text not null,
    lesson_id text,
    points integer not null check (points <> 0),
    kind text not null check (kind in ('completion', 'correction')),
    completion_id uuid,
    actor text not null,
    reason text check (char_length(reason) <= 500),
    check ((kind = 'completion') = (completion_id is not null))
);

do $$ begin
    perform create_hypertable('scoreboard.score_events', by_range('time', interval '7 days'));
end $$;

create index score_events_user_time on scoreboard.score_events (user_id, time desc);
