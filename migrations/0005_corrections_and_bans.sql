-- Operator corrections (signed compensating events, idempotent by correction_id), who
-- banned a learner and why, and the index the hourly points cap reads.
-- depends: 0004_boards
create table scoreboard.corrections (
    correction_id uuid primary key,
    user_id text not null references scoreboard.learners,
    points integer not null check (points <> 0 and points between -100000 and 100000),
    reason text not null check (char_length(reason) between 1 and 500),
    actor text not null,
    request_digest text not null,
    total bigint,
    recorded_at timestamptz not null default now()
);

alter table scoreboard.learners
    add column banned_by text,
    add column ban_reason text check (char_length(ban_reason) <= 500);

create index completions_learner_recent on scoreboard.completions (user_id, recorded_at);
