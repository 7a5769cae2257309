-- One row per accepted completion: the idempotency key, the once-per-lesson rule
-- (a hypertable's unique keys must contain its time column, so the rule lives here)
-- and the answer given, so that a replayed request gets the same body.
-- depends: 0002_score_events
create table scoreboard.completions (
    completion_id uuid primary key,
    user_id text not null references scoreboard.learners,
    lesson_id text not null references scoreboard.lessons,
    completed_at timestamptz not null,
    request_digest text not null,
    points integer not null,
    total bigint,
    rank bigint,
    recorded_at timestamptz not null default now(),
    unique (user_id, lesson_id)
);
