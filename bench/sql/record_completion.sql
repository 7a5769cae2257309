-- pgbench: the whole scoring path in the database, learners drawn uniformly.
\set learner random(1, 100000)
\set lesson random(0, 4999)
select scoreboard.record_completion_v2(gen_random_uuid(), 'u' || :learner, null, 'b' || :lesson,
                                       now(), 'bench', 'bench', 1000000000);
