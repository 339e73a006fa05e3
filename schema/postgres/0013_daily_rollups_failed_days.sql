-- Issue 14: the days with a failed check, by day. A day below an SLA target (< 100 %) has
-- at least one (checks = up + degraded + down + maintenance), so the report's days below
-- target read only these rows instead of every service's row of every day of the period
-- (30,000 rows with their histograms for 1,000 services x a month).
CREATE INDEX daily_rollups_failed_day ON daily_rollups (day) WHERE down > 0;
