-- Live boards: the order of a board, its top entries and the announcement of a change.
--
-- How a change is decided, whatever the concurrency (SPEC section 4):
--  * Every score event takes the scoring lock: shared when it only adds points,
--    exclusive when it may lower a total (corrections, bans). So a writer that
--    adds points never races a writer that lowers the cut-off of a top 10.
--  * A writer that adds points can change a top 10 only if its learner is on it, or
--    now beats its 10th entry. Others skip the board: rising totals only raise the
--    cut-off, so the skip stays right.
--  * A writer that may change a board locks the board's row first, and only then
--    reads the top 10 (a new statement, so a new snapshot in READ COMMITTED). Writers
--    of one board therefore compute, commit and NOTIFY one after another, and the
--    versions they announce rise in commit order.

create or replace function scoreboard.score_lock_key() returns bigint
language sql immutable parallel safe
as $$ select 7426001::bigint $$;

-- The start of the period of a board that an instant falls in (UTC periods).
create or replace function scoreboard.period_start(p_board text, p_at timestamptz)
returns timestamptz
language sql stable parallel safe
as $$
    select case p_board
        when 'all' then '-infinity'::timestamptz
        when 'week' then date_trunc('week', p_at, 'UTC')
        when 'day' then date_trunc('day', p_at, 'UTC')
    end
$$;

-- A board's leading learners in display order, banned learners left out.
create or replace function scoreboard.board_top(p_board text, p_period timestamptz, p_limit integer)
returns table (rank bigint, user_id text, display_name text, points bigint, reached_at timestamptz)
language sql stable
as $$
    select row_number() over (order by t.points desc, t.reached_at, t.user_id),
           t.user_id, l.display_name, t.points, t.reached_at
    from scoreboard.board_totals t
    join scoreboard.learners l on l.user_id = t.user_id
    where t.board = p_board and t.period_start = p_period
      and t.points > 0 and l.banned_at is null
    order by t.points desc, t.reached_at, t.user_id
    limit p_limit
$$;

-- The JSON every client sees: the same for GET /api/leaderboard, the stream and NOTIFY.
create or replace function scoreboard.board_json(b scoreboard.boards)
returns jsonb
language sql stable
as $$
    select jsonb_build_object(
        'board', b.board,
        'period_start', case when b.period_start = '-infinity' then null
                             else to_jsonb(b.period_start) end,
        'version', b.version,
        'entries', b.entries)
$$;

-- Whether a learner's new total may change a board's announced top 10.
create or replace function scoreboard.may_change_board(
    b scoreboard.boards, p_period timestamptz, p_user_id text,
    p_points bigint, p_reached_at timestamptz)
returns boolean
language sql stable
as $$
    select case
        when p_period < b.period_start then false
        when p_period > b.period_start then true
        when p_user_id = any (b.member_ids) then true
        when p_points <= 0 then false
        when b.cutoff_points is null then true
        else (p_points > b.cutoff_points)
          or (p_points = b.cutoff_points and p_reached_at < b.cutoff_reached_at)
          or (p_points = b.cutoff_points and p_reached_at = b.cutoff_reached_at
              and p_user_id < b.cutoff_user_id)
    end
$$;

-- Recomputes a board's top 10 under its row lock; if it changed, raises the version and
-- announces the new board. A period older than the board's current one is ignored.
create or replace function scoreboard.refresh_board_v1(p_board text, p_period timestamptz)
returns void
language plpgsql
as $$
declare
    b scoreboard.boards;
    top_entries jsonb;
    top_ids text[];
    cutoff record;
    payload text;
begin
    select * into b from scoreboard.boards where board = p_board for update;
    if p_period < b.period_start then
        return;
    end if;

    select coalesce(jsonb_agg(jsonb_build_object(
               'rank', t.rank, 'user_id', t.user_id,
               'display_name', t.display_name, 'points', t.points) order by t.rank), '[]'),
           coalesce(array_agg(t.user_id order by t.rank), '{}')
      into top_entries, top_ids
      from scoreboard.board_top(p_board, p_period, 10) t;
    if p_period = b.period_start and top_entries = b.entries then
        return;
    end if;

    select t.points, t.reached_at, t.user_id into cutoff
      from scoreboard.board_top(p_board, p_period, 10) t
     where t.rank = 10;
    update scoreboard.boards
       set period_start = p_period, version = version + 1, entries = top_entries,
           member_ids = top_ids, cutoff_points = cutoff.points,
           cutoff_reached_at = cutoff.reached_at, cutoff_user_id = cutoff.user_id,
           changed_at = now()
     where board = p_board
    returning * into b;

    payload := jsonb_build_object('type', 'leaderboard') || scoreboard.board_json(b);
    if octet_length(payload) > 7900 then
        -- Too big for NOTIFY: listeners re-read the board when entries are missing.
        payload := jsonb_build_object('type', 'leaderboard', 'board', b.board,
                                      'version', b.version);
    end if;
    perform pg_notify((select name from scoreboard.announcement_channel), payload);
end
$$;

-- Moves every board whose period has ended to the period of p_now, announcing each.
create or replace function scoreboard.roll_boards_v1(p_now timestamptz default now())
returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    b scoreboard.boards;
begin
    for b in select * from scoreboard.boards order by board loop
        if scoreboard.period_start(b.board, p_now) > b.period_start then
            perform scoreboard.refresh_board_v1(b.board, scoreboard.period_start(b.board, p_now));
        end if;
    end loop;
end
$$;
