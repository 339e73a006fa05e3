-- Issue 15: several nodes on one PostgreSQL (docs/cluster.md). SQLite is single-node, the
-- tables exist so that both schemas stay alike, only the region column is written.
-- Each check says the region of the node that made it ('' on a single-node daemon).
ALTER TABLE checks ADD COLUMN region text NOT NULL DEFAULT '';
-- A failed check fewer than the quorum of regions saw fail (it counts as up in the quorum
-- figures), and how many regions saw it fail (its downtime is shared among them).
ALTER TABLE checks ADD COLUMN regional INTEGER NOT NULL DEFAULT 0;
ALTER TABLE checks ADD COLUMN share integer NOT NULL DEFAULT 1;

-- Every daemon that ran on this database: its name, region and heartbeat. A node whose
-- heartbeat is older than the lease timeout is dead (its leases expire with it).
CREATE TABLE nodes (
    name          text PRIMARY KEY,
    region        text,
    version       text NOT NULL,
    hostname      text NOT NULL DEFAULT '',
    pid           integer NOT NULL DEFAULT 0,
    started_at    text NOT NULL,
    heartbeat_at  text NOT NULL,
    stopped_at    text,                -- a clean stop, NULL while running (or killed)
    health        text NOT NULL DEFAULT '{}', -- the last health sample (cluster/health.py)
    sick          text                        -- why the node is flagged, NULL when healthy
);

-- Placement: one row per (service, region) and the node probing it. A lease is held while
-- its node is alive (a heartbeat within the lease timeout: the heartbeat renews them all);
-- free ones are taken with FOR UPDATE SKIP LOCKED.
CREATE TABLE leases (
    service_id  text NOT NULL,
    region      text NOT NULL,
    node        text,
    taken_at    text,
    moves       integer NOT NULL DEFAULT 0,  -- how many times the lease changed hands
    PRIMARY KEY (service_id, region)
);
CREATE INDEX leases_node ON leases (node);

-- Singletons (auto-incidents, retention, partition maintenance, alert sending): the node
-- that runs each one, until when (renewed every heartbeat, taken over once expired).
CREATE TABLE singletons (
    name        text PRIMARY KEY,
    node        text NOT NULL,
    expires_at  text NOT NULL,
    since       text NOT NULL
);

-- Events across nodes: the data here, a NOTIFY on channel slamon_events carries the id.
-- Rows older than an hour are deleted by the retention singleton.
CREATE TABLE cluster_events (
    id       integer PRIMARY KEY AUTOINCREMENT,
    node     text NOT NULL,
    kind     text NOT NULL,
    payload  text NOT NULL,
    at       text NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX cluster_events_at ON cluster_events (at);

-- Node health, aggregated per hour and per day (cluster/health.py).
CREATE TABLE node_health (
    node        text NOT NULL,
    period      text NOT NULL CHECK (period IN ('hour', 'day')),
    at          text NOT NULL,
    samples     integer NOT NULL DEFAULT 0,
    cpu_sum     real NOT NULL DEFAULT 0,
    cpu_max     real NOT NULL DEFAULT 0,
    mem_max     real NOT NULL DEFAULT 0,
    disk_max    real NOT NULL DEFAULT 0,
    net_bytes   integer NOT NULL DEFAULT 0,
    lateness_max real NOT NULL DEFAULT 0,
    selfcheck_failures integer NOT NULL DEFAULT 0,
    sick_samples integer NOT NULL DEFAULT 0,
    PRIMARY KEY (node, period, at)
);
