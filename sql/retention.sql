-- Retention: drops the raw score events older than 30 days, whole chunks at a time.
-- Totals, the live boards and the all-time board are kept in their own tables and do not
-- change; what is lost is the detail before the cut: board_at_v1, rank_history_v1 and
-- the analysts' aggregates (plain views on the Apache build) no longer see those events.
-- Run it as the schema owner, e.g. daily from cron: psql "$URL" -f sql/retention.sql
-- On the Timescale-licensed build, add_retention_policy does the same on a schedule.
select drop_chunks('scoreboard.score_events', older_than => now() - interval '30 days');
