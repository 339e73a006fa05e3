"""The SLA report: reads rollups, days below target, episodes and first activity from the
store and hands them to sla.py's math (one code path for the CLI, the TUI and the feed).

Whole UTC months are read from the monthly rollups, the other days from the daily ones; a
report in another timezone is built from hourly rollups grouped by local day.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .models import OutageEpisode, Service
from .rollup import Rollup
from .sla import Period, below_target, days_below_target, service_figures, split_months
from .store.base import Store


async def sla_report(
    store: Store,
    services: list[Service],
    default_target: float,
    period: Period,
    now: datetime,
    only: str | None = None,
) -> dict[str, Any]:
    """The SLA report for ``period`` (one code path for the CLI, the TUI and the feed)."""
    chosen = [s for s in services if only is None or s.id == only]
    ids = [s.id for s in chosen]
    # The whole report reads every service's rows and drops those of services it does not
    # show (paused, removed): a list of 1,000 ids in each statement is a linear search per
    # row in PostgreSQL's generic plans (store/sql.py ``_of_services``).
    among: list[str] | None = None if only is None else ids
    utc_days = period.timezone == "UTC"
    rollups: dict[str, list[Rollup]] = {sid: [] for sid in ids}
    below: dict[str, list[date]] = {}
    if utc_days:
        last = (period.end - timedelta(microseconds=1)).date()
        months, loose = split_months(period.start.date(), last)

        # Every read at once (PostgreSQL runs them on several connections of its pool;
        # SQLite's one reader takes them in turn): the totals from monthly rollups for whole
        # months and daily ones for the other days; the days below target, found by the
        # database (one statement per distinct target, each reading only the period's days
        # with a failed check, migration 0013: a day without one is at 100 %, and targets
        # over 100 % are read in full); the episodes; who was checked the day before the
        # period. (The days below target waited for the totals before, to leave out the
        # services without a failed check: a round trip more, issue 14.)
        reads: list[Awaitable[list[Rollup]]] = []
        if months:
            reads.append(
                store.monthly_rollups(
                    months[0], months[-1], among, error_counts=False, by_service=False
                )
            )
        reads += [store.daily_rollups(a, b, among, error_counts=False) for a, b in loose]
        targets: dict[float, set[str]] = {}
        for s in chosen:
            targets.setdefault(s.sla_target or default_target, set()).add(s.id)
        groups = list(targets.items())
        first_day = period.start.date()

        async def days_below() -> list[list[tuple[str, date]]]:
            # One target after the other (one connection of the pool, not one per target).
            return [
                await store.days_below(None if among is None else sorted(sids), first_day, last, t)
                for t, sids in groups
            ]

        found_episodes, prior, totals, belows = await asyncio.gather(
            store.episodes_during(only, period.start, period.end),
            store.checked_on(first_day - timedelta(days=1), among),
            asyncio.gather(*reads),
            days_below(),
        )
        for got in totals:
            for r in got:
                if (of := rollups.get(r.service_id)) is not None:
                    of.append(r)
        for (_, sids), found in zip(groups, belows, strict=True):
            for sid, day in found:
                if sid in sids:
                    below.setdefault(sid, []).append(day)
        checked = [sid for sid in ids if any(r.checks for r in rollups[sid])]
        firsts = await first_checks(store, period, checked, prior)
    else:
        zone = ZoneInfo(period.timezone)
        by_day: dict[str, dict[date, Rollup]] = {sid: {} for sid in ids}
        # Every service's hours in one statement (one per service before), beside the rest.
        hours, found_episodes, firsts = await asyncio.gather(
            store.hourly_rollups_of(among, period.start, period.end),
            store.episodes_during(only, period.start, period.end),
            store.first_activity(among, period.start, period.end),
        )
        for h in hours:
            sid = h.service_id
            if sid not in rollups:
                continue
            rollups[sid].append(h)
            local_day = h.start.astimezone(zone).date()
            cur = by_day[sid].setdefault(local_day, Rollup(service_id=sid, day=local_day))
            cur.merge(h)
        for s in chosen:
            below[s.id] = days_below_target(by_day[s.id], s.sla_target or default_target)
    episodes: dict[str, list[OutageEpisode]] = {sid: [] for sid in ids}
    # One service's report (service.get) reads only its own episodes.
    for e in found_episodes:
        if e.service_id in episodes:
            episodes[e.service_id].append(e)
    rows = [
        service_figures(
            s,
            s.sla_target or default_target,
            period,
            now,
            rollups[s.id],
            below.get(s.id, []),
            episodes[s.id],
            firsts.get(s.id),
        )
        for s in chosen
    ]
    return {
        "period": {
            "label": period.label,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "timezone": period.timezone,
            "days": len(period.days),
            "complete": now >= period.end,
        },
        "generated_at": now.isoformat(),
        "services": rows,
        "breached": [r["id"] for r in rows if r["met"] is False],
    }


NAMED_AT_MOST = 100
"""``first_checks`` names at most this many services to ``first_activity``."""


async def first_checks(
    store: Store, period: Period, checked: Sequence[str], prior: set[str]
) -> dict[str, datetime]:
    """``store.first_activity`` of the services ``checked`` in ``period`` (they have checks
    in it), for a period of whole UTC days: those in ``prior`` (checked the day before it)
    are monitored from its start, as first_activity says of them, and only the others are
    looked up (issue 14: the lookup of every service was the report's largest statement)."""
    out = {sid: period.start for sid in checked if sid in prior}
    rest = [sid for sid in checked if sid not in prior]
    if rest:
        # Named when few (a list of many ids is a linear search per row in PostgreSQL's
        # generic plans, store/sql.py ``_of_services``); else every service's, then kept.
        found = await store.first_activity(
            rest if len(rest) <= NAMED_AT_MOST else None, period.start, period.end
        )
        out.update((sid, found[sid]) for sid in rest if sid in found)
    return out


async def month_first_check(
    store: Store, period: Period, service_id: str, daily: list[Rollup], monthly: list[Rollup]
) -> datetime | None:
    """One service's first check in the UTC month ``period`` (``first_activity``), from
    what service.get has read: the month's rollup (checked in it at all?) and its daily
    rollups (checked the day before? then the month's start); a statement only for a
    service first checked in the month."""
    before = period.start.date() - timedelta(days=1)
    found = await first_checks(
        store,
        period,
        [service_id] if any(m.checks for m in monthly) else [],
        {service_id} if any(d.day == before and d.checks for d in daily) else set(),
    )
    return found.get(service_id)


def month_figures(
    service: Service,
    target: float,
    period: Period,
    now: datetime,
    monthly: list[Rollup],
    daily: list[Rollup],
    episodes: list[OutageEpisode],
    first_check: datetime | None,
) -> dict[str, Any]:
    """One service's figures for a whole UTC month (``period``) from what service.get has
    read already: the month's rollup, daily rollups covering the month, its episodes
    (those that overlap the month: ``service_figures`` counts those that started in it) and
    its first check in the month. The
    same figures as ``sla_report``'s row (tests/daemon/test_service_month.py)."""
    first, last = period.start.date(), (period.end - timedelta(microseconds=1)).date()
    below = [r.day for r in daily if first <= r.day <= last and below_target(r, target)]
    during = [
        e
        for e in episodes
        if e.started_at < period.end and (e.ended_at is None or e.ended_at > period.start)
    ]
    return service_figures(service, target, period, now, monthly, below, during, first_check)
