"""Events across nodes (issue 15): LISTEN/NOTIFY carries ids, ``cluster_events`` the data.

* Checks: every ``PUBLISH_EVERY_S`` the checks a node made since are one ``cluster_events``
  row (the checks as JSON) and a NOTIFY, in a transaction of their own: the rollups that
  every node's writer updates for the same services (row locks, one node after another)
  never delay them. Each node folds the others' checks into its live state: the status,
  the quorum of regions, the 90 days and every feed event follow, and status.get is the
  same picture on every node. While the database is away they wait (at most
  ``HELD_CHECKS``) and go when it answers; the checks themselves are journaled and
  stored by the writer as on a single node.
* Incidents, maintenance, presence and alerts: this relay is a sink of the node's
  EventHub; those topics go to the other nodes, which hand them to their own clients (and
  re-read their open incidents). Presence is merged: each node keeps the other nodes'
  presence (sessions named ``"node:n"``), a node that joins sends ``presence_sync`` and the
  others answer with theirs, and a node's presence ends when it dies (the heartbeat view).
  ``alert`` events tell the node sending alerts of an ack or a silence made elsewhere, and
  the others that the stored alert state changed (the data stays in the alert tables).

The NOTIFY payload is only the row id (NOTIFY payloads are small); the node reads the rows
of the ids it is told, a few at once. When its LISTEN connection is lost (the database
away), it reconnects and catches up from the last id it saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ..errors import SlamonError
from ..models import Check
from ..store.cluster import EVENTS_CHANNEL, ClusterStore, Event

logger = logging.getLogger("slamon.cluster")

PRESENCE_SYNC = "presence_sync"
"""A node's whole presence board (``{"entries", "reply"}``): sent when it joins, and by
every other node in reply (no feed client subscribes to it)."""
RELAYED_TOPICS = frozenset({"incident", "maintenance", "presence", "alert", PRESENCE_SYNC})
"""Feed topics sent to the other nodes as they are (checks and statuses go as checks);
``alert`` (an ack or silence made on a node, or the sender's state changed) and
``presence_sync`` go to the other nodes only."""
RETRY_S = 2.0
PUBLISH_EVERY_S = 0.1
"""How often a node sends the checks it made to the others."""
APPLY_SLICE_S = 0.05
"""Longest a node hands on other nodes' events before letting its loop run."""
LAG_SAMPLES = 5_000
"""Latest batches and events whose delays ``stats`` gives (p50, p99, max)."""
HELD_CHECKS = 200_000
"""Checks waiting to be sent while the database is away, at most (the oldest go first)."""


class ListenHandle(Protocol):
    async def alive(self) -> bool: ...

    async def close(self) -> None: ...


Listen = Callable[[str, Callable[[str], None]], Awaitable[ListenHandle]]


class EventRelay:
    """Sends this node's events to the others and hands theirs to ``on_event``."""

    def __init__(
        self,
        store: ClusterStore,
        listen: Listen,
        node: str,
        on_event: Callable[[Event], None],
        on_listen: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self._listen = listen
        self.node = node
        self._on_event = on_event
        self._on_listen = on_listen
        """Called each time the LISTEN connection is made (at start, after a loss)."""
        self._ids: asyncio.Queue[int] = asyncio.Queue()
        self._seen: deque[int] = deque(maxlen=20_000)
        self._seen_set: set[int] = set()
        self.last_id = 0
        self.received = 0
        self.relaying = False  # True while handing on another node's event (not sent back)
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._checks: deque[tuple[float, dict[str, Any]]] = deque(maxlen=HELD_CHECKS)
        self.sent = 0
        self._send_lag: deque[float] = deque(maxlen=LAG_SAMPLES)
        """Seconds from a batch's first check made to the batch stored and notified."""
        self._receive_lag: deque[float] = deque(maxlen=LAG_SAMPLES)
        """Seconds from another node's event stored to handed on here."""

    # -- checks ---------------------------------------------------------------------------

    def add_check(self, check: Check) -> None:
        """A check this node made: sent to the others within ``PUBLISH_EVERY_S``."""
        self._checks.append((time.time(), check.to_dict()))

    async def send_checks(self) -> None:
        """Until ``stop``: send the checks made since the last time, as one event."""
        while not self._stop.is_set():
            await self._sleep(PUBLISH_EVERY_S)
            if not self._checks:
                continue
            batch = [d for _, d in self._checks]
            first = self._checks[0][0]
            try:
                self._saw(await self.store.publish_now(self.node, "checks", batch))
            except SlamonError as exc:
                logger.debug("checks not sent to the other nodes yet: %s", exc)
                await self._sleep(RETRY_S)
                continue
            self._send_lag.append(time.time() - first)
            for _ in batch:
                self._checks.popleft()
            self.sent += len(batch)

    # -- sending (an EventHub sink) -------------------------------------------------------

    def publish(self, topic: str, data: dict[str, Any]) -> None:
        if topic not in RELAYED_TOPICS or self.relaying:
            return
        task = asyncio.create_task(self._send(topic, data))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def has_subscribers(self, topic: str) -> bool:
        return topic in RELAYED_TOPICS

    async def _send(self, topic: str, data: dict[str, Any]) -> None:
        try:
            event = {"topic": topic, "data": data}
            self._saw(await self.store.publish_now(self.node, "event", event))
        except SlamonError as exc:
            logger.warning("event %s not sent to the other nodes: %s", topic, exc)

    # -- receiving ------------------------------------------------------------------------

    def _notified(self, payload: str) -> None:
        with contextlib.suppress(ValueError):
            self._ids.put_nowait(int(payload))

    async def start(self) -> None:
        """Start from the newest event: what came before is in the state loaded at start."""
        self.last_id = await self.store.last_event_id()

    async def run(self) -> None:
        """Listen, reconnecting and catching up, until ``stop``."""
        while not self._stop.is_set():
            try:
                handle = await self._listen(EVENTS_CHANNEL, self._notified)
            except SlamonError as exc:
                logger.debug("cannot listen for events yet: %s", exc)
                await self._sleep(RETRY_S)
                continue
            if self._on_listen is not None:
                self._on_listen()
            try:
                await self._apply(await self.store.events_after(self.last_id, self.node))
                await self._receive(handle)
            except SlamonError as exc:
                logger.debug("event listener lost: %s", exc)
            finally:
                await handle.close()
            await self._sleep(RETRY_S)

    async def _receive(self, handle: ListenHandle) -> None:
        while not self._stop.is_set():
            try:
                first = await asyncio.wait_for(self._ids.get(), 5.0)
            except TimeoutError:
                if not await handle.alive():
                    return
                continue
            ids = [first]
            await asyncio.sleep(0.01)  # what arrives meanwhile is read with it
            while not self._ids.empty():
                ids.append(self._ids.get_nowait())
            new = [i for i in ids if i not in self._seen_set]  # this node's own are seen
            if new:
                await self._apply(await self.store.events(new, self.node))
                for i in new:  # those not read were this node's
                    self._saw(i)

    def _saw(self, event_id: int) -> None:
        """An event this node sent or read: not read again, and caught up from after it."""
        if event_id in self._seen_set:
            return
        if len(self._seen) == self._seen.maxlen:
            self._seen_set.discard(self._seen[0])
        self._seen.append(event_id)
        self._seen_set.add(event_id)
        self.last_id = max(self.last_id, event_id)

    async def _apply(self, events: list[Event]) -> None:
        """Hand the other nodes' events on, in order; the loop runs every ``APPLY_SLICE_S``
        (a long catch-up does not hold the node's own checks up, while a usual batch goes
        in one piece: yielding after each event put the rest behind the whole loop)."""
        slice_end = time.monotonic() + APPLY_SLICE_S
        for e in events:
            if e.id in self._seen_set:
                continue
            self._saw(e.id)
            if e.node == self.node:
                continue
            self.received += 1
            self._receive_lag.append(time.time() - e.at)
            try:
                self._on_event(e)
            except Exception:
                logger.exception("event %d from %s not applied", e.id, e.node)
            if time.monotonic() > slice_end:
                await asyncio.sleep(0)
                slice_end = time.monotonic() + APPLY_SLICE_S

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    def stop(self) -> None:
        self._stop.set()

    def stats(self) -> dict[str, Any]:
        return {
            "events_received": self.received,
            "checks_sent": self.sent,
            "checks_waiting": len(self._checks),
            "last_event_id": self.last_id,
            "send_lag_s": _quantiles(self._send_lag),
            "receive_lag_s": _quantiles(self._receive_lag),
        }


def _quantiles(xs: deque[float]) -> dict[str, float]:
    """p50, p99 and max of the latest samples (seconds, rounded to the ms)."""
    if not xs:
        return {}
    s = sorted(xs)
    p50, p99 = (s[min(len(s) - 1, int(q * len(s)))] for q in (0.5, 0.99))
    return {"p50": round(p50, 3), "p99": round(p99, 3), "max": round(s[-1], 3)}
