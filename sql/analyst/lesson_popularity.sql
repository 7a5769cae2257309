-- Lesson popularity: completions of each lesson over the last 30 days, most completed
-- first (a lesson counts once per learner, so completions are also learners).
-- Columns: lesson_id, title, completions, points_awarded.
select c.lesson_id, l.title, sum(c.completions) as completions, sum(c.points) as points_awarded
  from scoreboard.completions_per_lesson_day c
  join scoreboard.lessons l on l.lesson_id = c.lesson_id
 where c.bucket >= date_trunc('day', now(), 'UTC') - interval '29 days'
 group by c.lesson_id, l.title
 order by completions desc, c.lesson_id;
