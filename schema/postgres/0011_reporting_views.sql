-- Issue 13: stable, documented views for Grafana and BI tools (README "Grafana and BI").
--
-- A reporting tool reads these views and nothing else: `slamon db grant-readonly ROLE` makes
-- a login role that may SELECT them and no table. The views run with their owner's rights, so
-- the role needs no access to the tables behind them. Their names and columns are a promise:
-- later migrations may add columns, never rename or drop one. Times are timestamptz (UTC),
-- ratios are 0..1, durations seconds. Nothing secret is in them: no target URLs or headers
-- (they may carry tokens), no check error texts, no users, tokens, audit log or alert
-- channel settings.

-- Services: what they are, not where they are.
CREATE VIEW report_services AS
SELECT s.id AS service_id,
       s.name,
       s.config ->> 'group' AS group_name,
       coalesce((s.config ->> 'public')::boolean, true) AS public,
       (s.config ->> 'sla_target')::double precision AS sla_target_percent,
       (s.config ->> 'interval_s')::double precision AS interval_s,
       s.active,
       s.source,
       s.created_at,
       s.updated_at
FROM services s;

-- Every raw check (kept retention_days).
CREATE VIEW report_checks AS
SELECT c.service_id,
       c.started_at AS time,
       c.node,
       c.outcome,
       c.status_code,
       c.error_kind,
       c.latency_ms,
       c.latency_ms / 1000.0 AS latency_s,
       c.maintenance,
       c.interval_s,
       c.cert_expires_at
FROM checks c;

-- Rollups: hourly, daily (UTC days) and monthly. uptime_ratio counts degraded checks as up
-- and leaves maintenance out (NULL when nothing counts), as slamon does everywhere.
CREATE VIEW report_hourly AS
SELECT r.service_id,
       (r.day + make_interval(hours => r.hour)) AT TIME ZONE 'UTC' AS time,
       r.checks, r.up, r.degraded, r.down, r.maintenance, r.downtime_s,
       (r.up + r.degraded)::double precision / nullif(r.checks - r.maintenance, 0) AS uptime_ratio,
       r.latency_sum_us / 1000.0 / nullif(r.latency_count, 0) AS latency_avg_ms,
       r.latency_min_ms, r.latency_max_ms
FROM hourly_rollups r;

CREATE VIEW report_daily AS
SELECT r.service_id,
       r.day,
       r.day::timestamp AT TIME ZONE 'UTC' AS time,
       r.checks, r.up, r.degraded, r.down, r.maintenance, r.downtime_s,
       (r.up + r.degraded)::double precision / nullif(r.checks - r.maintenance, 0) AS uptime_ratio,
       r.latency_sum_us / 1000.0 / nullif(r.latency_count, 0) AS latency_avg_ms,
       r.latency_min_ms, r.latency_max_ms
FROM daily_rollups r;

CREATE VIEW report_monthly AS
SELECT r.service_id,
       r.day AS month,
       r.day::timestamp AT TIME ZONE 'UTC' AS time,
       r.checks, r.up, r.degraded, r.down, r.maintenance, r.downtime_s,
       (r.up + r.degraded)::double precision / nullif(r.checks - r.maintenance, 0) AS uptime_ratio,
       r.latency_sum_us / 1000.0 / nullif(r.latency_count, 0) AS latency_avg_ms,
       r.latency_min_ms, r.latency_max_ms
FROM monthly_rollups r;

-- Outage episodes: from the first failed check to the confirmed recovery (open: ended_at NULL).
CREATE VIEW report_outages AS
SELECT e.id AS outage_id,
       e.service_id,
       e.started_at,
       e.ended_at,
       extract(epoch FROM (coalesce(e.ended_at, now()) - e.started_at)) AS duration_s,
       e.ended_at IS NULL AS open,
       e.worst_status,
       e.cause,
       e.failed_checks
FROM outage_episodes e;

-- Incidents (without the description, which may quote check errors), their services and
-- their timeline. customer_visible tells the public updates from the internal ones.
CREATE VIEW report_incidents AS
SELECT i.id AS incident_id,
       i.title,
       i.status,
       i.severity,
       'P' || i.priority AS priority,
       i.started_at, i.identified_at, i.monitoring_at, i.resolved_at,
       extract(epoch FROM (coalesce(i.resolved_at, now()) - i.started_at)) AS duration_s,
       extract(epoch FROM (i.first_update_at - i.started_at)) AS first_update_after_s,
       i.impact,
       i.root_cause,
       i.created_by,
       i.resolved_by,
       i.episode_service IS NOT NULL AS automatic,
       i.created_at,
       i.updated_at
FROM incidents i;

CREATE VIEW report_incident_services AS
SELECT incident_id, service_id FROM incident_services;

CREATE VIEW report_incident_updates AS
SELECT u.id AS update_id,
       u.incident_id,
       u.status,
       u.message,
       u.customer_visible,
       u.author,
       u.created_at
FROM incident_updates u;
