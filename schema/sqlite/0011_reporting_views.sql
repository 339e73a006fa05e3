-- Issue 13: the reporting views of schema/postgres/0011_reporting_views.sql (same names and
-- columns; see that file), for tools that read a SQLite file (a copy made by
-- `slamon db backup`). Times are ISO 8601 UTC text ("2026-11-21T12:00:00.000Z"), ratios 0..1,
-- durations seconds. SQLite has no roles: share a backup copy, never the live file.

CREATE VIEW report_services AS
SELECT s.id AS service_id,
       s.name,
       json_extract(s.config, '$.group') AS group_name,
       coalesce(json_extract(s.config, '$.public'), 1) AS public,
       json_extract(s.config, '$.sla_target') AS sla_target_percent,
       json_extract(s.config, '$.interval_s') AS interval_s,
       s.active,
       s.source,
       strftime('%Y-%m-%dT%H:%M:%fZ', s.created_at / 1000000.0, 'unixepoch') AS created_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', s.updated_at / 1000000.0, 'unixepoch') AS updated_at
FROM services s;

CREATE VIEW report_checks AS
SELECT c.service_id,
       strftime('%Y-%m-%dT%H:%M:%fZ', c.started_at / 1000000.0, 'unixepoch') AS time,
       c.node,
       c.outcome,
       c.status_code,
       c.error_kind,
       c.latency_ms,
       c.latency_ms / 1000.0 AS latency_s,
       c.maintenance,
       c.interval_s,
       strftime('%Y-%m-%dT%H:%M:%fZ', c.cert_expires_at / 1000000.0, 'unixepoch') AS cert_expires_at
FROM checks c;

CREATE VIEW report_hourly AS
SELECT r.service_id,
       r.day || 'T' || printf('%02d', r.hour) || ':00:00.000Z' AS time,
       r.checks, r.up, r.degraded, r.down, r.maintenance, r.downtime_s,
       (r.up + r.degraded) * 1.0 / nullif(r.checks - r.maintenance, 0) AS uptime_ratio,
       r.latency_sum_us / 1000.0 / nullif(r.latency_count, 0) AS latency_avg_ms,
       r.latency_min_ms, r.latency_max_ms
FROM hourly_rollups r;

CREATE VIEW report_daily AS
SELECT r.service_id,
       r.day,
       r.day || 'T00:00:00.000Z' AS time,
       r.checks, r.up, r.degraded, r.down, r.maintenance, r.downtime_s,
       (r.up + r.degraded) * 1.0 / nullif(r.checks - r.maintenance, 0) AS uptime_ratio,
       r.latency_sum_us / 1000.0 / nullif(r.latency_count, 0) AS latency_avg_ms,
       r.latency_min_ms, r.latency_max_ms
FROM daily_rollups r;

CREATE VIEW report_monthly AS
SELECT r.service_id,
       r.day AS month,
       r.day || 'T00:00:00.000Z' AS time,
       r.checks, r.up, r.degraded, r.down, r.maintenance, r.downtime_s,
       (r.up + r.degraded) * 1.0 / nullif(r.checks - r.maintenance, 0) AS uptime_ratio,
       r.latency_sum_us / 1000.0 / nullif(r.latency_count, 0) AS latency_avg_ms,
       r.latency_min_ms, r.latency_max_ms
FROM monthly_rollups r;

CREATE VIEW report_outages AS
SELECT e.id AS outage_id,
       e.service_id,
       strftime('%Y-%m-%dT%H:%M:%fZ', e.started_at / 1000000.0, 'unixepoch') AS started_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', e.ended_at / 1000000.0, 'unixepoch') AS ended_at,
       (coalesce(e.ended_at, CAST(strftime('%s', 'now') AS INTEGER) * 1000000) - e.started_at)
           / 1000000.0 AS duration_s,
       e.ended_at IS NULL AS open,
       e.worst_status,
       e.cause,
       e.failed_checks
FROM outage_episodes e;

CREATE VIEW report_incidents AS
SELECT i.id AS incident_id,
       i.title,
       i.status,
       i.severity,
       'P' || i.priority AS priority,
       strftime('%Y-%m-%dT%H:%M:%fZ', i.started_at / 1000000.0, 'unixepoch') AS started_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', i.identified_at / 1000000.0, 'unixepoch') AS identified_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', i.monitoring_at / 1000000.0, 'unixepoch') AS monitoring_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', i.resolved_at / 1000000.0, 'unixepoch') AS resolved_at,
       (coalesce(i.resolved_at, CAST(strftime('%s', 'now') AS INTEGER) * 1000000) - i.started_at)
           / 1000000.0 AS duration_s,
       (i.first_update_at - i.started_at) / 1000000.0 AS first_update_after_s,
       i.impact,
       i.root_cause,
       i.created_by,
       i.resolved_by,
       i.episode_service IS NOT NULL AS automatic,
       strftime('%Y-%m-%dT%H:%M:%fZ', i.created_at / 1000000.0, 'unixepoch') AS created_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', i.updated_at / 1000000.0, 'unixepoch') AS updated_at
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
       strftime('%Y-%m-%dT%H:%M:%fZ', u.created_at / 1000000.0, 'unixepoch') AS created_at
FROM incident_updates u;
