-- Daily active learners: how many learners completed at least one lesson on each UTC day
-- of the last 7 days (today included). Days without any completion are left out.
-- Columns: day (start of the UTC day), active_learners.
select time_bucket(interval '1 day', time) as day,
       count(distinct user_id) as active_learners
  from scoreboard.score_events
 where kind = 'completion'
   and time >= date_trunc('day', now(), 'UTC') - interval '6 days'
 group by 1
 order by 1;
