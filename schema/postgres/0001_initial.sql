-- slamon initial schema, PostgreSQL. Never edit once applied: add a new numbered file.

CREATE TABLE services (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    url         text NOT NULL,
    config      jsonb NOT NULL,             -- every setting (models.Service)
    source      text NOT NULL DEFAULT 'config' CHECK (source IN ('config', 'admin')),
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Raw check results, partitioned by day of started_at so that retention drops whole
-- partitions. The store creates partitions ahead of need; the default partition only
-- catches rows outside them. The key makes a replayed write a no-op.
CREATE TABLE checks (
    service_id   text NOT NULL,
    started_at   timestamptz NOT NULL,
    node         text NOT NULL,
    latency_ms   double precision NOT NULL,
    status_code  integer,
    outcome      text NOT NULL CHECK (outcome IN ('up', 'degraded', 'down')),
    error_kind   text,
    error        text,
    maintenance  boolean NOT NULL DEFAULT false,
    interval_s   double precision NOT NULL,
    cert_expires_at timestamptz,
    PRIMARY KEY (service_id, started_at, node)
) PARTITION BY RANGE (started_at);
CREATE TABLE checks_default PARTITION OF checks DEFAULT;
CREATE INDEX checks_started_at ON checks (started_at);

-- Rollups (the seeds' uptime_records and api_call_logs), per service and UTC day / hour.
-- Every column merges exactly (rollup.Rollup), so they are maintained as checks land and
-- can be rebuilt from raw checks with the same result.
CREATE TABLE daily_rollups (
    service_id      text NOT NULL,
    day             date NOT NULL,
    checks          integer NOT NULL DEFAULT 0,
    up              integer NOT NULL DEFAULT 0,
    degraded        integer NOT NULL DEFAULT 0,
    down            integer NOT NULL DEFAULT 0,
    maintenance     integer NOT NULL DEFAULT 0,
    downtime_s      double precision NOT NULL DEFAULT 0,
    latency_count   integer NOT NULL DEFAULT 0,   -- checks answered correctly (up, degraded)
    latency_sum_us  bigint NOT NULL DEFAULT 0,        -- integer microseconds: merges exactly
    latency_min_ms  double precision,
    latency_max_ms  double precision,
    latency_hist    text NOT NULL DEFAULT '{}',  -- JSON {bucket: count}, see rollup.py
    errors          text NOT NULL DEFAULT '{}',  -- JSON {error_kind: count}
    PRIMARY KEY (service_id, day)
);
CREATE INDEX daily_rollups_day ON daily_rollups (day);

CREATE TABLE hourly_rollups (
    service_id      text NOT NULL,
    day             date NOT NULL,
    hour            integer NOT NULL CHECK (hour BETWEEN 0 AND 23),
    checks          integer NOT NULL DEFAULT 0,
    up              integer NOT NULL DEFAULT 0,
    degraded        integer NOT NULL DEFAULT 0,
    down            integer NOT NULL DEFAULT 0,
    maintenance     integer NOT NULL DEFAULT 0,
    downtime_s      double precision NOT NULL DEFAULT 0,
    latency_count   integer NOT NULL DEFAULT 0,   -- checks answered correctly (up, degraded)
    latency_sum_us  bigint NOT NULL DEFAULT 0,        -- integer microseconds: merges exactly
    latency_min_ms  double precision,
    latency_max_ms  double precision,
    latency_hist    text NOT NULL DEFAULT '{}',  -- JSON {bucket: count}, see rollup.py
    errors          text NOT NULL DEFAULT '{}',  -- JSON {error_kind: count}
    PRIMARY KEY (service_id, day, hour)
);
CREATE INDEX hourly_rollups_day ON hourly_rollups (day);
