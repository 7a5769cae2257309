-- Operator actions that the service exposes to admin tokens. Each runs as the schema's
-- owner (security definer), so the service's own role needs no write grant on any table.

-- Adds a lesson to the catalog or changes its title and points. Points already earned
-- keep their value: events are never rewritten.
create or replace function scoreboard.upsert_lesson_v1(p_lesson_id text, p_title text, p_points integer)
returns scoreboard.lessons
language sql
security definer
set search_path = pg_catalog, pg_temp
as $$
    insert into scoreboard.lessons as l (lesson_id, title, points)
    values (p_lesson_id, p_title, p_points)
    on conflict (lesson_id) do update
       set title = excluded.title, points = excluded.points, updated_at = now()
    returning l.*
$$;

-- Files a signed compensating event for a learner, once per correction_id. Outcome:
-- 'recorded', 'replayed', 'conflicting_request' or 'unknown_learner'.
create or replace function scoreboard.record_correction_v1(
    p_correction_id uuid, p_user_id text, p_points integer, p_reason text, p_actor text,
    p_request_digest text)
returns table (outcome text, total bigint)
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
    earlier scoreboard.corrections;
begin
    perform pg_advisory_xact_lock(7426, hashtext(p_user_id));
    select c.* into earlier from scoreboard.corrections c where c.correction_id = p_correction_id;
    if found then
        return query select case when earlier.request_digest = p_request_digest
                                 then 'replayed' else 'conflicting_request' end, earlier.total;
        return;
    end if;
    if not exists (select from scoreboard.learners l where l.user_id = p_user_id) then
        return query select 'unknown_learner', null::bigint;
        return;
    end if;

    insert into scoreboard.corrections (correction_id, user_id, points, reason, actor,
                                        request_digest)
    values (p_correction_id, p_user_id, p_points, p_reason, p_actor, p_request_digest)
    on conflict (correction_id) do nothing;
    if not found then
        return query select 'conflicting_request', null::bigint;
        return;
    end if;
    insert into scoreboard.score_events (time, user_id, points, kind, actor, reason)
    values (now(), p_user_id, p_points, 'correction', p_actor, p_reason);
    update scoreboard.corrections c
       set total = t.points
      from scoreboard.board_totals t
     where c.correction_id = p_correction_id
       and t.board = 'all' and t.period_start = '-infinity' and t.user_id = p_user_id
    returning 'recorded', c.total into outcome, total;
    return next;
end
$$;

-- Bans (p_banned) or unbans a learner: they leave, or return to, every board at once, and
-- each changed board is announced. Returns false for an unknown learner.
create or replace function scoreboard.set_ban_v1(
    p_user_id text, p_banned boolean, p_actor text, p_reason text)
returns boolean
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    b scoreboard.boards;
begin
    -- Exclusive: no writer may decide on a board while a learner leaves or returns.
    perform pg_advisory_xact_lock(scoreboard.score_lock_key());
    update scoreboard.learners
       set banned_at = case when p_banned then coalesce(banned_at, now()) end,
           banned_by = case when p_banned then p_actor end,
           ban_reason = case when p_banned then p_reason end
     where user_id = p_user_id;
    if not found then
        return false;
    end if;
    for b in select * from scoreboard.boards order by board loop
        perform scoreboard.refresh_board_v1(b.board, b.period_start);
    end loop;
    return true;
end
$$;
