"""Storms of outages become one auto-incident; recoveries are told on it (issue 12).

The incident tracker opens an auto-incident for a long confirmed major outage. When several
services fail together (a shared database, a network cut), one incident per service buries
the reporters: a service whose outage started within ``window`` seconds of an open
auto-incident's start joins that incident instead (it is added to the affected services, the
title names how many are down while nobody has retitled it, and an update says so).

Recovery: each service that comes back gets an update on the auto-incident that lists it;
the incident moves to ``monitoring`` ("consider resolving") only once none of its services
is still in major outage. Every update here is written by ``SYSTEM_AUTHOR``, so none counts
as the first human response the priority target waits for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from .errors import NotFound
from .incidents import VersionConflict, transition_stamps
from .models import SYSTEM_AUTHOR, Incident, IncidentUpdate, OutageEpisode, ServiceStatus
from .state import LiveState
from .store.base import Store

logger = logging.getLogger("slamon.incidents")

NAMES_IN_TITLE = 3
"""A storm's title names this many services, then "and N more"."""

Names = Callable[[str], str]
"""Service id -> display name."""


def auto_title(names: Sequence[str]) -> str:
    """The title of an auto-incident: "Checkout is down", "3 services are down: A, B, C",
    "5 services are down: A, B, C and 2 more"."""
    if len(names) == 1:
        return f"{names[0]} is down"
    listed = ", ".join(names[:NAMES_IN_TITLE])
    more = len(names) - NAMES_IN_TITLE
    tail = f" and {more} more" if more > 0 else ""
    return f"{len(names)} services are down: {listed}{tail}"


def cause_text(episode: OutageEpisode) -> str:
    """ " (connection_error: refused)" or "" when the first failure said nothing."""
    if not episode.cause:
        return ""
    return f" ({episode.cause}: {episode.error})" if episode.error else f" ({episode.cause})"


def storm_of(
    active: Sequence[Incident], episode: OutageEpisode, window_s: float
) -> Incident | None:
    """The open auto-incident whose outage started within ``window_s`` of ``episode``'s."""
    near = [
        i
        for i in active
        if i.created_by == SYSTEM_AUTHOR
        and i.active
        and i.id is not None
        and abs((episode.started_at - i.started_at).total_seconds()) <= window_s
    ]
    return min(near, key=lambda i: i.started_at) if near else None


async def join_storm(
    store: Store,
    episode: OutageEpisode,
    window_s: float,
    names: Names,
    now: datetime,
) -> Incident | None:
    """Add ``episode``'s service to the open auto-incident of the same storm, if there is
    one (returns it as saved, with the update saying so); None when there is none to join.

    A reporter saving at the same moment wins: the join is retried on their version.
    """
    sid = episode.service_id
    for _attempt in range(3):
        active, _ = await store.list_incidents(active=True, limit=1000)
        inc = storm_of(active, episode, window_s)
        if inc is None or inc.id is None:
            return None
        if sid in inc.services:
            return inc
        services = [*inc.services, sid]
        changes: dict[str, Any] = {"services": services}
        if inc.title == auto_title(sorted(names(s) for s in inc.services)):  # nobody retitled it
            changes["title"] = auto_title(sorted(names(s) for s in services))
        try:
            await store.save_incident(
                inc.id, inc.version, changes, sorted(changes), SYSTEM_AUTHOR, now
            )
        except VersionConflict:
            continue  # someone saved in between: read it again and join their version
        except NotFound:
            return None
        message = (
            f"{names(sid)} is down too: it has failed every check since"
            f" {episode.started_at:%Y-%m-%d %H:%M:%S} UTC{cause_text(episode)}."
        )
        update = IncidentUpdate(inc.status, message, SYSTEM_AUTHOR, now, True)
        saved = await store.add_incident_update(inc.id, update, {}, now)
        logger.warning("auto-incident %s: %s joined (one storm)", inc.id, sid)
        return saved
    return None


async def incident_of_recovery(store: Store, episode: OutageEpisode) -> Incident | None:
    """The open auto-incident a recovered outage belongs to: the one opened for it, else the
    storm it joined (an open incident of the daemon that lists the service)."""
    inc = await store.incident_for_episode(episode.service_id, episode.started_at)
    if inc is not None:
        return inc if inc.active else None
    for candidate in await store.open_incidents_for_service(episode.service_id):
        if candidate.created_by == SYSTEM_AUTHOR and candidate.active:
            return candidate
    return None


def still_down(inc: Incident, state: LiveState, recovered: str) -> list[str]:
    """The incident's services other than ``recovered`` still in major outage."""
    out = []
    for sid in inc.services:
        st = state.services.get(sid)
        if sid != recovered and st is not None and st.status is ServiceStatus.MAJOR_OUTAGE:
            out.append(sid)
    return out


async def post_recovery(
    store: Store, state: LiveState, episode: OutageEpisode, names: Names, now: datetime
) -> Incident | None:
    """Tell the auto-incident of ``episode`` (closed) that its service is back; move it to
    monitoring once none of its services is down. Returns the incident as saved."""
    inc = await incident_of_recovery(store, episode)
    if inc is None or inc.id is None:
        return None
    ended = episode.ended_at or now
    minutes = int((ended - episode.started_at).total_seconds() // 60)
    down = still_down(inc, state, episode.service_id)
    msg = f"{names(episode.service_id)} recovered at {ended:%Y-%m-%d %H:%M:%S} UTC after {minutes} min."
    changes: dict[str, Any] = {}
    if down:
        msg += f" Still down: {', '.join(names(s) for s in down)}."
        status = inc.status
    else:
        msg += " Monitoring; consider resolving this incident."
        status = "monitoring"
        if inc.status != "monitoring":
            changes = {
                "status": "monitoring",
                **transition_stamps(inc, "monitoring", now, "system"),
            }
    update = IncidentUpdate(status, msg, SYSTEM_AUTHOR, now, True)
    return await store.add_incident_update(inc.id, update, changes, now)
