-- Analysts' aggregates: points per learner per hour and per day, completions per lesson
-- per day. Continuous aggregates (with refresh policies) where the TimescaleDB licence is
-- 'timescale'; plain views with the same names and columns on the Apache build. Both
-- include the newest events (real-time aggregation on the licensed build). A lesson counts
-- once per learner, so completions of a lesson are also its distinct learners.
-- depends: 0006_total_versions
do $migration$
declare
    licensed boolean := current_setting('timescaledb.license', true) = 'timescale';
    aggregates text[][] := array[
        ['points_per_learner_hour',
         'select time_bucket(interval ''1 hour'', time) as bucket, user_id,
                 sum(points)::bigint as points, count(*) as events
            from scoreboard.score_events group by 1, 2'],
        ['points_per_learner_day',
         'select time_bucket(interval ''1 day'', time) as bucket, user_id,
                 sum(points)::bigint as points, count(*) as events
            from scoreboard.score_events group by 1, 2'],
        ['completions_per_lesson_day',
         'select time_bucket(interval ''1 day'', time) as bucket, lesson_id,
                 count(*) as completions, sum(points)::bigint as points
            from scoreboard.score_events where kind = ''completion'' group by 1, 2']];
    i integer;
begin
    for i in 1 .. array_length(aggregates, 1) loop
        if licensed then
            execute format('create materialized view scoreboard.%I
                            with (timescaledb.continuous, timescaledb.materialized_only = false)
                            as %s with no data', aggregates[i][1], aggregates[i][2]);
            perform add_continuous_aggregate_policy(
                format('scoreboard.%I', aggregates[i][1])::regclass,
                start_offset => interval '3 days', end_offset => interval '1 hour',
                schedule_interval => interval '15 minutes');
        else
            execute format('create view scoreboard.%I as %s', aggregates[i][1], aggregates[i][2]);
        end if;
    end loop;
end
$migration$;
