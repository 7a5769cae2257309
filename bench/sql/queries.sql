-- Named queries of the benchmarks, read with app.queries.parse_queries.

-- name: seed_leaders
-- Ten learners who lead every board today, far above the simulated learners.
insert into scoreboard.lessons values ('seed', 'Established lead', 10000);
select scoreboard.record_completion_v2(gen_random_uuid(), 'leader-' || i, null, 'seed', now(),
                                       'seed', 'bench', 1000000000)
  from generate_series(1, 10) i;

-- name: rank_learners
insert into scoreboard.learners (user_id, display_name)
select 'u' || i, 'Learner ' || i from generate_series(1, %(learners)s) i;

-- name: rank_totals
-- Random all-time totals, with the time each learner reached theirs.
insert into scoreboard.board_totals
select 'all', '-infinity', 'u' || i, (random() * 50000)::int,
       now() - random() * interval '90 days'
  from generate_series(1, %(learners)s) i;

-- name: rank_of_sql
-- The rank counted in SQL alone, to check the service's answers.
select scoreboard.rank_of('all', '-infinity', $1);

-- name: daily_events
-- 90 days of completions: each learner is active on a day with probability 0.2 and then
-- completes up to three lessons. Loaded with the scoring trigger off (replica role).
insert into scoreboard.score_events (time, user_id, lesson_id, points, kind, completion_id, actor)
select date_trunc('day', now()) - d * interval '1 day' + random() * interval '1 day',
       'u' || l, 'b' || e, 1 + (random() * 9)::int, 'completion', gen_random_uuid(), 'u' || l
  from generate_series(1, 90) d, generate_series(1, %(learners)s) l, generate_series(1, 3) e
 where random() < 0.2;

-- name: daily_totals
-- What the scoring trigger would have kept: points per learner per UTC day, and points per
-- UTC day in all 64 slots (as many sessions as slots, the most rows a day can have).
insert into scoreboard.board_totals
select 'day', date_trunc('day', time, 'UTC'), user_id, sum(points), max(time)
  from scoreboard.score_events
 group by 2, 3;
insert into scoreboard.points_per_day_slots (day, slot, points, events)
select (time at time zone 'UTC')::date, hashtext(user_id) & 63, sum(points), count(*)
  from scoreboard.score_events
 group by 1, 2;

-- name: daily_from_raw
select time_bucket('1 day', time) as day, sum(points)
  from scoreboard.score_events
 where time >= now() - interval '90 days'
 group by 1 order by 1;

-- name: daily_from_aggregate
select day, points
  from scoreboard.points_per_day
 where day >= (now() at time zone 'UTC')::date - 90
 order by day;

-- name: probe_completion
-- A completion of the learner `probe`, committed on its own (autocommit).
select outcome
  from scoreboard.record_completion_v2($1, 'probe', null, $2, now(), 'probe', 'probe',
                                       1000000000);
