-- Operator actions that the service exposes to admin tokens.

-- Adds a lesson to the catalog or changes its title and points. Points already earned
-- keep their value: events are never rewritten.
create or replace function scoreboard.upsert_lesson_v1(p_lesson_id text, p_title text, p_points integer)
returns scoreboard.lessons
language sql
as $$
    insert into scoreboard.lessons as l (lesson_id, title, points)
    values (p_lesson_id, p_title, p_points)
    on conflict (lesson_id) do update
       set title = excluded.title, points = excluded.points, updated_at = now()
    returning l.*
$$;
