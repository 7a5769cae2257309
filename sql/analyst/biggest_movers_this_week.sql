-- This week's biggest movers: the learners who climbed the most places on the all-time
-- board since this ISO week began (Monday 00:00 UTC). A learner new to the board this week
-- counts as climbing from just below its last place then.
-- Columns: user_id, display_name, rank_then, rank_now, places_gained.
with week_start as (
    select scoreboard.period_start('week', now()) as at
), then_board as (
    select b.user_id, b.rank from week_start, scoreboard.board_at_v1('all', week_start.at, 1000000) b
), now_board as (
    select b.user_id, b.display_name, b.rank from scoreboard.board_at_v1('all', now(), 1000000) b
)
select n.user_id, n.display_name,
       t.rank as rank_then, n.rank as rank_now,
       coalesce(t.rank, (select count(*) + 1 from then_board)) - n.rank as places_gained
  from now_board n
  left join then_board t on t.user_id = n.user_id
 order by places_gained desc, n.rank
 limit 10;
