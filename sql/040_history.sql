-- Boards and ranks as they stood at a past instant, computed from the events alone.
-- An event counts from its time (when the lesson was completed); learners banned now are
-- left out, since bans keep no history.

-- A board's top N as it stood at p_at: the same order as the live boards.
create or replace function scoreboard.board_at_v1(p_board text, p_at timestamptz,
                                                  p_limit integer default 10)
returns table (rank bigint, user_id text, display_name text, points bigint)
language sql stable
as $$
    select row_number() over (order by sum(e.points) desc, max(e.time), e.user_id),
           e.user_id, l.display_name, sum(e.points)::bigint
      from scoreboard.score_events e
      join scoreboard.learners l on l.user_id = e.user_id and l.banned_at is null
     where e.time <= p_at and e.time >= scoreboard.period_start(p_board, p_at)
     group by e.user_id, l.display_name
    having sum(e.points) > 0
     order by 1
     limit p_limit
$$;

-- A learner's points and rank on a board at the end of each step from p_from to p_to.
create or replace function scoreboard.rank_history_v1(
    p_user_id text, p_board text, p_from timestamptz, p_to timestamptz,
    p_step interval default interval '1 day')
returns table (at timestamptz, points bigint, rank bigint)
language sql stable
as $$
    select steps.at, standing.points, standing.rank
      from generate_series(p_from, p_to, p_step) as steps(at)
      left join lateral (
          select totals.points, totals.rank
            from (select e.user_id, sum(e.points)::bigint as points,
                         row_number() over (order by sum(e.points) desc, max(e.time),
                                            e.user_id) as rank
                    from scoreboard.score_events e
                    join scoreboard.learners l on l.user_id = e.user_id
                                               and l.banned_at is null
                   where e.time <= steps.at
                     and e.time >= scoreboard.period_start(p_board, steps.at)
                   group by e.user_id
                  having sum(e.points) > 0) totals
           where totals.user_id = p_user_id) standing on true
     order by steps.at
$$;
