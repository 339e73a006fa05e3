"""ping, status.get, status.history and daemon.stats (docs/feed.md).

status.get is answered from memory, never from the database (PERF-NOTES.md). Its reply is
assembled from one JSON fragment per service, kept until its live state changes (its
``version``: a check, history loaded or merged), its settings change, or the day does: most
services have not changed between two calls, so a call does not re-encode them. A changed
one re-encodes only its changed pieces (an alert storm changes every service at once).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from ..encoding import RawJSON, dumps
from ..incidents import incident_dict
from ..models import Outcome, Role
from ..state import HISTORY_DAYS, RecentChecks, ServiceState
from . import params as P
from .context import ApiContext, Caller
from .registry import Method


async def ping(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.none(params, "ping")
    return {"pong": True, "time": ctx.clock.now().isoformat()}


async def daemon_stats(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.none(params, "daemon.stats")
    return ctx.hooks.stats()


async def status_history(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"id", "days", "limit"}, "status.history")
    sid = P.text(params, "id", default=None, max_len=64)
    days = P.integer(params, "days", default=7, lo=1, hi=400)
    limit = P.integer(params, "limit", default=200, lo=1, hi=5000)
    since = ctx.clock.now() - timedelta(days=days)
    rows = await ctx.store.status_history(sid, since, limit)
    return [t.to_dict() for t in rows]


class _Spark:
    """A service's sparkline (``latencies``, ``outcomes``) as JSON list items, kept in step
    with ``ServiceState.recent``: a check adds one item to each instead of re-encoding 60.
    Each is one string (items joined by commas; none holds a comma), not a string an item."""

    __slots__ = ("recent", "added", "latencies", "outcomes")

    def __init__(self) -> None:
        self.recent: RecentChecks | None = None
        self.added = 0
        self.latencies = ""
        self.outcomes = ""

    def sync(self, recent: RecentChecks) -> tuple[str, str]:
        """The two lists as JSON, after encoding the checks new since the last call."""
        new = recent.added - self.added
        if recent is not self.recent or not 0 <= new <= len(recent):
            # the first call, or the sparkline was rebuilt (a database reached late,
            # LiveState.merge_history): encode it anew
            self.recent, self.latencies, self.outcomes, new = recent, "", "", len(recent)
        if new:
            start = len(recent) - new  # items kept from before, then the new ones
            self.latencies = _keep_last(
                self.latencies,
                start,
                ",".join([_json_text(round(x, 1)) for x in recent.latencies(start)]),
            )
            self.outcomes = _keep_last(
                self.outcomes, start, ",".join([_OUTCOME_JSON[o] for o in recent.outcomes(start)])
            )
            self.added = recent.added
        return f"[{self.latencies}]", f"[{self.outcomes}]"


def _keep_last(items: str, keep: int, more: str) -> str:
    """The last ``keep`` of the comma-separated ``items``, then ``more``."""
    have = items.count(",") + 1 if items else 0
    if keep < have:
        items = items.split(",", have - keep)[-1] if keep else ""
    return f"{items},{more}" if items else more


class _Fragment:
    """One service's cached part of status.get: the bytes and what they were made from."""

    __slots__ = ("key", "data", "state", "service", "head", "middle", "tail", "spark")

    def __init__(self, state: ServiceState) -> None:
        service = state.service
        self.key: tuple[Any, ...] | None = None
        self.data = b""
        self.state = state  # a service paused and resumed has a new state (version from 0)
        self.service = service
        # the parts that change only with the service's settings
        self.head = _json_text({"id": service.id, "name": service.name, "url": service.url})[:-1]
        self.middle = f',"interval_s":{_json_text(service.interval_s)}'
        self.tail = f',"group":{_json_text(service.group)},"tags":{_json_text(list(service.tags))}'
        self.spark = _Spark()


OMITTABLE = ("daily", "latencies", "outcomes", "last_check")
"""Per-service keys a caller of status.get may leave out (``omit``, docs/feed.md): the bulk
of the 1.5 MB reply for 1,000 services, for clients that do not show them."""


class ServiceFragments:
    """Each service's part of status.get, encoded, until it changes. A change (a check, a
    transition, a new day, edited settings) re-encodes only what can have changed: the 89
    past days of the bar are encoded once a day (``ServiceState.history_json``), the
    sparkline one check at a time (``_Spark``), the settings once per edit. ``omit``: keys
    of OMITTABLE left out of every entry."""

    def __init__(self, omit: frozenset[str] = frozenset()) -> None:
        self._cache: dict[str, _Fragment] = {}
        self.omit = omit

    def fragment(self, st: ServiceState, today: date, threshold: float) -> bytes:
        key = (today, st.version, st.status, st.service)
        f = self._cache.get(st.service.id)
        if f is not None and f.state is st and f.key == key:
            return f.data
        if f is None or f.state is not st or f.service is not st.service:
            f = self._cache[st.service.id] = _Fragment(st)
        omit = self.omit
        daily, uptime = st.history_json(today, threshold)
        uptime_items = ",".join([f'"{w}":"{text}"' for w, text in uptime.items()])  # digits, "—"
        spark = "" if "latencies" in omit and "outcomes" in omit else None
        if spark is None:
            latencies, outcomes = f.spark.sync(st.recent)
            spark = "".join(
                [
                    "" if "latencies" in omit else f',"latencies":{latencies}',
                    "" if "outcomes" in omit else f',"outcomes":{outcomes}',
                ]
            )
        last = st.last_check
        text = "".join(
            [
                f.head,
                f',"status":"{st.status.value}","status_since":"{st.status_since.isoformat()}"',
                f.middle,
                (
                    ""
                    if "last_check" in omit
                    else f',"last_check":{_json_text(last.to_dict()) if last else "null"}'
                ),
                "" if "daily" in omit else f',"daily":{daily}',
                f',"uptime":{{{uptime_items}}}',
                spark,
                f.tail,
                f',"episode":{"null" if st.episode is None else _json_text(_episode_brief(st))}',
                f',"public":{"true" if st.service.public else "false"}',
                # issue 15: each region's view and which regions see it down (a cluster only)
                (
                    f',"regions":{_json_text(st.region_summary())}'
                    f',"status_note":{_json_text(st.status_note)}'
                    if st.regions
                    else ""
                ),
                "}",
            ]
        )
        try:
            f.data = text.encode()
        except UnicodeEncodeError:  # a lone surrogate somewhere: escape everything
            f.data = dumps(json.loads(text.encode(errors="surrogatepass")))
        f.key = key
        return f.data

    def forget_all_but(self, service_ids: set[str]) -> None:
        """Drop the fragments of services no longer tracked."""
        if len(self._cache) > len(service_ids):
            for sid in [sid for sid in self._cache if sid not in service_ids]:
                del self._cache[sid]


def service_entry(
    st: ServiceState, today: date, threshold: float, omit: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """One service's part of status.get as a dict (docs/feed.md): what ``ServiceFragments``
    encodes piece by piece (the tests compare the two)."""
    cells, uptime = st.history(today, threshold)
    entry = {
        "id": st.service.id,
        "name": st.service.name,
        "url": st.service.url,
        "status": st.status.value,
        "status_since": st.status_since.isoformat(),
        "interval_s": st.service.interval_s,
        "last_check": st.last_check.to_dict() if st.last_check else None,
        "daily": cells,
        "uptime": uptime,
        "latencies": [round(x, 1) for x in st.recent.latencies()],
        "outcomes": [o.value for o in st.recent.outcomes()],
        # issue 12: dashboard sections, filter labels, the open outage (incidents
        # from context are pre-filled with its start and cause)
        "group": st.service.group,
        "tags": list(st.service.tags),
        "episode": _episode_brief(st),
        "public": st.service.public,  # issue 13: false: never on a public route
    } | (
        # issue 15: each region's view and which regions see it down (a cluster only)
        {"regions": st.region_summary(), "status_note": st.status_note} if st.regions else {}
    )
    return {k: v for k, v in entry.items() if k not in omit}


_OUTCOME_JSON = {o: f'"{o.value}"' for o in Outcome}


def _json_text(obj: Any) -> str:
    """Compact JSON text, non-ASCII kept (encoding.dumps before the UTF-8 step)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _episode_brief(st: ServiceState) -> dict[str, Any] | None:
    """The open outage episode of a service, as status.get shows it (None when none)."""
    ep = st.episode
    if ep is None:
        return None
    return {
        "started_at": ep.started_at.isoformat(),
        "worst_status": ep.worst_status.value,
        "cause": ep.cause,
        "error": ep.error,
        "failed_checks": ep.failed_checks,
    }


def status_json(ctx: ApiContext, fragments: ServiceFragments) -> RawJSON:
    """The result of status.get, encoded: the per-service fragments come from ``fragments``."""
    now = ctx.clock.now()
    today = now.date()
    first = today - timedelta(days=HISTORY_DAYS - 1)
    live = ctx.live
    head = dumps(
        {
            "node": ctx.settings.node,
            "generated_at": now.isoformat(),
            "notice": ctx.notice,
            "overall": {"status": live.overall.value, "since": live.overall_since.isoformat()},
            "days": [(first + timedelta(days=i)).isoformat() for i in range(HISTORY_DAYS)],
            "incidents": [incident_dict(i, now, with_updates=False) for i in ctx.incidents.active],
            # issue 11: firing alerts, silences, failing channels (docs/feed.md)
            "alerts": ctx.alerts.summary() if ctx.alerts is not None else None,
        }
    )
    services = live.services
    entries = [fragments.fragment(st, today, live.major_threshold) for st in services.values()]
    fragments.forget_all_but(set(services))
    # The fragments with commas between them, as parts: copied once, into the reply frame.
    parts = [b","] * (2 * len(entries) - 1) if entries else []
    parts[0::2] = entries
    return RawJSON(head[:-1], b',"services":[', *parts, b"]}")


def methods() -> list[Method]:
    """The status methods (status.get with its own fragment caches: one per ``omit``)."""
    caches: dict[frozenset[str], ServiceFragments] = {}

    async def status_get(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
        P.only(params, {"omit"}, "status.get")
        omit = frozenset(P.string_list(params, "omit", default=[]))
        if not omit <= set(OMITTABLE):
            raise P.bad(
                f'"omit" may name {", ".join(OMITTABLE)}; got {sorted(omit - set(OMITTABLE))}'
            )
        fragments = caches.get(omit)
        if fragments is None:
            fragments = caches[omit] = ServiceFragments(omit)
        return status_json(ctx, fragments)

    return [
        Method("ping", Role.ANONYMOUS, ping, "liveness check"),
        Method(
            "status.get",
            Role.VIEWER,
            status_get,
            "overall and per-service live status (omit: per-service keys to leave out)",
        ),
        Method("daemon.stats", Role.VIEWER, daemon_stats, "scheduler lateness, journal, sessions"),
        Method(
            "status.history",
            Role.VIEWER,
            status_history,
            "status transitions of the overall status (or one service)",
        ),
    ]
