-- Incidents, their updates, affected services, revisions and full-text search (SPEC §3.6).

CREATE TABLE incidents (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    title             TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL CHECK (status IN ('investigating', 'identified', 'monitoring', 'resolved')),
    severity          TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    priority          INTEGER NOT NULL CHECK (priority BETWEEN 1 AND 4),
    impact            TEXT NOT NULL DEFAULT '',
    root_cause        TEXT NOT NULL DEFAULT '',
    resolution_notes  TEXT NOT NULL DEFAULT '',
    started_at        INTEGER NOT NULL,
    identified_at     INTEGER,
    monitoring_at     INTEGER,
    resolved_at       INTEGER,
    first_update_at   INTEGER,                -- for the priority's response target
    created_by        TEXT NOT NULL,
    resolved_by       TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    version           INTEGER NOT NULL DEFAULT 1,
    episode_service   TEXT,                   -- set for auto-incidents: the outage episode
    episode_started_at INTEGER
);
CREATE INDEX incidents_status ON incidents (status, started_at);
CREATE UNIQUE INDEX incidents_episode ON incidents (episode_service, episode_started_at);

CREATE TABLE incident_services (
    incident_id  INTEGER NOT NULL REFERENCES incidents (id),
    service_id   TEXT NOT NULL,
    PRIMARY KEY (incident_id, service_id)
);
CREATE INDEX incident_services_service ON incident_services (service_id);

CREATE TABLE incident_updates (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id       INTEGER NOT NULL REFERENCES incidents (id),
    status            TEXT NOT NULL,
    message           TEXT NOT NULL,          -- markdown
    customer_visible  INTEGER NOT NULL DEFAULT 1,
    author            TEXT NOT NULL,
    created_at        INTEGER NOT NULL
);
CREATE INDEX incident_updates_incident ON incident_updates (incident_id, created_at);

-- Which fields each version changed: a stale save is refused with the fields changed since.
CREATE TABLE incident_revisions (
    incident_id  INTEGER NOT NULL REFERENCES incidents (id),
    version      INTEGER NOT NULL,
    fields       TEXT NOT NULL,               -- JSON list of field names
    actor        TEXT NOT NULL,
    at           INTEGER NOT NULL,
    PRIMARY KEY (incident_id, version)
);

-- Title, description and every update's message; rewritten by the store on each change.
-- Diacritics are kept, as PostgreSQL's simple configuration keeps them (same answers).
CREATE VIRTUAL TABLE incident_search USING fts5 (
    title, body, tokenize = 'unicode61 remove_diacritics 0'
);
