-- Incidents, their updates, affected services, revisions and full-text search (SPEC §3.6).

CREATE TABLE incidents (
    id                bigserial PRIMARY KEY,
    title             text NOT NULL,
    description       text NOT NULL DEFAULT '',
    status            text NOT NULL CHECK (status IN ('investigating', 'identified', 'monitoring', 'resolved')),
    severity          text NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    priority          integer NOT NULL CHECK (priority BETWEEN 1 AND 4),
    impact            text NOT NULL DEFAULT '',
    root_cause        text NOT NULL DEFAULT '',
    resolution_notes  text NOT NULL DEFAULT '',
    started_at        timestamptz NOT NULL,
    identified_at     timestamptz,
    monitoring_at     timestamptz,
    resolved_at       timestamptz,
    first_update_at   timestamptz,            -- for the priority's response target
    created_by        text NOT NULL,
    resolved_by       text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    version           integer NOT NULL DEFAULT 1,
    episode_service   text,                   -- set for auto-incidents: the outage episode
    episode_started_at timestamptz,
    -- Title, description and every update's message (kept by the store), searched through
    -- a 'simple' tsvector (no stemming: works for Korean as for English) with a GIN index.
    search_text       text NOT NULL DEFAULT '',
    search            tsvector GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED
);
CREATE INDEX incidents_status ON incidents (status, started_at);
CREATE UNIQUE INDEX incidents_episode ON incidents (episode_service, episode_started_at);
CREATE INDEX incidents_search ON incidents USING gin (search);

CREATE TABLE incident_services (
    incident_id  bigint NOT NULL REFERENCES incidents (id),
    service_id   text NOT NULL,
    PRIMARY KEY (incident_id, service_id)
);
CREATE INDEX incident_services_service ON incident_services (service_id);

CREATE TABLE incident_updates (
    id                bigserial PRIMARY KEY,
    incident_id       bigint NOT NULL REFERENCES incidents (id),
    status            text NOT NULL,
    message           text NOT NULL,          -- markdown
    customer_visible  boolean NOT NULL DEFAULT true,
    author            text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incident_updates_incident ON incident_updates (incident_id, created_at);

-- Which fields each version changed: a stale save is refused with the fields changed since.
CREATE TABLE incident_revisions (
    incident_id  bigint NOT NULL REFERENCES incidents (id),
    version      integer NOT NULL,
    fields       text NOT NULL,               -- JSON list of field names
    actor        text NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (incident_id, version)
);
