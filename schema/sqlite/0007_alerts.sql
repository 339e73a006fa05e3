-- Alerts (SPEC §3.8, issue 11): channels, alert state, acknowledgements, silences, the outbox
-- and its delivery log. Timestamps are INTEGER microseconds since the Unix epoch, UTC.

-- Channels. Those of the config file are upserted at start (source 'config': the file stays
-- the source of truth for them); admins add others (source 'admin'). Routing (rules, services,
-- tags, min_severity, reminders) sits in `config` with the other non-secret settings.
-- Secrets never sit here in clear: `secrets` is {field: "v1:<AES-GCM sealed value>"}, sealed
-- under the alert key file (alerts/secretbox.py), each bound to its channel and field.
CREATE TABLE alert_channels (
    id          TEXT PRIMARY KEY,                 -- kebab-case, stable
    type        TEXT NOT NULL CHECK (type IN ('webhook', 'slack', 'discord', 'teams', 'mattermost',
                    'google_chat', 'ntfy', 'telegram', 'pagerduty', 'opsgenie', 'email')),
    name        TEXT NOT NULL,
    source      TEXT NOT NULL DEFAULT 'admin' CHECK (source IN ('config', 'admin')),
    config      TEXT NOT NULL DEFAULT '{}',       -- JSON: non-secret settings and routing
    secrets     TEXT NOT NULL DEFAULT '{}',       -- JSON: {field: sealed value}
    enabled     INTEGER NOT NULL DEFAULT 1,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- One row per alert, keyed by its stable id: rule|subject|episode start (alerts/state.py).
-- Never keyed by a channel's text, so editing a channel orphans nothing; a restart loads the
-- open rows (and those whose resolve is still pending) and neither re-fires nor forgets.
CREATE TABLE alert_state (
    alert_id         TEXT PRIMARY KEY,
    rule             TEXT NOT NULL CHECK (rule IN ('down', 'reminder', 'incident', 'tls', 'slo_burn')),
    subject          TEXT NOT NULL,               -- service id, or service:kind (tls, slo_burn)
    service_id       TEXT NOT NULL,
    episode          INTEGER NOT NULL,            -- outage start, certificate expiry, burn start
    status           TEXT NOT NULL CHECK (status IN ('pending', 'firing', 'resolved')),
    severity         TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    opened_at        INTEGER NOT NULL,
    fired_at         INTEGER,
    resolved_at      INTEGER,
    group_at         INTEGER,                     -- the grouping window it waits in
    resolve_pending  INTEGER NOT NULL DEFAULT 0,
    after_parent     INTEGER NOT NULL DEFAULT 0,
    held_by          TEXT,                        -- the confirmed-down service it depends on
    suppressed_by    TEXT,                        -- maintenance | silence:<id> | outage
    sent             TEXT NOT NULL DEFAULT '{}',  -- JSON {channel: dedup_key} of its trigger
    reminders        TEXT NOT NULL DEFAULT '{}',  -- JSON {channel: reminders sent}
    details          TEXT NOT NULL DEFAULT '{}',  -- JSON: cause, error, held, threshold_days …
    updated_at       INTEGER NOT NULL
);
CREATE INDEX alert_state_open ON alert_state (service_id)
    WHERE status <> 'resolved' OR resolve_pending = 1;
CREATE INDEX alert_state_opened ON alert_state (opened_at);

-- Who acknowledged an alert and when (stops its reminders; shown beside it).
CREATE TABLE alert_acks (
    alert_id   TEXT PRIMARY KEY REFERENCES alert_state (alert_id),
    acked_by   TEXT NOT NULL,
    acked_at   INTEGER NOT NULL,
    note       TEXT NOT NULL DEFAULT ''
);

-- Silences: mute matching services (ids or globs; [] = all) and rules ([] = all) until
-- expires_at, with a reason and an author. Muted alerts are kept and shown with the silence.
CREATE TABLE alert_silences (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    services      TEXT NOT NULL DEFAULT '[]',     -- JSON list
    rules         TEXT NOT NULL DEFAULT '[]',     -- JSON list
    reason        TEXT NOT NULL CHECK (length(reason) > 0),
    created_by    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    cancelled_at  INTEGER,
    cancelled_by  TEXT,
    CHECK (expires_at > created_at)
);
CREATE INDEX alert_silences_expires ON alert_silences (expires_at);

-- The outbox: one row per notification per channel, inserted in the same transaction as the
-- alert state that made it. notification_key is stable (alert, kind, channel): a repeated
-- insert is ignored, so nothing is sent twice. id order is delivery order within a channel.
CREATE TABLE alert_outbox (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_key  TEXT NOT NULL UNIQUE,
    channel_id        TEXT NOT NULL,
    alert_id          TEXT,
    event             TEXT NOT NULL,
    action            TEXT NOT NULL CHECK (action IN ('trigger', 'resolve', 'info')),
    severity          TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    dedup_key         TEXT NOT NULL,
    payload           TEXT NOT NULL,              -- JSON template fields (never a secret)
    status            TEXT NOT NULL DEFAULT 'pending'
                          CHECK (status IN ('pending', 'delivered', 'failed')),
    created_at        INTEGER NOT NULL,
    next_attempt_at   INTEGER NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 0,
    claimed_by        TEXT,                       -- lease: one worker sends an item at a time
    claimed_until     INTEGER,
    last_error        TEXT,                       -- masked
    settled_at        INTEGER                     -- delivered or failed
);
CREATE INDEX alert_outbox_pending ON alert_outbox (channel_id, id) WHERE status = 'pending';
CREATE INDEX alert_outbox_created ON alert_outbox (created_at);

-- Every attempt: time, outcome, HTTP status or SMTP code, latency, masked error and answer.
CREATE TABLE alert_deliveries (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_id      INTEGER NOT NULL REFERENCES alert_outbox (id),
    channel_id     TEXT NOT NULL,
    at             INTEGER NOT NULL,
    ok             INTEGER NOT NULL,
    code           INTEGER,
    latency_ms     REAL NOT NULL,
    error          TEXT,
    retry_after_s  REAL,
    permanent      INTEGER NOT NULL DEFAULT 0,
    answer         TEXT NOT NULL DEFAULT ''       -- the receiver's answer, masked, ≤ 500 chars
);
CREATE INDEX alert_deliveries_outbox ON alert_deliveries (outbox_id, at);
CREATE INDEX alert_deliveries_channel ON alert_deliveries (channel_id, at);
