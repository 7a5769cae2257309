-- Named queries of the service, read by app/queries.py. Each starts with "-- name: x".

-- name: record_completion
select outcome, points, total, rank, ties_before, totals::text
  from scoreboard.record_completion_v2($1, $2, $3, $4, $5, $6, $7, $8);

-- name: store_completion_rank
-- The rank stored for a completion: this one, unless another was stored first (0: none).
select scoreboard.store_completion_rank_v2($1, $2);

-- name: rank_of
-- A learner's rank counted in SQL: the fallback while the rank cache is not ready.
select scoreboard.rank_of($1, $2::text::timestamptz, $3);

-- name: record_correction
select outcome, total from scoreboard.record_correction_v1($1, $2, $3, $4, $5, $6);

-- name: set_ban
select scoreboard.set_ban_v1($1, $2, $3, $4);

-- name: board_page
-- A board down to $2 places, in the shape of the announced board, for its current period
-- (the listener rolls day and week boards over at their boundaries).
select (scoreboard.board_json(b) || jsonb_build_object(
           'entries', coalesce((
               select jsonb_agg(jsonb_build_object(
                          'rank', t.rank, 'user_id', t.user_id,
                          'display_name', t.display_name, 'points', t.points) order by t.rank)
                 from scoreboard.board_top(b.board, b.period_start, $2) t), '[]')))::text
  from scoreboard.boards b
 where b.board = $1;

-- name: all_boards
select scoreboard.board_json(b)::text from scoreboard.boards b order by b.board;

-- name: roll_boards
select scoreboard.roll_boards_v1();

-- name: upsert_lesson
select lesson_id, title, points from scoreboard.upsert_lesson_v1($1, $2, $3);

-- name: ping
select 1;

-- name: announcement_channel
select name from scoreboard.announcement_channel;

-- name: learner_totals
select scoreboard.learner_totals_v1($1, now())::text;

-- name: rank_cache_rows
-- Every ranked total of one board and period, to rebuild the rank cache.
select t.user_id, t.points, floor(extract(epoch from t.reached_at))::bigint as reached_at,
       t.version
  from scoreboard.board_totals t
  join scoreboard.learners l on l.user_id = t.user_id and l.banned_at is null
 where t.board = $1 and t.period_start = $2::text::timestamptz and t.points > 0;

-- name: rank_parts
-- What a rank needs from PostgreSQL: the learner's total, the second it was reached and
-- the same-second ties ahead (none of it for a banned learner).
select t.points, floor(extract(epoch from t.reached_at))::bigint as reached_at,
       scoreboard.ties_before($1, $2::text::timestamptz, $3) as ties_before
  from scoreboard.board_totals t
  join scoreboard.learners l on l.user_id = t.user_id and l.banned_at is null
 where t.board = $1 and t.period_start = $2::text::timestamptz and t.user_id = $3
   and t.points > 0;

-- name: learner_on_board
-- The board's current period and version, and the learner's name and points there.
select b.period_start::text as period_key, scoreboard.board_json(b)->>'period_start' as period_start,
       b.version,
       (select l.display_name from scoreboard.learners l where l.user_id = $2) as display_name,
       (select t.points from scoreboard.board_totals t
         where t.board = b.board and t.period_start = b.period_start and t.user_id = $2)
           as points
  from scoreboard.boards b
 where b.board = $1;

-- name: neighbours
select side, distance, user_id, display_name, points
  from scoreboard.neighbours_v1($1, $2::text::timestamptz, $3, $4);
