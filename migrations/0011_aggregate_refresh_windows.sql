-- Licensed build only: refresh windows that reach the latest a completion may arrive.
-- completed_at may be up to 72 hours old (SCOREBOARD_COMPLETED_AT_MAX_AGE_HOURS), and a
-- policy refreshes only the buckets wholly inside its window; with the 3 days of 0007, an
-- event sent 2 to 3 days late could land in a day bucket that no refresh covers again.
-- The window now starts 72 hours plus one bucket plus one schedule interval back, rounded
-- up. On the Apache build the aggregates are views and there is nothing to change.
-- depends: 0010_announcement_channel
do $migration$
declare
    windows text[][] := array[
        ['points_per_learner_hour', '4 days'],
        ['points_per_learner_day', '5 days'],
        ['completions_per_lesson_day', '5 days']];
    i integer;
begin
    if current_setting('timescaledb.license', true) is distinct from 'timescale' then
        return;
    end if;
    for i in 1 .. array_length(windows, 1) loop
        perform remove_continuous_aggregate_policy(
            format('scoreboard.%I', windows[i][1])::regclass, if_exists => true);
        perform add_continuous_aggregate_policy(
            format('scoreboard.%I', windows[i][1])::regclass,
            start_offset => windows[i][2]::interval, end_offset => interval '1 hour',
            schedule_interval => interval '15 minutes');
    end loop;
end
$migration$;
