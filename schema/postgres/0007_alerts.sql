-- Alerts (SPEC §3.8, issue 11): channels, alert state, acknowledgements, silences, the outbox
-- and its delivery log. Timestamps are timestamptz.

-- Channels. Those of the config file are upserted at start (source 'config': the file stays
-- the source of truth for them); admins add others (source 'admin'). Routing (rules, services,
-- tags, min_severity, reminders) sits in `config` with the other non-secret settings.
-- Secrets never sit here in clear: `secrets` is {field: "v1:<AES-GCM sealed value>"}, sealed
-- under the alert key file (alerts/secretbox.py), each bound to its channel and field.
CREATE TABLE alert_channels (
    id          text PRIMARY KEY,                 -- kebab-case, stable
    type        text NOT NULL CHECK (type IN ('webhook', 'slack', 'discord', 'teams', 'mattermost',
                    'google_chat', 'ntfy', 'telegram', 'pagerduty', 'opsgenie', 'email')),
    name        text NOT NULL,
    source      text NOT NULL DEFAULT 'admin' CHECK (source IN ('config', 'admin')),
    config      text NOT NULL DEFAULT '{}',       -- JSON: non-secret settings and routing
    secrets     text NOT NULL DEFAULT '{}',       -- JSON: {field: sealed value}
    enabled     boolean NOT NULL DEFAULT true,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- One row per alert, keyed by its stable id: rule|subject|episode start (alerts/state.py).
-- Never keyed by a channel's text, so editing a channel orphans nothing; a restart loads the
-- open rows (and those whose resolve is still pending) and neither re-fires nor forgets.
CREATE TABLE alert_state (
    alert_id         text PRIMARY KEY,
    rule             text NOT NULL CHECK (rule IN ('down', 'reminder', 'incident', 'tls', 'slo_burn')),
    subject          text NOT NULL,               -- service id, or service:kind (tls, slo_burn)
    service_id       text NOT NULL,
    episode          timestamptz NOT NULL,            -- outage start, certificate expiry, burn start
    status           text NOT NULL CHECK (status IN ('pending', 'firing', 'resolved')),
    severity         text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    opened_at        timestamptz NOT NULL,
    fired_at         timestamptz,
    resolved_at      timestamptz,
    group_at         timestamptz,                     -- the grouping window it waits in
    resolve_pending  boolean NOT NULL DEFAULT false,
    after_parent     boolean NOT NULL DEFAULT false,
    held_by          text,                        -- the confirmed-down service it depends on
    suppressed_by    text,                        -- maintenance | silence:<id> | outage
    sent             text NOT NULL DEFAULT '{}',  -- JSON {channel: dedup_key} of its trigger
    reminders        text NOT NULL DEFAULT '{}',  -- JSON {channel: reminders sent}
    details          text NOT NULL DEFAULT '{}',  -- JSON: cause, error, held, threshold_days …
    updated_at       timestamptz NOT NULL
);
CREATE INDEX alert_state_open ON alert_state (service_id)
    WHERE status <> 'resolved' OR resolve_pending;
CREATE INDEX alert_state_opened ON alert_state (opened_at);

-- Who acknowledged an alert and when (stops its reminders; shown beside it).
CREATE TABLE alert_acks (
    alert_id   text PRIMARY KEY REFERENCES alert_state (alert_id),
    acked_by   text NOT NULL,
    acked_at   timestamptz NOT NULL,
    note       text NOT NULL DEFAULT ''
);

-- Silences: mute matching services (ids or globs; [] = all) and rules ([] = all) until
-- expires_at, with a reason and an author. Muted alerts are kept and shown with the silence.
CREATE TABLE alert_silences (
    id            bigserial PRIMARY KEY,
    services      text NOT NULL DEFAULT '[]',     -- JSON list
    rules         text NOT NULL DEFAULT '[]',     -- JSON list
    reason        text NOT NULL CHECK (length(reason) > 0),
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    cancelled_at  timestamptz,
    cancelled_by  text,
    CHECK (expires_at > created_at)
);
CREATE INDEX alert_silences_expires ON alert_silences (expires_at);

-- The outbox: one row per notification per channel, inserted in the same transaction as the
-- alert state that made it. notification_key is stable (alert, kind, channel): a repeated
-- insert is ignored, so nothing is sent twice. id order is delivery order within a channel.
CREATE TABLE alert_outbox (
    id                bigserial PRIMARY KEY,
    notification_key  text NOT NULL UNIQUE,
    channel_id        text NOT NULL,
    alert_id          text,
    event             text NOT NULL,
    action            text NOT NULL CHECK (action IN ('trigger', 'resolve', 'info')),
    severity          text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    dedup_key         text NOT NULL,
    payload           text NOT NULL,              -- JSON template fields (never a secret)
    status            text NOT NULL DEFAULT 'pending'
                          CHECK (status IN ('pending', 'delivered', 'failed')),
    created_at        timestamptz NOT NULL,
    next_attempt_at   timestamptz NOT NULL,
    attempts          integer NOT NULL DEFAULT 0,
    claimed_by        text,                       -- lease: one worker sends an item at a time
    claimed_until     timestamptz,
    last_error        text,                       -- masked
    settled_at        timestamptz                     -- delivered or failed
);
CREATE INDEX alert_outbox_pending ON alert_outbox (channel_id, id) WHERE status = 'pending';
CREATE INDEX alert_outbox_created ON alert_outbox (created_at);

-- Every attempt: time, outcome, HTTP status or SMTP code, latency, masked error and answer.
CREATE TABLE alert_deliveries (
    id             bigserial PRIMARY KEY,
    outbox_id      bigint NOT NULL REFERENCES alert_outbox (id),
    channel_id     text NOT NULL,
    at             timestamptz NOT NULL,
    ok             boolean NOT NULL,
    code           integer,
    latency_ms     double precision NOT NULL,
    error          text,
    retry_after_s  double precision,
    permanent      boolean NOT NULL DEFAULT false,
    answer         text NOT NULL DEFAULT ''       -- the receiver's answer, masked, ≤ 500 chars
);
CREATE INDEX alert_deliveries_outbox ON alert_deliveries (outbox_id, at);
CREATE INDEX alert_deliveries_channel ON alert_deliveries (channel_id, at);
