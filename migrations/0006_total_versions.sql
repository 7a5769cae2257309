-- Each total carries a version that rises at every change, so that a rank cache fed
-- after commit can tell a newer total from an older one arriving late.
-- depends: 0005_corrections_and_bans
alter table scoreboard.board_totals add column version bigint not null default 1;
