-- The lesson catalog (the only source of points) and the learners who earn them.
create extension if not exists timescaledb;
create schema if not exists scoreboard;

create table scoreboard.lessons (
    lesson_id text primary key
        check (lesson_id ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$'),
    title text not null check (char_length(title) between 1 and 200),
    points integer not null check (points between 1 and 10000),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table scoreboard.learners (
    user_id text primary key check (char_length(user_id) between 1 and 64),
    display_name text not null check (char_length(display_name) between 1 and 64),
    banned_at timestamptz,
    created_at timestamptz not null default now()
);
