"""A node's life in the cluster: registration, heartbeat, placement, singletons (issue 15).

Every heartbeat (``[daemon] heartbeat``, 2 s by default) the node

1. beats: one statement writes its heartbeat and health (cluster/health.py) into
   ``nodes``, which renews all its leases at once (a lease is held while its node's
   heartbeat is fresh), and renews or takes the singletons (cluster/leadership.py);
2. places services (store/cluster.py ``place``): takes free leases (no node, or a node
   stopped or silent for ``lease_timeout``) up to its fair share of its region's services
   (the services over the region's live nodes, rounded up), and gives back at most a tenth
   of its share above it, so a node that joins gets its share over a few heartbeats
   without a herd of moves; then reads the regions present and the nodes flagged sick
   (the quorum counts with them).

The beat runs on its own (its own task, its own round trip): a slow placement (10,000
services on a loaded database) never delays it, so neither the node's leases nor its
singletons lapse while the node is alive and the database answers (they did, when the
beat waited for the placement: the nodes of a loaded cluster all let the singletons
expire, and no alert was sent meanwhile).

A node that dies stops renewing: its leases expire ``lease_timeout`` after its last
heartbeat and the other nodes of its region take them in their next round, and probe at
once the services whose last check of that region is older than their interval; so a
dead node's services are probed again within one interval plus the lease timeout (plus a
heartbeat). A node that loses the database keeps probing its services while its leases
would still run; past that it keeps them only if it was its region's only live node (no
other node can take them then), else it stops, so that a region never probes a service
twice at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..config import DaemonConfig
from ..errors import SlamonError
from ..models import Service
from ..store.cluster import ClusterStore, Placement
from .leadership import SINGLETONS, LeaseLeadership

logger = logging.getLogger("slamon.cluster")

ENSURE_EVERY = 30
"""Every this many rounds (and whenever the services change) the lease rows are checked."""


class ClusterNode:
    """This daemon as a node of a cluster on PostgreSQL.

    ``services`` gives the active services; ``on_placed(mine, taken)`` is called when the
    services this node probes change (``taken``: those it just took over); ``on_view``
    when the regions present or the sick nodes change, ``on_nodes`` when the nodes alive
    change.
    """

    def __init__(
        self,
        store: ClusterStore,
        cfg: DaemonConfig,
        version: str,
        services: Callable[[], list[Service]],
        on_placed: Callable[[list[str], list[str]], None],
        on_view: Callable[[tuple[str, ...], frozenset[str]], None],
        health: Callable[[], tuple[dict[str, Any], str | None]] | None = None,
        on_nodes: Callable[[frozenset[str]], None] | None = None,
    ) -> None:
        assert cfg.region is not None
        self.store = store
        self.node = cfg.node
        self.region: str = cfg.region
        self.version = version
        self.heartbeat_s = cfg.heartbeat
        self.lease_timeout = cfg.lease_timeout
        self._services = services
        self._on_placed = on_placed
        self._on_view = on_view
        self._health = health
        self._on_nodes = on_nodes
        self.live: frozenset[str] = frozenset()
        """The nodes alive (a fresh heartbeat), this one included."""
        self.leadership = LeaseLeadership(cfg.lease_timeout, cfg.heartbeat)
        self.mine: set[str] | None = None  # None until the first placement
        self.beat_at = 0.0  # monotonic time the last beat that was answered was sent
        self.beat_s = 0.0
        self.sole_in_region = True
        self.regions: tuple[str, ...] = ()
        self.sick: dict[str, str] = {}
        self.rounds = 0
        self.round_s = 0.0
        self.taken_total = 0
        self.released_total = 0
        self._errors: dict[str, str] = {}  # what failed last ("beat", "placement")
        self._stop = asyncio.Event()
        self._ids: list[str] = []

    def probes_here(self, s: Service) -> bool:
        """Whether this node's region probes ``s``."""
        return s.active and (not s.regions or self.region in s.regions)

    async def join(self) -> None:
        """Register and take a first share (before the scheduler starts)."""
        await self.store.register(
            self.node, self.region, self.version, socket.gethostname(), os.getpid()
        )
        logger.info("node %s joined the cluster in region %s", self.node, self.region)
        await self.round()

    @property
    def error(self) -> str | None:
        """Why the last beat or placement failed (None: both answered)."""
        return "; ".join(self._errors.values()) or None

    async def round(self) -> None:
        """One heartbeat: the beat, then placement and the view of the cluster."""
        await self.beat()
        await self.place()

    async def beat(self) -> None:
        """Say this node is alive (which renews its leases) and renew or take the
        singletons: one statement."""
        health, why = self._health() if self._health is not None else ({}, None)
        sent = time.monotonic()
        held = await self.store.beat(self.node, health, why, SINGLETONS, self.lease_timeout)
        self.beat_at = sent
        self.beat_s = took = time.monotonic() - sent
        for name in SINGLETONS:
            if self.leadership.renewed(name, name in held, sent):
                logger.info(
                    "singleton %s: %s", name, "runs here" if name in held else "runs elsewhere"
                )
        if took > self.heartbeat_s:
            logger.warning(
                "a heartbeat took %.1f s (heartbeat %g s, lease timeout %g s): the database"
                " or this machine is slow",
                took,
                self.heartbeat_s,
                self.lease_timeout,
            )
        self._errors.pop("beat", None)

    async def place(self) -> None:
        """Placement, then the regions present and the nodes alive and sick."""
        sent = time.monotonic()
        ids = sorted(s.id for s in self._services() if self.probes_here(s))
        placement = await self.store.place(
            self.node,
            self.region,
            ids,
            self.lease_timeout,
            release_at_most=max(1, len(self.mine or ()) // 10),
            ensure=ids != self._ids or self.rounds % ENSURE_EVERY == 0,
        )
        self._ids = ids
        self._placed(placement)
        found, sick, names = await self.store.view(self.lease_timeout)
        regions = tuple(found)
        took = time.monotonic() - sent
        self.round_s = took
        if took > self.heartbeat_s:
            logger.warning(
                "placement took %.1f s (heartbeat %g s): the database or this machine is slow",
                took,
                self.heartbeat_s,
            )
        if regions != self.regions or sick != self.sick:
            for name, why in sick.items():
                if name not in self.sick:
                    logger.warning("node %s is sick (%s): its failures do not count", name, why)
            self.regions, self.sick = regions, sick
            self._on_view(regions, frozenset(sick))
        live = frozenset(names) | {self.node}
        if live != self.live:
            self.live = live
            if self._on_nodes is not None:
                self._on_nodes(live)
        self.rounds += 1
        self._errors.pop("placement", None)

    def _placed(self, p: Placement) -> None:
        self.sole_in_region = p.peers <= 1
        self.taken_total += len(p.taken)
        self.released_total += len(p.released)
        mine = set(p.mine)
        if mine != self.mine:
            if p.taken or p.released:
                logger.info(
                    "placement: %d services here (took %d, gave back %d; %d nodes in %s)",
                    len(mine),
                    len(p.taken),
                    len(p.released),
                    p.peers,
                    self.region,
                )
            first = self.mine is None  # at join: each service waits for its own slot
            self.mine = mine
            self._on_placed(sorted(mine), [] if first else p.taken)

    async def run(self) -> None:
        """A beat and a placement every heartbeat until ``stop``, each in its own task (a
        slow placement never holds a beat up); a database away is waited out."""
        beats = asyncio.create_task(self._every("beat", self.beat, began=self.beat_at))
        try:
            await self._every("placement", self.place)
        finally:
            beats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beats

    async def _every(
        self, what: str, step: Callable[[], Awaitable[None]], *, began: float | None = None
    ) -> None:
        """``step`` a heartbeat after the last one ended or, given when the last one
        ``began`` (monotonic; the beats: the join's), a heartbeat after it began (a slow
        beat is followed by the next at once, not a heartbeat later: on a starved loop the
        renewals then still come within the lease)."""
        from_start = began is not None
        began = time.monotonic() if began is None else began
        while not self._stop.is_set():
            wait = began + self.heartbeat_s - time.monotonic() if from_start else self.heartbeat_s
            await self._sleep(max(0.0, wait))
            if self._stop.is_set():
                return
            began = time.monotonic()
            try:
                await step()
            except SlamonError as exc:
                self._unreachable(what, exc)

    def _unreachable(self, what: str, exc: SlamonError) -> None:
        if not self._errors:
            logger.warning("cluster %s failed (retrying every heartbeat): %s", what, exc)
        self._errors[what] = f"{what}: {exc}"
        expired = time.monotonic() > self.beat_at + self.lease_timeout - self.heartbeat_s
        if expired and self.mine and not self.sole_in_region:
            logger.warning(
                "leases of %d services ran out without the database; other nodes of %s"
                " probe them now",
                len(self.mine),
                self.region,
            )
            self.mine = set()
            self._on_placed([], [])

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    def stop(self) -> None:
        self._stop.set()

    async def leave(self) -> None:
        """A clean stop: free the leases and singletons at once."""
        self.leadership.drop_all()
        try:
            await self.store.stopped(self.node)
        except SlamonError as exc:
            logger.warning("could not say goodbye to the cluster: %s", exc)

    def stats(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "region": self.region,
            "services_here": len(self.mine or ()),
            "sole_in_region": self.sole_in_region,
            "regions": list(self.regions),
            "sick_nodes": self.sick,
            "singletons": self.leadership.held(),
            "leases_taken": self.taken_total,
            "round_s": round(self.round_s, 3),
            "beat_s": round(self.beat_s, 3),
            "singleton_lapses": self.leadership.lapses,
            "leases_given_back": self.released_total,
            "error": self.error,
        }
