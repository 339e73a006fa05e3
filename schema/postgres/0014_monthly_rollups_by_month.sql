-- Issue 14: the SLA report reads one month's rows of every service by month. PostgreSQL has
-- had this index since 0006 (copied from daily_rollups by LIKE ... INCLUDING ALL); named here
-- so both backends' schemas say so (SQLite gets it in its 0014).
CREATE INDEX IF NOT EXISTS monthly_rollups_day_idx ON monthly_rollups (day);
