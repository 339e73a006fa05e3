"""ping, status.get, status.history and daemon.stats (docs/feed.md).

status.get is answered from memory, never from the database (PERF-NOTES.md). Its reply is
assembled from one JSON fragment per service, kept until that service's next check (or the
next day, or a change of its settings or status): most services have not changed between
two calls, so a call does not re-encode them.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from ..encoding import RawJSON, dumps
from ..incidents import incident_dict
from ..models import Role
from ..state import HISTORY_DAYS, ServiceState
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


class ServiceFragments:
    """Each service's part of status.get, encoded, until it changes."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[Any, bytes]] = {}

    def fragment(self, st: ServiceState, today: date, threshold: float) -> bytes:
        key = (today, st.last_check, st.status, st.service, st.down_regions)
        cached = self._cache.get(st.service.id)
        if cached is not None and cached[0] == key:
            return cached[1]
        cells, uptime = st.history(today, threshold)
        encoded = dumps(
            {
                "id": st.service.id,
                "name": st.service.name,
                "url": st.service.url,
                "status": st.status.value,
                "status_since": st.status_since.isoformat(),
                "interval_s": st.service.interval_s,
                "last_check": st.last_check.to_dict() if st.last_check else None,
                "daily": cells,
                "uptime": uptime,
                "latencies": [round(c.latency_ms, 1) for c in st.recent],
                "outcomes": [c.outcome.value for c in st.recent],
                # issue 12: dashboard sections, filter labels, the open outage (incidents
                # from context are pre-filled with its start and cause)
                "group": st.service.group,
                "tags": list(st.service.tags),
                "episode": _episode_brief(st),
                "public": st.service.public,  # issue 13: false: never on a public route
            }
            # issue 15: each region's view and which regions see it down (a cluster only)
            | (
                {"regions": st.region_summary(), "status_note": st.status_note}
                if st.regions
                else {}
            )
        )
        self._cache[st.service.id] = (key, encoded)
        return encoded

    def forget_all_but(self, service_ids: set[str]) -> None:
        """Drop the fragments of services no longer tracked."""
        if len(self._cache) > len(service_ids):
            for sid in [sid for sid in self._cache if sid not in service_ids]:
                del self._cache[sid]


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
    parts = b",".join(
        fragments.fragment(st, today, live.major_threshold) for st in services.values()
    )
    fragments.forget_all_but(set(services))
    return RawJSON(head[:-1] + b',"services":[' + parts + b"]}")


def methods() -> list[Method]:
    """The status methods (status.get with its own fragment cache)."""
    fragments = ServiceFragments()

    async def status_get(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
        P.none(params, "status.get")
        return status_json(ctx, fragments)

    return [
        Method("ping", Role.ANONYMOUS, ping, "liveness check"),
        Method("status.get", Role.VIEWER, status_get, "overall and per-service live status"),
        Method("daemon.stats", Role.VIEWER, daemon_stats, "scheduler lateness, journal, sessions"),
        Method(
            "status.history",
            Role.VIEWER,
            status_history,
            "status transitions of the overall status (or one service)",
        ),
    ]
