-- The scoring path: a completion becomes a score event; the event's trigger keeps the
-- totals of every board exact and refreshes the boards it may change, all in the
-- transaction that records the completion.

-- Applies one score event to the totals of every board (see 010_boards.sql) and to the
-- points of its UTC day (see migration 0008).
create or replace function scoreboard.apply_score_event_v1()
returns trigger
language plpgsql
as $$
declare
    board_name text;
    b scoreboard.boards;
    period timestamptz;
    new_points bigint;
    new_reached_at timestamptz;
    is_banned boolean;
begin
    if new.points < 0 then
        perform pg_advisory_xact_lock(scoreboard.score_lock_key());
    else
        perform pg_advisory_xact_lock_shared(scoreboard.score_lock_key());
    end if;

    select l.banned_at is not null into is_banned
      from scoreboard.learners l where l.user_id = new.user_id;

    insert into scoreboard.points_per_day_slots as s (day, slot, points, events)
    values ((new.time at time zone 'UTC')::date, pg_backend_pid() % 64, new.points, 1)
    on conflict (day, slot) do update
       set points = s.points + excluded.points, events = s.events + 1;

    -- By name, the order in which every function takes the boards' row locks (roll_boards_v1,
    -- set_ban_v1), so that no two of them can deadlock.
    foreach board_name in array array['all', 'day', 'week'] loop
        period := scoreboard.period_start(board_name, new.time);
        insert into scoreboard.board_totals as t
               (board, period_start, user_id, points, reached_at)
        values (board_name, period, new.user_id, new.points, new.time)
        on conflict (board, period_start, user_id) do update
           set points = t.points + excluded.points,
               reached_at = greatest(t.reached_at, excluded.reached_at),
               version = t.version + 1
        returning t.points, t.reached_at into new_points, new_reached_at;

        select * into b from scoreboard.boards where boards.board = board_name;
        if not coalesce(is_banned, false)
           and scoreboard.may_change_board(b, period, new.user_id, new_points, new_reached_at) then
            perform scoreboard.refresh_board_v1(board_name, period);
        end if;
    end loop;
    return null;
end
$$;

create or replace trigger score_events_apply
    after insert on scoreboard.score_events
    for each row execute function scoreboard.apply_score_event_v1();

-- A learner's place on a board: 1 + the learners ordered before them, banned left out.
create or replace function scoreboard.rank_of(p_board text, p_period timestamptz, p_user_id text)
returns bigint
language sql stable
as $$
    select case when me.points > 0 and l.banned_at is null then 1 + (
        select count(*)
          from scoreboard.board_totals t
          join scoreboard.learners o on o.user_id = t.user_id and o.banned_at is null
         where t.board = p_board and t.period_start = p_period
           and (t.points, me.reached_at, me.user_id) > (me.points, t.reached_at, t.user_id))
    end
      from scoreboard.board_totals me
      join scoreboard.learners l on l.user_id = me.user_id
     where me.board = p_board and me.period_start = p_period and me.user_id = p_user_id
$$;

-- The totals a learner has on the boards an instant falls in, with their versions: what
-- the service hands to its rank cache after commit. Banned learners' totals have no rank.
-- In plpgsql, so that each session plans the query once (an SQL function that cannot be
-- inlined is planned at every call: most of its cost here).
create or replace function scoreboard.learner_totals_v1(p_user_id text, p_at timestamptz)
returns jsonb
language plpgsql stable
as $$
begin
    return (
        select coalesce(jsonb_agg(jsonb_build_object(
                   'board', t.board, 'period_start', t.period_start, 'points', t.points,
                   'reached_at', floor(extract(epoch from t.reached_at))::bigint,
                   'version', t.version, 'ranked', l.banned_at is null)), '[]')
          from scoreboard.board_totals t
          join scoreboard.learners l on l.user_id = t.user_id
         where t.user_id = p_user_id
           and (t.board, t.period_start) in (
                   ('all', '-infinity'),
                   ('week', scoreboard.period_start('week', p_at)),
                   ('day', scoreboard.period_start('day', p_at))));
end
$$;

-- The learners ordered before a learner whom the rank cache cannot tell apart from them:
-- same points, reached within the same second but earlier (or at once, with a smaller
-- user id). The cache orders by points and by the second a total was reached. Under load
-- hundreds of learners may tie so, so they are counted from the order index alone and the
-- banned among them (few, by their own index) are taken off after.
create or replace function scoreboard.ties_before(p_board text, p_period timestamptz,
                                                  p_user_id text)
returns bigint
language plpgsql stable
as $$
declare
    me scoreboard.board_totals;
    tied bigint;
begin
    select * into me from scoreboard.board_totals t
     where t.board = p_board and t.period_start = p_period and t.user_id = p_user_id;
    select count(*) into tied
      from scoreboard.board_totals t
     where t.board = p_board and t.period_start = p_period and t.points = me.points
       and t.reached_at >= date_trunc('second', me.reached_at)
       and (t.reached_at, t.user_id) < (me.reached_at, me.user_id);
    if tied > 0 and exists (select from scoreboard.learners o where o.banned_at is not null) then
        tied := tied - (
            select count(*)
              from scoreboard.learners o
              join scoreboard.board_totals t
                on t.board = p_board and t.period_start = p_period and t.user_id = o.user_id
             where o.banned_at is not null and t.points = me.points
               and t.reached_at >= date_trunc('second', me.reached_at)
               and (t.reached_at, t.user_id) < (me.reached_at, me.user_id));
    end if;
    return tied;
end
$$;

-- Stores the rank answered for a completion, so that a replay answers the same body.
-- Called by the previous release only (inside its recording transaction); kept so that its
-- processes go on working while a deploy replaces them. This release calls v2 below.
create or replace function scoreboard.store_completion_rank_v1(p_completion_id uuid, p_rank bigint)
returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
    update scoreboard.completions set rank = p_rank where completion_id = p_completion_id;
end
$$;

-- Stores the rank answered for a completion unless one is stored already, and returns the
-- stored one: a request and its replay, each counting a rank after the completion was
-- committed, answer the same rank whichever stores first. A learner without a rank (banned)
-- is stored as 0, so that "counted, none" differs from "not counted yet" (null).
create or replace function scoreboard.store_completion_rank_v2(p_completion_id uuid, p_rank bigint)
returns bigint
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    stored bigint;
begin
    update scoreboard.completions set rank = coalesce(p_rank, 0)
     where completion_id = p_completion_id and rank is null
    returning rank into stored;
    if not found then
        select c.rank into stored from scoreboard.completions c
         where c.completion_id = p_completion_id;
    end if;
    return stored;
end
$$;

-- Creates the learner, or updates the display name when a new one is given.
create or replace function scoreboard.ensure_learner_v1(p_user_id text, p_display_name text)
returns void
language plpgsql
as $$
declare
    current_name text;
begin
    select display_name into current_name from scoreboard.learners where user_id = p_user_id;
    if not found then
        insert into scoreboard.learners (user_id, display_name)
        values (p_user_id, coalesce(p_display_name, p_user_id))
        on conflict (user_id) do nothing;
    elsif p_display_name is not null and p_display_name <> current_name then
        update scoreboard.learners set display_name = p_display_name where user_id = p_user_id;
    end if;
end
$$;

-- Records a completion once. Outcome: 'recorded', 'replayed' (the same request again:
-- the first answer), 'conflicting_request' (the same completion_id with another body),
-- 'already_completed' (this learner has this lesson), 'unknown_lesson', or
-- 'over_hourly_cap' (more points within an hour than a learner can plausibly earn).
-- Completions of one learner run one at a time (a per-learner lock), which makes the
-- checks exact under concurrent duplicates. A recorded completion also returns how many
-- learners with equal points rank before this one and the learner's totals with their
-- versions; the caller commits, adds the learners with more points (from its rank cache)
-- and stores the rank with store_completion_rank_v2.
create or replace function scoreboard.record_completion_v2(
    p_completion_id uuid, p_user_id text, p_display_name text, p_lesson_id text,
    p_completed_at timestamptz, p_request_digest text, p_actor text,
    p_max_points_per_hour integer)
returns table (outcome text, points integer, total bigint, rank bigint, ties_before bigint,
               totals jsonb)
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
    lesson_points integer;
    earlier scoreboard.completions;
    recent_points bigint;
begin
    select l.points into lesson_points from scoreboard.lessons l where l.lesson_id = p_lesson_id;
    if not found then
        return query select 'unknown_lesson', null::integer, null::bigint, null::bigint, null::bigint,
                            null::jsonb;
        return;
    end if;
    perform pg_advisory_xact_lock(7426, hashtext(p_user_id));

    select c.* into earlier from scoreboard.completions c where c.completion_id = p_completion_id;
    if found then
        return query select case when earlier.request_digest = p_request_digest
                                 then 'replayed' else 'conflicting_request' end,
                            earlier.points, earlier.total, earlier.rank, null::bigint,
                            null::jsonb;
        return;
    end if;
    if exists (select from scoreboard.completions c
                where c.user_id = p_user_id and c.lesson_id = p_lesson_id) then
        return query select 'already_completed', null::integer, null::bigint, null::bigint,
                            null::bigint, null::jsonb;
        return;
    end if;
    select coalesce(sum(c.points), 0) into recent_points
      from scoreboard.completions c
     where c.user_id = p_user_id and c.recorded_at > now() - interval '1 hour';
    if recent_points + lesson_points > p_max_points_per_hour then
        return query select 'over_hourly_cap', lesson_points, recent_points, null::bigint,
                            null::bigint, null::jsonb;
        return;
    end if;

    perform scoreboard.ensure_learner_v1(p_user_id, p_display_name);
    insert into scoreboard.completions as c
           (completion_id, user_id, lesson_id, completed_at, request_digest, points)
    values (p_completion_id, p_user_id, p_lesson_id, p_completed_at, p_request_digest,
            lesson_points)
    on conflict (completion_id) do nothing;
    if not found then
        -- Another learner's request with this completion_id committed first.
        return query select 'conflicting_request', null::integer, null::bigint, null::bigint,
                            null::bigint, null::jsonb;
        return;
    end if;

    insert into scoreboard.score_events
           (time, user_id, lesson_id, points, kind, completion_id, actor)
    values (p_completed_at, p_user_id, p_lesson_id, lesson_points, 'completion',
            p_completion_id, p_actor);
    -- The rank is stored by the caller (store_rank) once it has counted who is ahead.
    update scoreboard.completions c
       set total = t.points
      from scoreboard.board_totals t
     where c.completion_id = p_completion_id
       and t.board = 'all' and t.period_start = '-infinity' and t.user_id = p_user_id
    returning 'recorded', c.points, c.total
      into outcome, points, total;
    ties_before := scoreboard.ties_before('all', '-infinity', p_user_id);
    totals := scoreboard.learner_totals_v1(p_user_id, p_completed_at);
    return next;
end
$$;
