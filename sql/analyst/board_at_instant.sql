-- The board at an instant: the all-time top 10 as it stood yesterday at 18:00 UTC,
-- computed from the events (change the instant or the board, 'all', 'week' or 'day', as
-- needed). Columns: rank, user_id, display_name, points.
select rank, user_id, display_name, points
  from scoreboard.board_at_v1(
           'all', date_trunc('day', now(), 'UTC') - interval '1 day' + interval '18 hours', 10);
