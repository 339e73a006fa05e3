-- Time covered by maintenance checks (each stands for its own interval), so SLA reports take
-- maintenance out of the budget exactly even after a service's interval changes.
ALTER TABLE daily_rollups ADD COLUMN maintenance_s REAL NOT NULL DEFAULT 0;
ALTER TABLE hourly_rollups ADD COLUMN maintenance_s REAL NOT NULL DEFAULT 0;
