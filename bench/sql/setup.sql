-- A hypertable shaped like score_events, without the scoring trigger: pgbench's reference.
create schema if not exists bench;
create table bench.plain_events (like scoreboard.score_events including all);
do $$ begin
    perform create_hypertable('bench.plain_events', by_range('time', interval '7 days'));
end $$;
create index on bench.plain_events (user_id, time desc);
