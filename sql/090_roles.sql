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

revoke all on all functions in schema scoreboard from public;
grant execute on all functions in schema scoreboard to scoreboard_analyst, scoreboard_app;
-- Functions that write are the app's only, and only these.
revoke execute on function
    scoreboard.record_completion_v2(uuid, text, text, text, timestamptz, text, text, integer),
    scoreboard.record_correction_v1(uuid, text, integer, text, text, text),
    scoreboard.set_ban_v1(text, boolean, text, text),
    scoreboard.store_completion_rank_v1(uuid, bigint),
    scoreboard.upsert_lesson_v1(text, text, integer),
    scoreboard.roll_boards_v1(timestamptz),
    scoreboard.refresh_board_v1(text, timestamptz),
    scoreboard.ensure_learner_v1(text, text),
    scoreboard.apply_score_event_v1()
from scoreboard_analyst;
revoke execute on function
    scoreboard.refresh_board_v1(text, timestamptz),
    scoreboard.ensure_learner_v1(text, text),
    scoreboard.apply_score_event_v1()
from scoreboard_app;
