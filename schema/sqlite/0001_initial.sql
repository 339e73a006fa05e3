-- slamon initial schema, SQLite. Never edit once applied: add a new numbered file.
-- Timestamps are INTEGER microseconds since the Unix epoch, UTC; days are 'YYYY-MM-DD' (UTC).

CREATE TABLE services (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    url         TEXT NOT NULL,
    config      TEXT NOT NULL,              -- JSON of every setting (models.Service)
    source      TEXT NOT NULL DEFAULT 'config' CHECK (source IN ('config', 'admin')),
    active      INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Raw check results (the seeds' watch_server_logs / api_response_times).
-- The key makes a replayed write a no-op, so nothing is ever stored twice.
CREATE TABLE checks (
    service_id   TEXT NOT NULL,
    started_at   INTEGER NOT NULL,
    node         TEXT NOT NULL,
    latency_ms   REAL NOT NULL,
    status_code  INTEGER,
    outcome      TEXT NOT NULL CHECK (outcome IN ('up', 'degraded', 'down')),
    error_kind   TEXT,
    error        TEXT,
    maintenance  INTEGER NOT NULL DEFAULT 0,
    interval_s   REAL NOT NULL,
    cert_expires_at INTEGER,
    PRIMARY KEY (service_id, started_at, node)
) WITHOUT ROWID;
CREATE INDEX checks_started_at ON checks (started_at);

-- Rollups (the seeds' uptime_records and api_call_logs), per service and UTC day / hour.
-- Every column merges exactly (rollup.Rollup), so they are maintained as checks land and
-- can be rebuilt from raw checks with the same result.
CREATE TABLE daily_rollups (
    service_id      TEXT NOT NULL,
    day             TEXT NOT NULL,
    checks          INTEGER NOT NULL DEFAULT 0,
    up              INTEGER NOT NULL DEFAULT 0,
    degraded        INTEGER NOT NULL DEFAULT 0,
    down            INTEGER NOT NULL DEFAULT 0,
    maintenance     INTEGER NOT NULL DEFAULT 0,
    downtime_s      REAL NOT NULL DEFAULT 0,
    latency_count   INTEGER NOT NULL DEFAULT 0,   -- checks answered correctly (up, degraded)
    latency_sum_us  bigint NOT NULL DEFAULT 0,        -- integer microseconds: merges exactly
    latency_min_ms  REAL,
    latency_max_ms  REAL,
    latency_hist    TEXT NOT NULL DEFAULT '{}',  -- JSON {bucket: count}, see rollup.py
    errors          TEXT NOT NULL DEFAULT '{}',  -- JSON {error_kind: count}
    PRIMARY KEY (service_id, day)
) WITHOUT ROWID;
CREATE INDEX daily_rollups_day ON daily_rollups (day);

CREATE TABLE hourly_rollups (
    service_id      TEXT NOT NULL,
    day             TEXT NOT NULL,
    hour            INTEGER NOT NULL CHECK (hour BETWEEN 0 AND 23),
    checks          INTEGER NOT NULL DEFAULT 0,
    up              INTEGER NOT NULL DEFAULT 0,
    degraded        INTEGER NOT NULL DEFAULT 0,
    down            INTEGER NOT NULL DEFAULT 0,
    maintenance     INTEGER NOT NULL DEFAULT 0,
    downtime_s      REAL NOT NULL DEFAULT 0,
    latency_count   INTEGER NOT NULL DEFAULT 0,   -- checks answered correctly (up, degraded)
    latency_sum_us  bigint NOT NULL DEFAULT 0,        -- integer microseconds: merges exactly
    latency_min_ms  REAL,
    latency_max_ms  REAL,
    latency_hist    TEXT NOT NULL DEFAULT '{}',  -- JSON {bucket: count}, see rollup.py
    errors          TEXT NOT NULL DEFAULT '{}',  -- JSON {error_kind: count}
    PRIMARY KEY (service_id, day, hour)
) WITHOUT ROWID;
CREATE INDEX hourly_rollups_day ON hourly_rollups (day);
