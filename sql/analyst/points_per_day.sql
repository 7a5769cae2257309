-- Points per day: all points earned on each UTC day of the last 30 days, corrections
-- included, and how many learners earned or lost points that day.
-- Columns: day, points, learners.
select bucket as day, sum(points) as points, count(*) as learners
  from scoreboard.points_per_learner_day
 where bucket >= date_trunc('day', now(), 'UTC') - interval '29 days'
 group by bucket
 order by bucket;
