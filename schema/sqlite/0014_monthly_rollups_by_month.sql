-- Issue 14: the SLA report reads one month's rows of every service (1,000 of them) by month;
-- without an index on the month SQLite read every stored month's rows (13 months kept with
-- the default retention: 5.7 ms where the index takes 1.4 ms). PostgreSQL has had one since
-- 0006 (monthly_rollups_day_idx, copied from daily_rollups).
CREATE INDEX monthly_rollups_day ON monthly_rollups (day);
