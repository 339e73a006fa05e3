"""One node at a time: the singletons (issue 15).

``Leadership.leads(name)`` says whether this node runs the singleton ``name`` now. A
single-node daemon (SQLite, or PostgreSQL without ``[daemon] region``) runs every one
(``SoleLeader``). In a cluster (``LeaseLeadership``) each singleton is a row of
``singletons`` whose lease the holder renews every heartbeat; another node takes it once
it expired (the holder died or lost the database). The holder stops believing it leads
before the lease can expire in the database: its belief runs from *before* the renewal was
sent, for the lease time less one heartbeat, on its own monotonic clock. So two nodes never
both believe they lead, whatever their wall clocks say.

Singletons: ``INCIDENTS`` (auto-incidents and the status history and outage episodes
written for the whole cluster), ``UPKEEP`` (partition maintenance, retention, pruning of
the events table), ``ALERTS`` (alert sending: for slamon_daemon/alerts to use).
"""

from __future__ import annotations

import time
from typing import Protocol

INCIDENTS = "incidents"
UPKEEP = "upkeep"
ALERTS = "alerts"
SINGLETONS = (INCIDENTS, UPKEEP, ALERTS)


class Leadership(Protocol):
    """Whether this node runs a singleton now."""

    def leads(self, name: str) -> bool: ...


class SoleLeader:
    """A daemon alone on its database: it runs every singleton."""

    def leads(self, name: str) -> bool:
        return True


class LeaseLeadership:
    """The singletons this node holds, as the last renewals said (cluster.node renews)."""

    def __init__(self, ttl: float, margin: float) -> None:
        self.ttl = ttl
        self.margin = margin
        self._until: dict[str, float] = {}
        self._held: set[str] = set()  # as the last renewal said
        self.lapses = 0
        """Renewals that found this node's belief run out while it still held the lease (its
        beats came too late: the node did not act meanwhile)."""

    def leads(self, name: str) -> bool:
        return time.monotonic() < self._until.get(name, 0.0)

    def renewed(self, name: str, held: bool, sent_at: float) -> bool:
        """Record a renewal sent at ``sent_at`` (monotonic); whether the holding changed."""
        before = self.leads(name)
        if held and not before and name in self._held:
            self.lapses += 1
        if held:
            self._held.add(name)
        else:
            self._held.discard(name)
        self._until[name] = sent_at + self.ttl - self.margin if held else 0.0
        return before != self.leads(name)

    def held(self) -> list[str]:
        return [n for n in SINGLETONS if self.leads(n)]

    def drop_all(self) -> None:
        self._until.clear()
        self._held.clear()
