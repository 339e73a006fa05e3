-- Outage episodes (keyed by service and start, written through the check journal), status history and maintenance windows (SPEC §3.3, §3.7).

CREATE TABLE outage_episodes (
    id            bigserial PRIMARY KEY,
    service_id    text NOT NULL,
    started_at    timestamptz NOT NULL,      -- first failed check of the episode
    ended_at      timestamptz,               -- recovery confirmed; NULL while open
    worst_status  text NOT NULL,
    cause         text,                      -- error_kind of the first failed check
    error         text,
    failed_checks integer NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX outage_episodes_key ON outage_episodes (service_id, started_at);

-- Every status transition; service_id '' is the overall (system) status.
-- Written through the check journal, so the key makes a replay a no-op.
CREATE TABLE status_history (
    id          bigserial PRIMARY KEY,
    service_id  text NOT NULL,
    status      text NOT NULL,
    previous    text NOT NULL,
    at          timestamptz NOT NULL
);
CREATE UNIQUE INDEX status_history_key ON status_history (service_id, at, status);

CREATE TABLE maintenance_windows (
    id            bigserial PRIMARY KEY,
    config_key    text UNIQUE,               -- set for windows from the config file
    title         text NOT NULL,
    starts_at     timestamptz NOT NULL,
    ends_at       timestamptz NOT NULL,
    services      text NOT NULL DEFAULT '[]', -- JSON list of service ids; [] = every service
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    cancelled_at  timestamptz,
    CHECK (ends_at > starts_at)
);
CREATE INDEX maintenance_windows_ends ON maintenance_windows (ends_at);
