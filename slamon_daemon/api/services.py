"""One service in detail: service.get, service.series, service.calendar, service.day.

Figures come from the store's rollups and checks (detail.py does the math); today's daily
rollup comes from the live state, which is ahead of the database by one flush.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from ..detail import (
    RANGES,
    SERIES,
    calendar_months,
    figures,
    hour_floor,
    months_back,
    series_points,
)
from ..errors import NotFound
from ..models import Role, Service
from ..reports import month_figures, month_first_check, sla_report
from ..rollup import Rollup, daily_status, downtime_within, linked, sum_rollups
from ..sla import period_from_params
from ..state import ServiceState
from . import params as P
from .context import ApiContext, Caller
from .registry import Method

REGION_WINDOWS = ("24h", "7d", "30d")
"""Windows of a cluster's per-region uptime (issue 15), 24 h first: rolling, from the
stored checks (which are kept ``retention_days``), so 90 days is not one of them."""
REGION_LONG_EVERY = timedelta(minutes=10)
"""How often service.get reads a service's per-region 7 and 30 days again: a scan of up to
30 days of its checks (0.2-0.4 s for a 60 s service in 3 regions, docs/benchmarks.md), whose
figures move little in minutes; the 24 h is read each time."""


async def region_uptime(ctx: ApiContext, service_id: str, now: datetime) -> dict[str, Any]:
    """Per-region uptime of a cluster's service over ``REGION_WINDOWS`` (README)."""
    hit = ctx.long_region_uptime.get(service_id)
    if hit is None or not hit[0] <= now < hit[0] + REGION_LONG_EVERY:
        since = {w: now - RANGES[w] for w in REGION_WINDOWS[1:]}
        hit = ctx.long_region_uptime[service_id] = (
            now,
            await ctx.store.region_uptime(service_id, since),
        )
    day = await ctx.store.region_uptime(service_id, {"24h": now - RANGES["24h"]})
    return {w: (day | hit[1]).get(w, {}) for w in REGION_WINDOWS}


RECENT_CHECKS = 20
"""How many of a service's latest checks service.get shows."""


def recent_since(st: ServiceState) -> datetime | None:
    """Where service.get's latest checks start at the latest: the start of the live state's
    ``2 × RECENT_CHECKS``-th latest check (of its oldest when it holds fewer; None when it
    holds fewer than ``RECENT_CHECKS``). A hint for the store, which reads the whole table
    when it finds fewer there; the margin covers checks the live state has that the
    database does not have yet (it is ahead by a flush)."""
    recent = st.recent
    if len(recent) < RECENT_CHECKS:
        return None
    return recent[-min(len(recent), 2 * RECENT_CHECKS)].started_at


def service_state(ctx: ApiContext, params: dict[str, Any]) -> ServiceState:
    """The live state of the active service named by ``params["id"]``."""
    sid = P.text(params, "id", max_len=64)
    st = ctx.live.services.get(sid)
    if st is None:
        raise NotFound(f"no active service with id {sid!r}")
    return st


async def service_get(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"id"}, "service.get")
    st = service_state(ctx, params)
    svc = st.service
    store = ctx.store
    now = ctx.clock.now()
    today = now.date()
    # 7d: the hours of its first (partial) day, the whole days between from the daily
    # rollups, then yesterday's and today's hours (24h needs them): ~70 hourly rows, not 168.
    first_hour = hour_floor(now) - timedelta(hours=167)
    first_day, yesterday = first_hour.date(), today - timedelta(days=1)
    period = period_from_params(
        month=None, days=None, first=None, last=None, now=now, tz=ctx.settings.timezone
    )
    utc = period.timezone == "UTC"  # this month's SLA from the rollups read here
    # Three statements (eleven before: a round trip each is a wake-up of SQLite's reader
    # thread or a connection of PostgreSQL's pool); independent, so at once.
    rollups, episodes, recent = await asyncio.gather(
        store.service_rollups(
            svc.id,
            first_day,
            yesterday,
            today - timedelta(days=89),
            period.start.date() if utc else None,
        ),
        store.service_episodes(svc.id, 20, period.start, period.end),
        store.recent_checks(svc.id, RECENT_CHECKS, recent_since(st)),
    )
    hourly, daily, monthly = rollups
    edge_end = datetime.combine(first_day + timedelta(days=1), time(), UTC)
    edge = [h for h in hourly if first_hour <= h.start < edge_end]
    recent_hours = [h for h in hourly if h.day >= yesterday]
    if utc:
        target = svc.sla_target or ctx.settings.sla_target
        # Its first check this month from the rollups read (the daily rows go back 89 days,
        # to before the month): a fourth statement only for a service first checked in it.
        first = await month_first_check(store, period, svc.id, daily, monthly)
        row = month_figures(svc, target, period, now, monthly, daily, episodes, first)
        sla: dict[str, Any] | None = {"period": period.label, **row}
    else:
        sla = await month_sla(ctx, svc, now)

    def window(rollups: Iterable[Rollup]) -> Rollup:
        return sum_rollups(rollups, svc.id, date.min)

    windows = {
        "24h": window(h for h in recent_hours if h.start > now - RANGES["24h"]),
        "7d": window(
            [
                *edge,
                *(d for d in daily if first_day < d.day < yesterday),
                *recent_hours,
            ]
        ),
        **long_windows(svc.id, today, daily),
    }
    last = st.last_check
    region = await region_uptime(ctx, svc.id, now) if st.regions else {}
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
            "sla_target": svc.sla_target or ctx.settings.sla_target,
        },
        "status": st.status.value,
        "status_since": st.status_since.isoformat(),
        "last_check": last.to_dict() if last else None,
        "cert_expires_at": (
            last.cert_expires_at.isoformat() if last and last.cert_expires_at else None
        ),
        "uptime": {k: r.uptime_text() for k, r in windows.items()},
        "windows": {k: figures(r) for k, r in windows.items()},
        "episodes": [e.to_dict() for e in episodes[:20]],
        "recent_checks": [c.to_dict() for c in recent],
        "maintenance": [
            w.to_dict() for w in ctx.maintenance.windows if not w.services or svc.id in w.services
        ],
        "sla": sla,
    } | (
        # issue 15: per-region uptime beside the quorum figures (README), each region's
        # view and the quorum picture (docs/feed.md)
        {
            "region_uptime_24h": region.get("24h", {}),
            "region_uptime": region,
            "regions": st.region_summary(),
            "status_note": st.status_note,
            "quorum": ctx.live.quorum_view(st),
        }
        if st.regions
        else {}
    )


_PAST_SUMS: dict[str, tuple[tuple[Any, ...], Rollup, Rollup]] = {}
"""Per service: what its past days' daily rollups were (a key of their counts) and their
30- and 90-day sums (they change only with a late check, or when the day does)."""
_PAST_SUMS_MAX = 1024


def long_windows(sid: str, today: date, daily: list[Rollup]) -> dict[str, Rollup]:
    """The 30d and 90d windows of service.get from ``daily`` (by day, the last 90 days):
    the sums of the past days are kept from the last call while their rows are unchanged,
    then today's row is added, in the same order as summing every row (the same figures)."""
    past = [d for d in daily if d.day < today]
    key = (today, *((d.day, d.checks, d.up, d.down, d.latency_count, d.downtime_s) for d in past))
    kept = _PAST_SUMS.get(sid)
    if kept is None or kept[0] != key:
        cut = today - timedelta(days=30)
        kept = (
            key,
            sum_rollups((d for d in past if d.day > cut), sid, date.min),
            sum_rollups(past, sid, date.min),
        )
        if len(_PAST_SUMS) >= _PAST_SUMS_MAX:
            _PAST_SUMS.clear()
        _PAST_SUMS[sid] = kept
    rest = [d for d in daily if d.day >= today]
    return {
        "30d": sum_rollups([kept[1], *rest], sid, date.min),
        "90d": sum_rollups([kept[2], *rest], sid, date.min),
    }


async def month_sla(ctx: ApiContext, svc: Service, now: datetime) -> dict[str, Any] | None:
    """This month's SLA figures of one service (target, budget, consumed, remaining)."""
    cfg = ctx.settings
    period = period_from_params(
        month=None, days=None, first=None, last=None, now=now, tz=cfg.timezone
    )
    # The service as the live state has it: reading every service from the store (and
    # decoding each one's settings) only to pick this one cost ~10 ms with 1,000 services.
    report = await sla_report(ctx.store, [svc], cfg.sla_target, period, now, svc.id)
    rows = report["services"]
    return {"period": report["period"]["label"], **rows[0]} if rows else None


async def service_series(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"id", "range"}, "service.series")
    st = service_state(ctx, params)
    sid = st.service.id
    rng = P.choice(params, "range", list(SERIES), default="24h")
    span, bucket = SERIES[rng]
    now = ctx.clock.now()
    summary = sum_rollups([], sid, date.min)
    if bucket >= timedelta(hours=1):
        end = hour_floor(now) + timedelta(hours=1)
        start = end - span
        hourly = await ctx.store.hourly_rollups(sid, start, end)
        points = series_points(sid, start, end, bucket, hourly=hourly)
        for h in hourly:
            summary.merge(h)
    else:
        step = int(bucket.total_seconds())
        end = datetime.fromtimestamp((int(now.timestamp()) // step + 1) * step, UTC)
        start = end - span
        checks = await ctx.store.checks_between(sid, start, end)
        points = series_points(sid, start, end, bucket, checks=checks)
        for c in checks:
            summary.add(c, downtime=False)
        summary.downtime_s = downtime_within(linked(checks), start, end)
    return {
        "id": sid,
        "range": rng,
        "bucket_s": int(bucket.total_seconds()),
        "points": points,
        "summary": figures(summary),
    }


async def service_calendar(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"id", "months", "until"}, "service.calendar")
    st = service_state(ctx, params)
    count = P.integer(params, "months", default=3, lo=1, hi=13)
    today = ctx.clock.now().date()
    until = P.text(params, "until", default=f"{today:%Y-%m}", max_len=7)
    try:
        y, m = (int(x) for x in until.split("-"))
        date(y, m, 1)
    except ValueError:
        raise P.bad(f'"until" must be a month like "2026-11", got {until!r}') from None
    months = months_back((y, m), count)
    first = date(*months[0], 1)
    daily = await ctx.store.daily_rollups(first, service_ids=[st.service.id])
    return {
        "id": st.service.id,
        "months": calendar_months(daily, months, ctx.live.major_threshold, today),
    }


async def service_day(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"id", "day"}, "service.day")
    st = service_state(ctx, params)
    raw = P.text(params, "day", max_len=10)
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise P.bad(f'"day" must be a date like "2026-11-21", got {raw!r}') from None
    if day == ctx.clock.now().date():
        r = st.day_rollup(day)  # today: the live rollup, ahead of the database by a flush
    else:
        rows = await ctx.store.daily_rollups(day, day, service_ids=[st.service.id])
        r = rows[0] if rows else None
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    episodes = [
        e
        for e in await ctx.store.episodes(st.service.id, since=start, limit=500)
        if e.started_at < start + timedelta(days=1)
    ]
    return {
        "id": st.service.id,
        "day": day.isoformat(),
        "status": daily_status(r, ctx.live.major_threshold).value,
        "figures": figures(r) if r else None,
        "uptime": r.uptime_text() if r else "—",
        "downtime_s": round(r.downtime_s, 3) if r else 0,
        "episodes": [e.to_dict() for e in episodes[:20]],
    }


def methods() -> list[Method]:
    """The service detail methods."""
    return [
        Method(
            "service.get", Role.VIEWER, service_get, "one service: uptimes, percentiles, episodes"
        ),
        Method("service.series", Role.VIEWER, service_series, "latency per bucket for a range"),
        Method("service.calendar", Role.VIEWER, service_calendar, "daily statuses by month"),
        Method("service.day", Role.VIEWER, service_day, "one day of one service"),
    ]
