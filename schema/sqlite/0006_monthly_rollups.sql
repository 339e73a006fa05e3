-- Monthly rollups (day = the month's first day, UTC), maintained with the daily and hourly
-- ones. A calendar-month SLA report for 1,000 services then reads 1,000 rows instead of
-- merging 31,000 daily latency histograms.
CREATE TABLE monthly_rollups AS SELECT * FROM daily_rollups WHERE 0 = 1;
CREATE UNIQUE INDEX monthly_rollups_key ON monthly_rollups (service_id, day);
