-- Exact totals per board, period and learner, and the state of each live board:
-- its current period, its version and the top 10 last announced.
-- depends: 0003_completions
create table scoreboard.board_totals (
    board text not null,
    period_start timestamptz not null,
    user_id text not null,
    points bigint not null,
    reached_at timestamptz not null,
    primary key (board, period_start, user_id)
);

-- Walks a board in its display order: more points, reached first, then user id.
create index board_totals_order
    on scoreboard.board_totals (board, period_start, points desc, reached_at, user_id);

create table scoreboard.boards (
    board text primary key check (board in ('all', 'week', 'day')),
    period_start timestamptz not null,
    version bigint not null default 0,
    entries jsonb not null default '[]',
    member_ids text[] not null default '{}',
    cutoff_points bigint,
    cutoff_reached_at timestamptz,
    cutoff_user_id text,
    changed_at timestamptz not null default now()
);

insert into scoreboard.boards (board, period_start) values
    ('all', '-infinity'),
    ('week', date_trunc('week', now(), 'UTC')),
    ('day', date_trunc('day', now(), 'UTC'));
