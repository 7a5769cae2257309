-- pgbench reference: one-row INSERTs into a hypertable shaped like score_events, no trigger.
\set learner random(1, 2000)
insert into bench.plain_events (time, user_id, lesson_id, points, kind, completion_id, actor)
values (now(), 'u' || :learner, 'b1', 1, 'completion', gen_random_uuid(), 'bench');
