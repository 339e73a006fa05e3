"""Open incidents as the daemon keeps them: the overall-status floor and auto-incidents.

* The open incidents are re-read from the store whenever they change (``incidents_changed``);
  while one is open, the overall status is at least ``INCIDENT_FLOOR[severity]``.
* An auto-incident opens when a service has been in confirmed major outage for
  ``auto_incident_after`` seconds (at most one per outage episode, never when an open
  incident already names the service), and gets a "recovered, monitoring" update when the
  outage ends. A store failure is retried on the next check.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from .auto_incidents import auto_title, cause_text, join_storm, post_recovery
from .clock import Clock
from .config import DaemonConfig
from .errors import AlreadyExists, SlamonError
from .events import Publisher
from .incidents import incident_dict
from .models import (
    STATUS_SEVERITY,
    SYSTEM_AUTHOR,
    Check,
    Incident,
    OutageEpisode,
    ServiceStatus,
    Transition,
)
from .state import LiveState
from .store.base import Store

logger = logging.getLogger("slamon.incidents")

INCIDENT_FLOOR = {
    "low": ServiceStatus.OPERATIONAL,
    "medium": ServiceStatus.DEGRADED,
    "high": ServiceStatus.PARTIAL_OUTAGE,
    "critical": ServiceStatus.MAJOR_OUTAGE,
}
"""The overall status is at least this while an incident of that severity is open."""


class IncidentTracker:
    """The open incidents, the status floor they set, and the incidents opened by outages."""

    def __init__(
        self,
        store: Store,
        state: LiveState,
        events: Publisher,
        settings: DaemonConfig,
        clock: Clock,
        on_transition: Callable[[Transition], None],
    ) -> None:
        self._store = store
        self._state = state
        self._events = events
        self._settings = settings
        self._clock = clock
        self._on_transition = on_transition
        self.active: list[Incident] = []
        self._auto_seen: set[tuple[str, datetime]] = set()
        self._lock = asyncio.Lock()
        self._open_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self.may_act: Callable[[], bool] = lambda: True
        """Whether this daemon opens auto-incidents and posts their recovery updates: always
        when alone; in a cluster, the node holding the incidents singleton (issue 15)."""

    # -- open incidents and the floor ---------------------------------------------------

    def incidents_changed(self) -> None:
        """Open incidents changed: refresh them and the overall status in the background."""
        self._spawn(self.refresh())

    async def refresh(self) -> None:
        """Re-read the open incidents and apply their floor to the overall status."""
        async with self._lock:  # one at a time, so an older read never replaces a newer one
            try:
                self.active, _ = await self._store.list_incidents(active=True, limit=1000)
            except SlamonError as exc:
                logger.warning("cannot read open incidents: %s", exc)
                return
            floor = max(
                (INCIDENT_FLOOR[i.severity] for i in self.active),
                key=STATUS_SEVERITY.__getitem__,
                default=ServiceStatus.OPERATIONAL,
            )
            for t in self._state.set_incident_floor(floor, self._clock.now()):
                self._on_transition(t)

    # -- auto-incidents -----------------------------------------------------------------

    def on_check(self, check: Check, episode: OutageEpisode | None) -> None:
        """After a check: open an incident for a long confirmed outage; post an update on
        the auto-incident of an outage that just ended (``episode``, closed)."""
        cfg = self._settings
        st = self._state.services.get(check.service_id)
        if not self.may_act():
            return
        if (
            cfg.auto_incident
            and st is not None
            and st.episode is not None
            and st.status is ServiceStatus.MAJOR_OUTAGE
            and (check.started_at - st.episode.started_at).total_seconds()
            >= cfg.auto_incident_after
        ):
            key = (check.service_id, st.episode.started_at)
            if key not in self._auto_seen:
                self._auto_seen.add(key)
                self._spawn(self._open(dataclasses.replace(st.episode)))
        if (
            episode is not None
            and episode.ended_at is not None
            and episode.worst_status is ServiceStatus.MAJOR_OUTAGE
        ):
            self._auto_seen.discard((episode.service_id, episode.started_at))
            self._spawn(self._recovered(episode))

    def _name(self, sid: str) -> str:
        st = self._state.services.get(sid)
        return st.service.name if st else sid

    async def _open(self, episode: OutageEpisode) -> None:
        """Open an incident for a long confirmed major outage, unless one covers it already
        (the storm it belongs to, issue 12: auto_incidents.py)."""
        async with self._open_lock:  # a storm's outages are judged one after another
            await self._open_one(episode)

    async def _open_one(self, episode: OutageEpisode) -> None:
        sid = episode.service_id
        try:
            if await self._store.incident_for_episode(sid, episode.started_at) is not None:
                return
            if await self._store.open_incidents_for_service(sid):
                return
            name = self._name(sid)
            t = self._clock.now()
            window = self._settings.auto_incident_group_window
            joined = await join_storm(self._store, episode, window, self._name, t)
            if joined is not None:
                self._publish("updated", joined, t)
                return
            cause = cause_text(episode)
            inc = Incident(
                title=auto_title([name]),
                status="investigating",
                severity="high",
                priority=2,
                started_at=episode.started_at,
                created_by=SYSTEM_AUTHOR,
                services=(sid,),
                created_at=t,
                description=(
                    f"Opened automatically: {name} has failed every check since"
                    f" {episode.started_at:%Y-%m-%d %H:%M:%S} UTC{cause}."
                ),
                episode_service=sid,
                episode_started_at=episode.started_at,
            )
            created = await self._store.create_incident(inc)
            logger.warning("auto-incident %s opened for %s", created.id, sid)
            self._publish("created", created, t)
        except AlreadyExists:
            pass  # another path opened it first: never two incidents for one outage
        except SlamonError as exc:
            logger.error(
                "cannot open auto-incident for %s (will retry on the next check): %s", sid, exc
            )
            self._auto_seen.discard((sid, episode.started_at))

    async def _recovered(self, episode: OutageEpisode) -> None:
        """Post a recovery update on the auto-incident of an outage that ended (monitoring
        once none of its services is down)."""
        try:
            t = self._clock.now()
            async with self._open_lock:
                saved = await post_recovery(self._store, self._state, episode, self._name, t)
            if saved is not None:
                self._publish("update_added", saved, t)
        except SlamonError as exc:
            logger.error("cannot post the recovery update for %s: %s", episode.service_id, exc)

    def _publish(self, action: str, inc: Incident, t: datetime) -> None:
        self._events.publish(
            "incident", {"action": action, "incident": incident_dict(inc, t, with_updates=False)}
        )
        self.incidents_changed()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
