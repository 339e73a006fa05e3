-- Outage episodes (keyed by service and start, written through the check journal), status history and maintenance windows (SPEC §3.3, §3.7).

CREATE TABLE outage_episodes (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id    TEXT NOT NULL,
    started_at    INTEGER NOT NULL,          -- first failed check of the episode
    ended_at      INTEGER,                   -- recovery confirmed; NULL while open
    worst_status  TEXT NOT NULL,
    cause         TEXT,                      -- error_kind of the first failed check
    error         TEXT,
    failed_checks INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX outage_episodes_key ON outage_episodes (service_id, started_at);

-- Every status transition; service_id '' is the overall (system) status.
-- Written through the check journal, so the key makes a replay a no-op.
CREATE TABLE status_history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id  TEXT NOT NULL,
    status      TEXT NOT NULL,
    previous    TEXT NOT NULL,
    at          INTEGER NOT NULL
);
CREATE UNIQUE INDEX status_history_key ON status_history (service_id, at, status);

CREATE TABLE maintenance_windows (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    config_key    TEXT UNIQUE,               -- set for windows from the config file
    title         TEXT NOT NULL,
    starts_at     INTEGER NOT NULL,
    ends_at       INTEGER NOT NULL,
    services      TEXT NOT NULL DEFAULT '[]', -- JSON list of service ids; [] = every service
    created_by    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    cancelled_at  INTEGER,
    CHECK (ends_at > starts_at)
);
CREATE INDEX maintenance_windows_ends ON maintenance_windows (ends_at);
