-- Database roles. The service runs as scoreboard_app: it reads everything and changes
-- scores only through the functions above, so it cannot update or delete an event nor
-- write a total. Analysts get scoreboard_analyst: read-only. Both are group roles
-- without login; grant them to login roles of your own.
do $$
begin
    if not exists (select from pg_roles where rolname = 'scoreboard_app') then
        create role scoreboard_app nologin;
    end if;
    if not exists (select from pg_roles where rolname = 'scoreboard_analyst') then
        create role scoreboard_analyst nologin;
    end if;
end
$$;

grant usage on schema scoreboard to scoreboard_app, scoreboard_analyst;
revoke all on all tables in schema scoreboard from scoreboard_app, scoreboard_analyst;
grant select on all tables in schema scoreboard to scoreboard_app, scoreboard_analyst;
-- The announcement channel's name is a secret of the announcers and the listener.
revoke select on scoreboard.announcement_channel from scoreboard_analyst;

-- Functions that are not security definer run with the caller's own rights, so both roles
-- may call them: they can do no more than the caller could. Security-definer functions
-- act as the schema owner: the analyst may call none of them (whatever version a later
-- deploy adds), the app only those named here (store_completion_rank_v1: the previous
-- release's, while a deploy replaces its processes).
revoke all on all functions in schema scoreboard from public;
grant execute on all functions in schema scoreboard to scoreboard_analyst, scoreboard_app;
do $$
declare
    f record;
begin
    for f in
        select p.oid::regprocedure as signature, p.proname
          from pg_proc p
         where p.pronamespace = 'scoreboard'::regnamespace and p.prosecdef
    loop
        execute format('revoke execute on function %s from scoreboard_analyst', f.signature);
        if f.proname <> all (array['record_completion_v2', 'store_completion_rank_v1',
                                   'store_completion_rank_v2',
                                   'record_correction_v1', 'set_ban_v1', 'upsert_lesson_v1',
                                   'roll_boards_v1']) then
            execute format('revoke execute on function %s from scoreboard_app', f.signature);
        end if;
    end loop;
end
$$;
