"""Feed methods: what clients may ask, each with the least role allowed (docs/feed.md).

Handlers read the live state (and later the store); they never reach into the scheduler.
A method cannot be registered without a role.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .feed import Method, Session
from .models import Role
from .protocol import EVENT_TOPICS, ErrorCode, ProtocolError
from .state import HISTORY_DAYS

if TYPE_CHECKING:
    from .daemon import Daemon


def _topics(params: dict[str, Any]) -> list[str]:
    topics = params.get("topics", list(EVENT_TOPICS))
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise ProtocolError(ErrorCode.INVALID_PARAMS, '"topics" must be a list of strings')
    unknown = sorted(set(topics) - set(EVENT_TOPICS))
    if unknown:
        raise ProtocolError(
            ErrorCode.INVALID_PARAMS,
            f"unknown topics {unknown}; allowed: {', '.join(EVENT_TOPICS)}",
        )
    return topics


def no_params(params: dict[str, Any], method: str) -> None:
    if params:
        raise ProtocolError(
            ErrorCode.INVALID_PARAMS, f"{method} takes no params; got {sorted(params)}"
        )


def status_snapshot(daemon: Daemon) -> dict[str, Any]:
    """The result of status.get, from memory only."""
    now = datetime.now(UTC)
    today = now.date()
    first = today - timedelta(days=HISTORY_DAYS - 1)
    state = daemon.state
    services = []
    for st in state.services.values():
        cells, uptime = st.history(today, state.major_threshold)
        services.append({
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
        })
    return {
        "node": daemon.settings.daemon.node,
        "generated_at": now.isoformat(),
        "notice": daemon.notice,
        "overall": {"status": state.overall.value, "since": state.overall_since.isoformat()},
        "days": [(first + timedelta(days=i)).isoformat() for i in range(HISTORY_DAYS)],
        "services": services,
    }


def build_methods(daemon: Daemon) -> dict[str, Method]:
    """Every feed method of ``daemon``."""

    async def ping(s: Session, params: dict[str, Any]) -> Any:
        no_params(params, "ping")
        return {"pong": True, "time": datetime.now(UTC).isoformat()}

    async def list_methods(s: Session, params: dict[str, Any]) -> Any:
        no_params(params, "methods")
        return [
            {"name": m.name, "role": m.role.name.lower(), "doc": m.doc}
            for m in sorted(registry.values(), key=lambda m: m.name)
        ]

    async def status_get(s: Session, params: dict[str, Any]) -> Any:
        no_params(params, "status.get")
        return status_snapshot(daemon)

    async def subscribe(s: Session, params: dict[str, Any]) -> Any:
        s.topics |= set(_topics(params))
        return {"topics": sorted(s.topics)}

    async def unsubscribe(s: Session, params: dict[str, Any]) -> Any:
        s.topics -= set(_topics(params))
        return {"topics": sorted(s.topics)}

    async def daemon_stats(s: Session, params: dict[str, Any]) -> Any:
        no_params(params, "daemon.stats")
        return daemon.stats()

    registry = {
        m.name: m
        for m in (
            Method("ping", Role.ANONYMOUS, ping, "liveness check"),
            Method("methods", Role.ANONYMOUS, list_methods, "list methods and the role each needs"),
            Method("status.get", Role.VIEWER, status_get, "overall and per-service live status"),
            Method("subscribe", Role.VIEWER, subscribe, "receive events of the given topics"),
            Method("unsubscribe", Role.VIEWER, unsubscribe, "stop events of the given topics"),
            Method("daemon.stats", Role.VIEWER, daemon_stats, "scheduler lateness, write queue"),
        )
    }
    return registry
