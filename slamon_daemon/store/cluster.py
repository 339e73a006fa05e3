"""What the nodes of a cluster share in PostgreSQL (issue 15, docs/cluster.md): the nodes
and their heartbeats, the leases that place services on nodes, the singletons, and the
events that cross nodes.

Every time is the database's ``now()``: the nodes' clocks never have to agree. Leases are
taken with ``FOR UPDATE SKIP LOCKED``, so nodes taking at once never wait for each other
nor take the same lease. The SQL is PostgreSQL's; the connections and the errors come from
the dialect (store/dialects/postgres.py), as everywhere in the store.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .dialects.base import Connection, Dialect

EVENTS_CHANNEL = "slamon_events"
"""The NOTIFY channel: its payload is the id of a ``cluster_events`` row."""


@dataclass(slots=True)
class NodeInfo:
    """One row of ``nodes``, as ``slamon nodes`` and nodes.list show it."""

    name: str
    region: str | None
    version: str
    hostname: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    heartbeat_age_s: float
    leases: int
    health: dict[str, Any] = field(default_factory=dict)
    sick: str | None = None

    def state(self, lease_timeout: float) -> str:
        """running, stopped (a clean stop) or dead (no heartbeat for a lease timeout)."""
        if self.stopped_at is not None:
            return "stopped"
        return "running" if self.heartbeat_age_s <= lease_timeout else "dead"

    def to_dict(self, lease_timeout: float) -> dict[str, Any]:
        return {
            "name": self.name,
            "region": self.region,
            "version": self.version,
            "hostname": self.hostname,
            "pid": self.pid,
            "started_at": self.started_at.isoformat(),
            "heartbeat_at": self.heartbeat_at.isoformat(),
            "heartbeat_age_s": round(self.heartbeat_age_s, 1),
            "stopped_at": self.stopped_at.isoformat() if self.stopped_at else None,
            "state": self.state(lease_timeout),
            "leases": self.leases,
            "health": self.health,
            "sick": self.sick,
        }


@dataclass(slots=True)
class Event:
    """One row of ``cluster_events``."""

    id: int
    node: str
    kind: str
    payload: Any
    at: float = 0.0
    """When it was stored (the database's clock, seconds since the epoch)."""


class ClusterStore:
    """The cluster's tables, over the store's dialect (PostgreSQL)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    # -- nodes ------------------------------------------------------------------------

    async def register(
        self, node: str, region: str | None, version: str, hostname: str, pid: int
    ) -> None:
        """This node starts: (re)write its row, heartbeat now."""
        async with self.dialect.transaction() as con:
            await con.execute(
                "INSERT INTO nodes (name, region, version, hostname, pid, started_at,"
                " heartbeat_at) VALUES (?, ?, ?, ?, ?, now(), now()) ON CONFLICT (name) DO"
                " UPDATE SET region = EXCLUDED.region, version = EXCLUDED.version, hostname ="
                " EXCLUDED.hostname, pid = EXCLUDED.pid, started_at = now(), heartbeat_at ="
                " now(), stopped_at = NULL, sick = NULL",
                node,
                region,
                version,
                hostname,
                pid,
            )

    async def beat(
        self,
        node: str,
        health: dict[str, Any],
        sick: str | None,
        singletons: Sequence[str],
        ttl: float,
    ) -> set[str]:
        """This node is alive: write its heartbeat and health (which renews all its leases)
        and take or renew the singletons ``singletons`` for ``ttl`` seconds (taken over only
        once expired), in one statement (one round trip, its own transaction). Returns the
        singletons this node holds now."""
        async with self.dialect.read() as con:
            rows = await con.fetch(
                "WITH beat AS (UPDATE nodes SET heartbeat_at = now(), stopped_at = NULL,"
                " health = ?::jsonb, sick = ? WHERE name = ? RETURNING name)"
                " INSERT INTO singletons (name, node, expires_at, since)"
                " SELECT unnest(?::text[]), beat.name, now() + make_interval(secs => ?), now()"
                " FROM beat ON CONFLICT (name) DO UPDATE SET node = EXCLUDED.node, expires_at ="
                " EXCLUDED.expires_at, since = CASE WHEN singletons.node = EXCLUDED.node THEN"
                " singletons.since ELSE now() END WHERE singletons.node = EXCLUDED.node OR"
                " singletons.expires_at < now() RETURNING name",
                json.dumps(health),
                sick,
                node,
                list(singletons),
                ttl,
            )
        return {str(r[0]) for r in rows}

    async def stopped(self, node: str) -> None:
        """A clean stop: the node's leases and singletons are free at once."""
        async with self.dialect.transaction() as con:
            await con.execute("UPDATE nodes SET stopped_at = now() WHERE name = ?", node)
            await con.execute("UPDATE leases SET node = NULL WHERE node = ?", node)
            await con.execute("DELETE FROM singletons WHERE node = ?", node)

    async def nodes(self) -> list[NodeInfo]:
        async with self.dialect.read() as con:
            rows = await con.fetch(
                "SELECT n.name, n.region, n.version, n.hostname, n.pid, n.started_at,"
                " n.heartbeat_at, n.stopped_at, extract(epoch FROM now() - n.heartbeat_at),"
                " (SELECT count(*) FROM leases l WHERE l.node = n.name), n.health::text, n.sick FROM nodes n ORDER BY n.region, n.name"
            )
        t = self.dialect.from_time
        return [
            NodeInfo(
                name=r[0],
                region=r[1],
                version=r[2],
                hostname=r[3],
                pid=int(r[4]),
                started_at=t(r[5]),
                heartbeat_at=t(r[6]),
                stopped_at=t(r[7]) if r[7] is not None else None,
                heartbeat_age_s=float(r[8]),
                leases=int(r[9]),
                health=json.loads(r[10] or "{}"),
                sick=r[11],
            )
            for r in rows
        ]

    async def view(self, lease_timeout: float) -> tuple[list[str], dict[str, str], list[str]]:
        """The regions of the nodes alive now, those of them flagged sick (and why), and
        their names."""
        async with self.dialect.read() as con:
            rows = await con.fetch(
                "SELECT name, region, sick FROM nodes WHERE stopped_at IS NULL AND"
                " heartbeat_at > now() - make_interval(secs => ?)",
                lease_timeout,
            )
        regions = sorted({str(r[1]) for r in rows if r[1] is not None})
        sick = {str(r[0]): str(r[2]) for r in rows if r[2] is not None}
        return regions, sick, sorted(str(r[0]) for r in rows)

    # -- leases -----------------------------------------------------------------------

    async def place(
        self,
        node: str,
        region: str,
        service_ids: Sequence[str],
        lease_timeout: float,
        release_at_most: int,
        *,
        ensure: bool = True,
    ) -> Placement:
        """One round of placement for ``node`` in ``region``, over the services that region
        probes: take free leases up to the node's fair share (the services over the region's
        live nodes, rounded up), give back at most ``release_at_most`` above it (a node
        that joined takes them: no herd of moves).

        A lease is held while its node is alive (a heartbeat within ``lease_timeout``): the
        heartbeat renews every lease of the node at once, so renewal writes one row, not
        one per service. A lease is free when it has no node, or its node stopped or went
        silent. ``ensure`` first adds the missing (service, region) rows and frees the
        leases of services this region no longer probes (when the services changed)."""
        ids = list(service_ids)
        async with self.dialect.transaction() as con:
            if ensure:
                await con.execute(
                    "INSERT INTO leases (service_id, region) SELECT unnest(?::text[]), ?"
                    " ON CONFLICT DO NOTHING",
                    ids,
                    region,
                )
                await con.execute(
                    "UPDATE leases l SET node = NULL WHERE l.node = ? AND l.region = ? AND NOT"
                    " EXISTS (SELECT 1 FROM unnest(?::text[]) AS w(id) WHERE w.id ="
                    " l.service_id)",
                    node,
                    region,
                    ids,
                )
            held = [
                str(r[0])
                for r in await con.fetch(
                    # a join, not = ANY(array): 10,000 ids against 10,000 rows is a hash
                    "SELECT l.service_id FROM leases l JOIN unnest(?::text[]) AS w(id) ON"
                    " w.id = l.service_id WHERE l.node = ? AND l.region = ?",
                    ids,
                    node,
                    region,
                )
            ]
            alive = await con.fetch(
                "SELECT count(*) FROM nodes WHERE region = ? AND stopped_at IS NULL AND"
                " heartbeat_at > now() - make_interval(secs => ?)",
                region,
                lease_timeout,
            )
            peers = max(1, int(alive[0][0]))
            share = -(-len(ids) // peers)
            taken: list[str] = []
            released: list[str] = []
            if len(held) < share:
                taken = await self._take(con, node, region, ids, share - len(held), lease_timeout)
            elif len(held) > share and release_at_most > 0:
                released = sorted(held)[-min(len(held) - share, release_at_most) :]
                await con.execute(
                    "UPDATE leases SET node = NULL WHERE node = ? AND region = ? AND"
                    " service_id = ANY(?)",
                    node,
                    region,
                    released,
                )
            mine = sorted((set(held) - set(released)) | set(taken))
        return Placement(mine, taken, released, peers)

    @staticmethod
    async def _take(
        con: Connection, node: str, region: str, ids: list[str], n: int, lease_timeout: float
    ) -> list[str]:
        rows = await con.fetch(
            "WITH free AS (SELECT l.service_id FROM leases l JOIN unnest(?::text[]) AS w(id)"
            " ON w.id = l.service_id LEFT JOIN nodes n ON n.name = l.node AND n.stopped_at IS"
            " NULL AND n.heartbeat_at > now() - make_interval(secs => ?) WHERE l.region = ?"
            " AND n.name IS NULL ORDER BY l.service_id LIMIT ? FOR UPDATE OF l SKIP LOCKED)"
            " UPDATE leases l SET node = ?, taken_at = now(), moves = l.moves + 1 FROM free"
            " WHERE l.region = ? AND l.service_id = free.service_id RETURNING l.service_id",
            ids,
            lease_timeout,
            region,
            n,
            node,
            region,
        )
        return sorted(str(r[0]) for r in rows)

    # -- singletons -------------------------------------------------------------------

    async def singletons(self) -> dict[str, str]:
        """Each singleton's holder (while its lease runs)."""
        async with self.dialect.read() as con:
            rows = await con.fetch("SELECT name, node FROM singletons WHERE expires_at > now()")
        return {str(r[0]): str(r[1]) for r in rows}

    # -- health ---------------------------------------------------------------------

    async def add_health(self, node: str, s: dict[str, Any], sick: bool) -> None:
        """Sum one health sample into the node's hourly and daily rows."""
        sc = s.get("selfcheck")
        values = (
            float(s.get("cpu_percent", 0.0)),
            float(s.get("mem_percent", 0.0)),
            float(s.get("disk_percent", 0.0)),
            int(s.get("net_bytes", 0)),
            float(s.get("lateness_p99_s", 0.0)),
            1 if sc is not None and sc.get("outcome") == "down" else 0,
            1 if sick else 0,
        )
        async with self.dialect.transaction() as con:
            for period in ("hour", "day"):
                await con.execute(
                    "INSERT INTO node_health (node, period, at, samples, cpu_sum, cpu_max,"
                    " mem_max, disk_max, net_bytes, lateness_max, selfcheck_failures,"
                    " sick_samples) VALUES (?, ?, date_trunc(?, now()), 1, ?, ?, ?, ?, ?, ?, ?,"
                    " ?) ON CONFLICT (node, period, at) DO UPDATE SET samples ="
                    " node_health.samples + 1, cpu_sum = node_health.cpu_sum + EXCLUDED.cpu_sum,"
                    " cpu_max = greatest(node_health.cpu_max, EXCLUDED.cpu_max), mem_max ="
                    " greatest(node_health.mem_max, EXCLUDED.mem_max), disk_max ="
                    " greatest(node_health.disk_max, EXCLUDED.disk_max), net_bytes ="
                    " node_health.net_bytes + EXCLUDED.net_bytes, lateness_max ="
                    " greatest(node_health.lateness_max, EXCLUDED.lateness_max),"
                    " selfcheck_failures = node_health.selfcheck_failures +"
                    " EXCLUDED.selfcheck_failures, sick_samples = node_health.sick_samples +"
                    " EXCLUDED.sick_samples",
                    node,
                    period,
                    period,
                    values[0],
                    values[0],
                    *values[1:],
                )

    async def health_rows(self, node: str, period: str) -> list[dict[str, Any]]:
        """A node's hourly or daily health, newest first."""
        async with self.dialect.read() as con:
            rows = await con.fetch(
                "SELECT at, samples, cpu_sum, cpu_max, mem_max, disk_max, net_bytes,"
                " lateness_max, selfcheck_failures, sick_samples FROM node_health WHERE"
                " node = ? AND period = ? ORDER BY at DESC LIMIT 400",
                node,
                period,
            )
        return [
            {
                "at": self.dialect.from_time(r[0]).isoformat(),
                "samples": int(r[1]),
                "cpu_avg": round(float(r[2]) / max(1, int(r[1])), 1),
                "cpu_max": float(r[3]),
                "mem_max": float(r[4]),
                "disk_max": float(r[5]),
                "net_bytes": int(r[6]),
                "lateness_max_s": float(r[7]),
                "selfcheck_failures": int(r[8]),
                "sick_samples": int(r[9]),
            }
            for r in rows
        ]

    async def prune_health(self, hourly_days: int, daily_days: int) -> None:
        async with self.dialect.transaction() as con:
            await con.execute(
                "DELETE FROM node_health WHERE (period = 'hour' AND at < now() -"
                " make_interval(days => ?)) OR (period = 'day' AND at < now() -"
                " make_interval(days => ?))",
                hourly_days,
                daily_days,
            )

    # -- events -----------------------------------------------------------------------

    async def publish_now(self, node: str, kind: str, payload: Any) -> int:
        """Store an event and notify every node: one statement, its own transaction (the
        notification goes out when, and only if, the row is committed), one round trip.
        Returns the event's id."""
        async with self.dialect.read() as con:
            rows = await con.fetch(
                "WITH e AS (INSERT INTO cluster_events (node, kind, payload)"
                " VALUES (?, ?, ?::jsonb) RETURNING id)"
                f" SELECT id, pg_notify('{EVENTS_CHANNEL}', id::text) FROM e",
                node,
                kind,
                json.dumps(payload),
            )
        return int(rows[0][0])

    async def events(self, ids: Sequence[int], not_from: str) -> list[Event]:
        """The events of ``ids`` but those of node ``not_from`` (a node is told of its own
        events too: it need not read them back)."""
        async with self.dialect.read() as con:
            rows = await con.fetch(
                "SELECT id, node, kind, payload::text, extract(epoch FROM at)::float8 FROM"
                " cluster_events WHERE id = ANY(?) AND node <> ? ORDER BY id",
                list(ids),
                not_from,
            )
        return [Event(int(r[0]), r[1], r[2], json.loads(r[3]), float(r[4])) for r in rows]

    async def events_after(self, last_id: int, not_from: str, limit: int = 10_000) -> list[Event]:
        """The events after ``last_id`` but those of node ``not_from``, oldest first."""
        async with self.dialect.read() as con:
            rows = await con.fetch(
                "SELECT id, node, kind, payload::text, extract(epoch FROM at)::float8 FROM"
                " cluster_events WHERE id > ? AND node <> ? ORDER BY id LIMIT ?",
                last_id,
                not_from,
                limit,
            )
        return [Event(int(r[0]), r[1], r[2], json.loads(r[3]), float(r[4])) for r in rows]

    async def last_event_id(self) -> int:
        async with self.dialect.read() as con:
            rows = await con.fetch("SELECT coalesce(max(id), 0) FROM cluster_events")
        return int(rows[0][0])

    async def prune_events(self, older_than_s: float) -> int:
        async with self.dialect.transaction() as con:
            return await con.execute(
                "DELETE FROM cluster_events WHERE at < now() - make_interval(secs => ?)",
                older_than_s,
            )


@dataclass(slots=True)
class Placement:
    """One round of placement: the services this node probes now, and what changed."""

    mine: list[str]
    taken: list[str]
    released: list[str]
    peers: int
