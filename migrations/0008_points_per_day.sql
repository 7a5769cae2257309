-- Points per UTC day, kept exact by the scoring trigger so that "points per day" needs no
-- scan of the events, on either TimescaleDB licence. One row per day would make every
-- completion wait for the one before it; so each day has up to 64 slots, and a database
-- session adds to the slot of its own backend (pg_backend_pid() % 64): concurrent
-- completions rarely share a row. A day's points are the sum of its slots.
-- depends: 0007_analyst_aggregates
create table scoreboard.points_per_day_slots (
    day date not null,
    slot smallint not null check (slot between 0 and 63),
    points bigint not null,
    events bigint not null,
    primary key (day, slot)
);

-- Events recorded before this migration, all in slot 0.
insert into scoreboard.points_per_day_slots (day, slot, points, events)
select (time at time zone 'UTC')::date, 0, sum(points), count(*)
  from scoreboard.score_events
 group by 1;

create view scoreboard.points_per_day as
select day, sum(points)::bigint as points, sum(events)::bigint as events
  from scoreboard.points_per_day_slots
 group by day;
