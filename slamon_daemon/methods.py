"""Feed methods: what clients may ask, each with the least role allowed (docs/feed.md).

Handlers read the live state (and later the store); they never reach into the scheduler.
A method cannot be registered without a role.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import params as P
from . import protocol
from .admin import build_admin_methods
from .detail import (
    RANGES,
    SERIES,
    calendar_months,
    figures,
    hour_floor,
    months_back,
    series_points,
    total,
)
from .feed import Method, Session
from .incident_methods import build_incident_methods
from .incidents import incident_dict
from .models import MaintenanceWindow, Role
from .protocol import EVENT_TOPICS, ErrorCode, ProtocolError, RawJSON
from .report import FORMATS, render
from .rollup import daily_status
from .sla import period_from_params, sla_report
from .state import HISTORY_DAYS, ServiceState

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


def service_snapshot(st: ServiceState, today: date, threshold: float) -> dict[str, Any]:
    """One service's part of status.get, cached until its next check (or the next day, or a
    change of its settings or status): most services have not changed between two calls."""
    return _service_entry(st, today, threshold)[0]


def _service_entry(st: ServiceState, today: date, threshold: float) -> tuple[dict[str, Any], bytes]:
    """The service's part of status.get and its JSON encoding, cached together."""
    key = (today, st.last_check, st.status, st.service)
    cached = st.snapshot
    if cached is not None and cached[0] == key:
        return cached[1], cached[2]
    cells, uptime = st.history(today, threshold)
    snap = {
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
    }
    encoded = protocol.dumps(snap)
    st.snapshot = (key, snap, encoded)
    return snap, encoded


def status_snapshot(daemon: Daemon) -> dict[str, Any]:
    """The result of status.get, from memory only."""
    now = datetime.now(UTC)
    today = now.date()
    first = today - timedelta(days=HISTORY_DAYS - 1)
    state = daemon.state
    services = [
        service_snapshot(st, today, state.major_threshold) for st in state.services.values()
    ]
    return {
        "node": daemon.settings.daemon.node,
        "generated_at": now.isoformat(),
        "notice": daemon.notice,
        "overall": {"status": state.overall.value, "since": state.overall_since.isoformat()},
        "days": [(first + timedelta(days=i)).isoformat() for i in range(HISTORY_DAYS)],
        "services": services,
        "incidents": [incident_dict(i, now, with_updates=False) for i in daemon.active_incidents],
    }


def status_snapshot_json(daemon: Daemon) -> RawJSON:
    """status_snapshot, encoded: the per-service fragments come from their caches."""
    now = datetime.now(UTC)
    today = now.date()
    first = today - timedelta(days=HISTORY_DAYS - 1)
    state = daemon.state
    head = protocol.dumps(
        {
            "node": daemon.settings.daemon.node,
            "generated_at": now.isoformat(),
            "notice": daemon.notice,
            "overall": {"status": state.overall.value, "since": state.overall_since.isoformat()},
            "days": [(first + timedelta(days=i)).isoformat() for i in range(HISTORY_DAYS)],
            "incidents": [
                incident_dict(i, now, with_updates=False) for i in daemon.active_incidents
            ],
        }
    )
    parts = b",".join(
        _service_entry(st, today, state.major_threshold)[1] for st in state.services.values()
    )
    return RawJSON(head[:-1] + b',"services":[' + parts + b"]}")


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
        return status_snapshot_json(daemon)

    async def subscribe(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, {"topics"}, "subscribe")
        s.topics |= set(_topics(params))
        return {"topics": sorted(s.topics)}

    async def unsubscribe(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, {"topics"}, "unsubscribe")
        s.topics -= set(_topics(params))
        return {"topics": sorted(s.topics)}

    async def daemon_stats(s: Session, params: dict[str, Any]) -> Any:
        no_params(params, "daemon.stats")
        return daemon.stats()

    def service_state(params: dict[str, Any]) -> ServiceState:
        sid = P.text(params, "id", max_len=64)
        st = daemon.state.services.get(sid)
        if st is None:
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no active service with id {sid!r}")
        return st

    async def service_get(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, {"id"}, "service.get")
        st = service_state(params)
        svc = st.service
        now = datetime.now(UTC)
        today = now.date()
        hourly = await daemon.store.hourly_rollups(svc.id, hour_floor(now) - timedelta(hours=167))
        daily = await daemon.store.daily_rollups(today - timedelta(days=89), service_ids=[svc.id])
        windows = {
            "24h": total(svc.id, (h for h in hourly if h.start > now - RANGES["24h"])),
            "7d": total(svc.id, hourly),
            "30d": total(svc.id, (d for d in daily if d.day > today - timedelta(days=30))),
            "90d": total(svc.id, daily),
        }
        episodes = await daemon.store.episodes(svc.id, limit=20)
        recent = await daemon.store.recent_checks(svc.id, 20)
        return {
            "service": {
                "id": svc.id,
                "name": svc.name,
                "url": svc.url,
                "method": svc.method,
                "interval_s": svc.interval_s,
                "timeout_s": svc.timeout_s,
                "degraded_after_s": svc.degraded_after_s,
                "confirm_failures": svc.confirm_failures,
                "sla_target": svc.sla_target or daemon.settings.daemon.sla_target,
            },
            "status": st.status.value,
            "status_since": st.status_since.isoformat(),
            "last_check": st.last_check.to_dict() if st.last_check else None,
            "cert_expires_at": (
                st.last_check.cert_expires_at.isoformat()
                if st.last_check and st.last_check.cert_expires_at
                else None
            ),
            "uptime": {k: r.uptime_text() for k, r in windows.items()},
            "windows": {k: figures(r) for k, r in windows.items()},
            "episodes": [e.to_dict() for e in episodes],
            "recent_checks": [c.to_dict() for c in recent],
            "maintenance": [
                w.to_dict() for w in daemon.maintenance if not w.services or svc.id in w.services
            ],
            "sla": await _month_sla(svc.id, now),
        }

    async def _month_sla(sid: str, now: datetime) -> dict[str, Any] | None:
        """This month's SLA figures of one service (target, budget, consumed, remaining)."""
        tz = daemon.settings.daemon.timezone
        period = period_from_params(month=None, days=None, first=None, last=None, now=now, tz=tz)
        services = [x for x in await daemon.store.list_services() if x.id == sid]
        report = await sla_report(
            daemon.store, services, daemon.settings.daemon.sla_target, period, now, sid
        )
        rows = report["services"]
        return {"period": report["period"]["label"], **rows[0]} if rows else None

    async def service_series(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, {"id", "range"}, "service.series")
        st = service_state(params)
        rng = P.choice(params, "range", list(SERIES), default="24h")
        span, bucket = SERIES[rng]
        now = datetime.now(UTC)
        if bucket >= timedelta(hours=1):
            end = hour_floor(now) + timedelta(hours=1)
            start = end - span
            hourly = await daemon.store.hourly_rollups(st.service.id, start, end)
            points = series_points(st.service.id, start, end, bucket, hourly=hourly)
        else:
            step = int(bucket.total_seconds())
            end = datetime.fromtimestamp((int(now.timestamp()) // step + 1) * step, UTC)
            start = end - span
            checks = await daemon.store.checks_between(st.service.id, start, end)
            points = series_points(st.service.id, start, end, bucket, checks=checks)
        summary = total(st.service.id, [])
        if bucket >= timedelta(hours=1):
            for h in hourly:
                summary.merge(h)
        else:
            for c in checks:
                summary.add(c)
        return {
            "id": st.service.id,
            "range": rng,
            "bucket_s": int(bucket.total_seconds()),
            "points": points,
            "summary": figures(summary),
        }

    async def service_calendar(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, {"id", "months", "until"}, "service.calendar")
        st = service_state(params)
        count = P.integer(params, "months", default=3, lo=1, hi=13)
        today = datetime.now(UTC).date()
        until = P.text(params, "until", default=f"{today:%Y-%m}", max_len=7)
        try:
            y, m = (int(x) for x in until.split("-"))
            date(y, m, 1)
        except ValueError:
            raise P.bad(f'"until" must be a month like "2026-11", got {until!r}') from None
        months = months_back((y, m), count)
        first = date(*months[0], 1)
        daily = await daemon.store.daily_rollups(first, service_ids=[st.service.id])
        return {
            "id": st.service.id,
            "months": calendar_months(daily, months, daemon.state.major_threshold, today),
        }

    async def service_day(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, {"id", "day"}, "service.day")
        st = service_state(params)
        raw = P.text(params, "day", max_len=10)
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            raise P.bad(f'"day" must be a date like "2026-11-21", got {raw!r}') from None
        if day == datetime.now(UTC).date():
            r = st.days.get(day)  # today: the live rollup, ahead of the database by a flush
        else:
            rows = await daemon.store.daily_rollups(day, day, service_ids=[st.service.id])
            r = rows[0] if rows else None
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        episodes = [
            e
            for e in await daemon.store.episodes(st.service.id, since=start, limit=500)
            if e.started_at < start + timedelta(days=1)
        ]
        return {
            "id": st.service.id,
            "day": day.isoformat(),
            "status": daily_status(r, daemon.state.major_threshold).value,
            "figures": figures(r) if r else None,
            "uptime": r.uptime_text() if r else "—",
            "downtime_s": round(r.downtime_s, 3) if r else 0,
            "episodes": [e.to_dict() for e in episodes],
        }

    async def status_history(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, {"id", "days", "limit"}, "status.history")
        sid = P.text(params, "id", default=None, max_len=64)
        days = P.integer(params, "days", default=7, lo=1, hi=400)
        limit = P.integer(params, "limit", default=200, lo=1, hi=5000)
        since = datetime.now(UTC) - timedelta(days=days)
        rows = await daemon.store.status_history(sid, since, limit)
        return [t.to_dict() for t in rows]

    async def sla_report_method(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, {"month", "days", "from", "to", "service", "format"}, "sla.report")
        fmt = P.choice(params, "format", ["data", *FORMATS], default="data")
        month = P.text(params, "month", default=None, max_len=7)
        days = P.integer(params, "days", default=None, lo=1, hi=3650)
        first = P.text(params, "from", default=None, max_len=10)
        last = P.text(params, "to", default=None, max_len=10)
        only = P.text(params, "service", default=None, max_len=64)
        now = datetime.now(UTC)
        try:
            period = period_from_params(
                month=month,
                days=days,
                first=first,
                last=last,
                now=now,
                tz=daemon.settings.daemon.timezone,
            )
        except ValueError as exc:
            raise P.bad(str(exc)) from None
        services = await daemon.store.list_services(include_inactive=only is not None)
        if only is not None and only not in {x.id for x in services}:
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no service {only!r}")
        report = await sla_report(
            daemon.store, services, daemon.settings.daemon.sla_target, period, now, only
        )
        if fmt == "data":
            return report
        name = f"slamon-sla-{period.label.replace(' ', '-')}.{fmt}"
        return {"format": fmt, "filename": name, "text": render(report, fmt)}

    async def maintenance_list(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, {"include_past"}, "maintenance.list")
        past = params.get("include_past", False)
        if not isinstance(past, bool):
            raise P.bad('"include_past" must be true or false')
        windows = await daemon.store.list_maintenance(since=None if past else datetime.now(UTC))
        return [w.to_dict() for w in windows]

    async def maintenance_create(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, {"title", "start", "end", "services"}, "maintenance.create")
        title = P.text(params, "title", max_len=200)
        start = P.timestamp(params, "start")
        end = P.timestamp(params, "end")
        services = P.string_list(params, "services", default=[])
        if end <= start:
            raise P.bad('"end" must be after "start"')
        unknown = [x for x in services if x not in daemon.state.services]
        if unknown:
            raise P.bad(f'"services" names unknown services {unknown}')
        window = await daemon.store.create_maintenance(
            MaintenanceWindow(
                title=title,
                starts_at=start,
                ends_at=end,
                services=tuple(services),
                created_by=s.name,
            )
        )
        await daemon.reload_maintenance()
        daemon.feed.publish("maintenance", {"action": "created", "window": window.to_dict()})
        return window.to_dict()

    async def maintenance_cancel(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, {"id"}, "maintenance.cancel")
        wid = P.integer(params, "id", lo=1, hi=2**62)
        window = await daemon.store.cancel_maintenance(wid, datetime.now(UTC))
        if window is None:
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no maintenance window {wid}")
        await daemon.reload_maintenance()
        daemon.feed.publish("maintenance", {"action": "cancelled", "window": window.to_dict()})
        return window.to_dict()

    registry = {
        m.name: m
        for m in (
            Method("ping", Role.ANONYMOUS, ping, "liveness check"),
            Method("methods", Role.ANONYMOUS, list_methods, "list methods and the role each needs"),
            Method("status.get", Role.VIEWER, status_get, "overall and per-service live status"),
            Method("subscribe", Role.VIEWER, subscribe, "receive events of the given topics"),
            Method("unsubscribe", Role.VIEWER, unsubscribe, "stop events of the given topics"),
            Method(
                "daemon.stats", Role.VIEWER, daemon_stats, "scheduler lateness, journal, sessions"
            ),
            Method(
                "status.history",
                Role.VIEWER,
                status_history,
                "status transitions of the overall status (or one service)",
            ),
            Method(
                "service.get",
                Role.VIEWER,
                service_get,
                "one service: uptimes, percentiles, episodes",
            ),
            Method("service.series", Role.VIEWER, service_series, "latency per bucket for a range"),
            Method("service.calendar", Role.VIEWER, service_calendar, "daily statuses by month"),
            Method("service.day", Role.VIEWER, service_day, "one day of one service"),
            Method(
                "sla.report",
                Role.VIEWER,
                sla_report_method,
                "SLA figures for a month, the last N days or from/to",
            ),
            Method("maintenance.list", Role.VIEWER, maintenance_list, "maintenance windows"),
            Method(
                "maintenance.create",
                Role.ADMIN,
                maintenance_create,
                "schedule a window",
                mutates=True,
            ),
            Method(
                "maintenance.cancel",
                Role.ADMIN,
                maintenance_cancel,
                "cancel a window",
                mutates=True,
            ),
            *build_admin_methods(daemon),
            *build_incident_methods(daemon),
        )
    }
    return registry
