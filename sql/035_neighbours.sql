-- The learners just ahead of and just behind a learner on a board, nearest first.
-- Each side is two index ranges (same points, then more or fewer points), so the cost
-- does not grow with the board.
create or replace function scoreboard.neighbours_v1(
    p_board text, p_period timestamptz, p_user_id text, p_count integer)
returns table (side text, distance bigint, user_id text, display_name text, points bigint)
language plpgsql stable
as $$
declare
    me scoreboard.board_totals;
begin
    select * into me from scoreboard.board_totals t
     where t.board = p_board and t.period_start = p_period and t.user_id = p_user_id;
    if not found then
        return;
    end if;
    return query
    select 'above', row_number() over (order by a.points, a.reached_at desc, a.user_id desc),
           a.user_id, a.display_name, a.points
      from (
        (select t.user_id, l.display_name, t.points, t.reached_at
           from scoreboard.board_totals t
           join scoreboard.learners l on l.user_id = t.user_id and l.banned_at is null
          where t.board = p_board and t.period_start = p_period and t.points = me.points
            and (t.reached_at, t.user_id) < (me.reached_at, me.user_id)
          order by t.reached_at desc, t.user_id desc
          limit p_count)
        union all
        (select t.user_id, l.display_name, t.points, t.reached_at
           from scoreboard.board_totals t
           join scoreboard.learners l on l.user_id = t.user_id and l.banned_at is null
          where t.board = p_board and t.period_start = p_period and t.points > me.points
          order by t.points, t.reached_at desc, t.user_id desc
          limit p_count)
      ) a
     order by a.points, a.reached_at desc, a.user_id desc
     limit p_count;
    return query
    select 'below', row_number() over (order by b.points desc, b.reached_at, b.user_id),
           b.user_id, b.display_name, b.points
      from (
        (select t.user_id, l.display_name, t.points, t.reached_at
           from scoreboard.board_totals t
           join scoreboard.learners l on l.user_id = t.user_id and l.banned_at is null
          where t.board = p_board and t.period_start = p_period and t.points = me.points
            and (t.reached_at, t.user_id) > (me.reached_at, me.user_id)
          order by t.reached_at, t.user_id
          limit p_count)
        union all
        (select t.user_id, l.display_name, t.points, t.reached_at
           from scoreboard.board_totals t
           join scoreboard.learners l on l.user_id = t.user_id and l.banned_at is null
          where t.board = p_board and t.period_start = p_period
            and t.points < me.points and t.points > 0
          order by t.points desc, t.reached_at, t.user_id
          limit p_count)
      ) b
     order by b.points desc, b.reached_at, b.user_id
     limit p_count;
end
$$;
