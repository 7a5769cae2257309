-- The banned learners, few, found without a scan of every learner: a rank's same-second
-- ties are counted from the board's order index alone, then the banned among them are
-- taken off (see scoreboard.ties_before in sql/020_scoring.sql).
-- depends: 0008_points_per_day
create index learners_banned on scoreboard.learners (user_id) where banned_at is not null;
