-- The channel the boards are announced on, named with a random secret. NOTIFY needs no
-- privilege at all: any role that can connect could otherwise announce a forged board to
-- every browser. Only the schema owner (whose functions announce) and scoreboard_app
-- (whose listener LISTENs) may read the name; see sql/090_roles.sql.
-- depends: 0009_banned_learners_index
create table scoreboard.announcement_channel (
    name text primary key check (name ~ '^scoreboard_[0-9a-f]{32}$')
);
create unique index announcement_channel_one_row on scoreboard.announcement_channel ((true));
revoke all on scoreboard.announcement_channel from public;
insert into scoreboard.announcement_channel (name)
values ('scoreboard_' || replace(gen_random_uuid()::text, '-', ''));
