"""The SLA report: reads rollups, days below target, episodes and first activity from the
store and hands them to sla.py's math (one code path for the CLI, the TUI and the feed).

Whole UTC months are read from the monthly rollups, the other days from the daily ones. A
report in another timezone reads the same rows for the UTC days its period covers best and
adds or takes away the hourly rollups of the hours at its two ends (``local_plan``); its days
below target are local days, counted from the hours of the UTC days with a failed check and
their neighbours.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .models import OutageEpisode, Service
from .rollup import Rollup
from .sla import Period, below_target, days_below_target, service_figures, split_months
from .store.base import NetRow, Store


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
            store.checked_on(prior_day(period), among),
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
        targets_of = {s.id: s.sla_target or default_target for s in chosen}
        plan = local_plan(period)
        if plan is None or any(t > 100 for t in targets_of.values()):
            found_episodes, firsts = await _by_hours(
                store, period, only, among, rollups, below, targets_of
            )
        else:
            found_episodes, firsts = await _by_plan(
                store, period, plan, only, among, rollups, below, targets_of
            )
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


def prior_day(period: Period) -> date:
    """The UTC day ``store.first_activity`` asks "checked on it?" of: that of the instant
    before the period's start (the day before a UTC midnight; else the start's own UTC
    day, checks after the start included)."""
    return (period.start.astimezone(UTC) - timedelta(microseconds=1)).date()


async def first_checks(
    store: Store, period: Period, checked: Sequence[str], prior: set[str]
) -> dict[str, datetime]:
    """``store.first_activity`` of the services ``checked`` in ``period`` (they have checks
    in the hours it counts): those in ``prior`` (checked on ``prior_day``) are monitored
    from its start, as first_activity says of them, and only the others are looked up
    (issue 14: the lookup of every service was the report's largest statement).

    first_activity finds the first hour with checks from the UTC hour the start falls in
    to the end, and answers the start for a service checked on ``prior_day`` when that
    hour begins before the end. A service with checks in a counted hour (those starting in
    [start, end)) has such an hour; one without has one only in the hour the start falls in
    when the start is not a whole hour (a half-hour zone; ``_by_plan`` looks those up)."""
    out = {sid: period.start for sid in checked if sid in prior}
    out.update(await first_activity_of(store, period, [sid for sid in checked if sid not in prior]))
    return out


async def first_activity_of(
    store: Store, period: Period, sids: Sequence[str]
) -> dict[str, datetime]:
    """``store.first_activity`` of the services ``sids``: named when few (a list of many ids
    is a linear search per row in PostgreSQL's generic plans, store/sql.py
    ``_of_services``); else every service's, then kept."""
    if not sids:
        return {}
    found = await store.first_activity(
        sids if len(sids) <= NAMED_AT_MOST else None, period.start, period.end
    )
    return {sid: found[sid] for sid in sids if sid in found}


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


@dataclass(frozen=True, slots=True)
class LocalPlan:
    """How a period that does not start and end at UTC midnights is read (``local_plan``).

    The old way (``_by_hours``) added up every hourly rollup whose hour starts in the period
    [start, end): the hours [``hours_from``, ``hours_to``), whole UTC hours (a half-hour
    zone's midnight leaves out the hour it falls in at the start and keeps it at the end).
    The same sums come from the daily and monthly rollups of the UTC days [``first``,
    ``last``], plus the hourly rollups of the ``plus`` hours and minus those of the
    ``minus`` hours, each (UTC day, first hour, end hour): at most 12 hours at each end,
    unless more make whole UTC months (``local_plan``). A local month in Asia/Seoul
    (+09:00) is its UTC month's row plus the 9 hours before it and minus its last 9 hours;
    one in Pacific/Chatham (+13:45) its UTC month's row plus the 13 hours before it and
    minus its last 13."""

    hours_from: datetime
    hours_to: datetime
    first: date
    last: date
    plus: tuple[tuple[date, int, int], ...]
    minus: tuple[tuple[date, int, int], ...]
    cuts: tuple[tuple[date, int, int, int], ...]
    """Where the local days fall in the UTC days: (first UTC day, cut, before, after) — hour
    h of a UTC day d from the first on is in the local day d + after when h >= cut, else
    d + before (store.local_days_failed)."""


def _hour_up(t: datetime) -> datetime:
    """The first whole UTC hour at or after ``t``."""
    u = t.astimezone(UTC)
    top = u.replace(minute=0, second=0, microsecond=0)
    return top if top == u else top + timedelta(hours=1)


ROW_HOURS = 3
"""What a daily or monthly rollup read costs a report, in hours at the ends (``local_plan``):
a row of its own with a whole histogram to parse and merge, where the hours are summed by
the database (issue 14: Chatham's month 87-99 ms with a day more and two hours less, 74-83
ms this way, SQLite)."""

_Hours = tuple[tuple[date, int, int], ...]
_End = tuple[date, _Hours, _Hours]
"""One way to read a plan's end: its first (last) UTC day, hours added, hours taken away."""


@functools.lru_cache(maxsize=64)
def local_plan(period: Period) -> LocalPlan | None:
    """The read plan of ``period`` (see LocalPlan); None when its hours fill no whole UTC
    day (then its hourly rollups are few: read them all). Remembered: reports ask for the
    same few periods again and again (issue 14: a month's cuts are ~1 ms of datetime
    arithmetic), and a plan is immutable."""
    lo, hi = _hour_up(period.start), _hour_up(period.end)
    # Each end read one of two ways: the UTC day it falls in counted less its hours outside
    # the period, or the next (previous) day first (last) plus the hours inside. The fewer
    # hours at each end (<= 12) unless the other way costs less (ROW_HOURS): whole UTC
    # months (issue 14: a month at +13:00 or +13:45, Pacific/Auckland's or Chatham's, is
    # its UTC month's row and 13 hours at each end, not 30 daily rows and 11 hours).
    d, k = lo.date(), lo.hour
    take_first: _End = (d, (), ((d, 0, k),) if k else ())
    add_after: _End = (d + timedelta(days=1), ((d, k, 24),), ())
    starts = [take_first] if not k else [take_first, add_after][:: 1 if k < 12 else -1]
    d, j = hi.date(), hi.hour
    keep_last: _End = (d, (), ((d, j, 24),))
    add_before: _End = (d - timedelta(days=1), ((d, 0, j),) if j else (), ())
    ends = [add_before] if not j else [keep_last, add_before][:: 1 if j > 12 else -1]
    best: tuple[int, date, date, _Hours, _Hours] | None = None
    for first, plus_a, minus_a in starts:
        for last, plus_b, minus_b in ends:
            if first > last:
                continue
            months, loose = split_months(first, last)
            hours = sum(b - a for _, a, b in (*plus_a, *minus_a, *plus_b, *minus_b))
            days = len(months) + sum((y - x).days + 1 for x, y in loose)
            cost = hours + ROW_HOURS * days
            if best is None or cost < best[0]:
                best = (cost, first, last, plus_a + plus_b, minus_a + minus_b)
    if best is None or starts[0][0] > ends[0][0]:
        return None  # the hours fill no whole UTC day (read the fewer hours' way)
    _, first, last, plus, minus = best
    cuts = local_cuts(ZoneInfo(period.timezone), lo.date() - timedelta(days=1), hi.date())
    if cuts is None:
        return None
    return LocalPlan(lo, hi, first, last, plus, minus, cuts)


def local_cuts(
    zone: ZoneInfo, first: date, last: date
) -> tuple[tuple[date, int, int, int], ...] | None:
    """The local days of the hours of the UTC days [first, last] as LocalPlan.cuts: the
    local day of an hour is that of its start, as the hourly grouping had it (an hour
    starting at 23:30 in a half-hour zone is in the day it starts). None when a UTC day's
    hours fall in three local days (no zone does this at the hour)."""
    out: list[tuple[date, int, int, int]] = []
    d = first
    while d <= last:
        t = datetime(d.year, d.month, d.day, tzinfo=UTC)
        o0, o1 = (
            t.astimezone(zone).utcoffset(),
            (t + timedelta(days=1)).astimezone(zone).utcoffset(),
        )
        if o0 == o1 and o0 is not None:
            days = [(t + timedelta(hours=h) + o0).date() for h in range(24)]
        else:
            days = [(t + timedelta(hours=h)).astimezone(zone).date() for h in range(24)]
        cut = next((h for h in range(24) if days[h] != days[0]), 24)
        if any(x != days[-1] for x in days[cut:]):
            return None
        seg = (cut, (days[0] - d).days, (days[-1] - d).days)
        if not out or out[-1][1:] != seg:
            out.append((d, *seg))
        d += timedelta(days=1)
    return tuple(out)


async def _by_hours(
    store: Store,
    period: Period,
    only: str | None,
    among: list[str] | None,
    rollups: dict[str, list[Rollup]],
    below: dict[str, list[date]],
    targets: dict[str, float],
) -> tuple[list[OutageEpisode], dict[str, datetime]]:
    """A period in a timezone other than UTC from every hourly rollup of it, hours grouped
    by local day (periods shorter than a UTC day; the figures ``_by_plan`` gives)."""
    zone = ZoneInfo(period.timezone)
    by_day: dict[str, dict[date, Rollup]] = {sid: {} for sid in rollups}
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
    for sid, target in targets.items():
        below[sid] = days_below_target(by_day[sid], target)
    return found_episodes, firsts


async def _by_plan(
    store: Store,
    period: Period,
    plan: LocalPlan,
    only: str | None,
    among: list[str] | None,
    rollups: dict[str, list[Rollup]],
    below: dict[str, list[date]],
    targets: dict[str, float],
) -> tuple[list[OutageEpisode], dict[str, datetime]]:
    """A period in a timezone other than UTC by ``plan`` (issue 14: every hourly rollup of a
    local month, 133,594 rows with their histograms for 1,000 services, took ~2 s). The
    same figures as ``_by_hours``: counts and histograms add and take away exactly; the
    exact latency min and max (p95's clamp, the latency objective) are read apart for the
    services whose extreme may lie in an hour taken away; downtime and maintenance seconds
    are the same sums added in another order (equal to the last bit when the intervals are
    whole seconds)."""
    months, loose = split_months(plan.first, plan.last)
    reads: list[Awaitable[list[Rollup]]] = []
    if months:
        reads.append(
            store.monthly_rollups(
                months[0], months[-1], among, error_counts=False, by_service=False
            )
        )
    reads += [store.daily_rollups(a, b, among, error_counts=False) for a, b in loose]
    # The first check (first_activity of every service was the largest statement): those
    # checked on the UTC day before the start and in the period are monitored from it (see
    # ``first_checks`` for why the figures are the same); the others are looked up with the
    # other reads (in a new database all of them, as before).
    # SQLite hands each read, as it is asked for, to the reader with the fewest under way,
    # the first of equals (store/dialects/sqlite.py): asked in this order — checked_on
    # (awaited at once), the UTC days' rows, the episodes, then the two long statements —
    # the local days and the hours at the ends run on two readers side by side, each
    # behind a short read (issue 14: the hours at the ends queued behind the local days,
    # ~15 ms more before the totals could start). PostgreSQL runs them on its pool.
    # The UTC days' rows become the totals while the hours at the ends are read; the local
    # days are awaited last.
    others = asyncio.gather(
        asyncio.gather(*reads), store.episodes_during(only, period.start, period.end)
    )
    near_days = asyncio.ensure_future(
        store.local_days_failed(among, plan.hours_from, plan.hours_to, plan.cuts)
    )
    net = asyncio.ensure_future(store.hourly_net(among, plan.plus, plan.minus))
    try:
        prior = await store.checked_on(prior_day(period), among)
        firsts = await first_activity_of(
            store, period, [sid for sid in rollups if sid not in prior]
        )
        base, found_episodes = await others
        totals = _month_totals(plan, rollups, base)
        await _totals(store, period, plan, rollups, totals, await net, prior, firsts)
        near = await near_days
    except BaseException:
        for pending in (others, net, near_days):
            pending.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await pending
        raise
    # The local days below target: only a day with a failed check can be (targets under
    # 100 %); the database sums each one's hours (store.local_days_failed).
    by_day: dict[str, dict[date, Rollup]] = {}
    for sid, local_day, checks, up, degraded, down, maintenance in near:
        if sid in rollups:
            by_day.setdefault(sid, {})[local_day] = Rollup(
                sid, local_day, None, checks, up, degraded, down, maintenance
            )
    for sid, days in by_day.items():
        if found := days_below_target(days, targets[sid]):
            below[sid] = found
    return found_episodes, firsts


def _month_totals(
    plan: LocalPlan, rollups: dict[str, list[Rollup]], base: list[list[Rollup]]
) -> dict[str, Rollup]:
    """The totals of the UTC days [plan.first, plan.last] (one Rollup a service reported):
    the first row is the total (a new Rollup, its histogram a new dict: the report's own),
    as merging it into an empty one would make it; the others are merged into it."""
    totals: dict[str, Rollup] = {}
    for got in base:
        for r in got:
            sid = r.service_id
            if sid not in rollups:
                continue
            if sid in totals:
                totals[sid].merge(r)
            else:
                r.day, r.hour = plan.first, None
                totals[sid] = r
    return totals


async def _totals(
    store: Store,
    period: Period,
    plan: LocalPlan,
    rollups: dict[str, list[Rollup]],
    totals: dict[str, Rollup],
    edges: list[NetRow],
    prior: set[str],
    firsts: dict[str, datetime],
) -> None:
    """``_by_plan``'s totals: those of the UTC days (``_month_totals``) with the hours at
    the ends added or taken away (appended to ``rollups``), their exact latency extremes,
    and the first checks left (into ``firsts``)."""
    # The hours at the ends: added, or taken away, each row into its service's total as
    # Rollup.merge then ``settle`` would (issue 14: a Rollup and a histogram dict a row
    # less); whose smallest or largest latency may be in an hour taken away is read
    # exactly below.
    unsure = []
    for hist_counts, (
        sid,
        checks,
        up,
        degraded,
        down,
        maintenance,
        downtime_s,
        latency_count,
        latency_sum_us,
        lo,
        hi,
        _text,  # parsed with the others (hist_counts)
        maintenance_s,
        taken,
        taken_min,
        taken_max,
    ) in zip(flat_hists([e[11] for e in edges]), edges, strict=True):
        if sid not in rollups:
            continue
        whole = totals.get(sid)
        if whole is None:
            whole = totals[sid] = Rollup(service_id=sid, day=plan.first)
        whole.checks += checks
        whole.up += up
        whole.degraded += degraded
        whole.down += down
        whole.maintenance += maintenance
        whole.downtime_s += downtime_s
        whole.maintenance_s += maintenance_s
        whole.latency_count += latency_count
        whole.latency_sum_us += latency_sum_us
        # The min and max of the whole and of the hours added.
        if lo is not None:
            mn = whole.latency_min_ms
            whole.latency_min_ms = lo if mn is None else min(mn, lo)
        if hi is not None:
            mx = whole.latency_max_ms
            whole.latency_max_ms = hi if mx is None else max(mx, hi)
        if taken and (
            whole.latency_min_ms is None
            or whole.latency_max_ms is None
            or (taken_min is not None and taken_min <= whole.latency_min_ms)
            or (taken_max is not None and taken_max >= whole.latency_max_ms)
        ):
            unsure.append(sid)
        add_counts(whole.hist, hist_counts)
        settle(whole)
    checked = {sid for sid, t in totals.items() if t.checks}
    firsts.update((sid, period.start) for sid in checked if sid in prior)
    unknown: list[str] = []
    if period.start.astimezone(UTC) != plan.hours_from:
        # A start inside a UTC hour (a half-hour zone): first_activity also finds a check
        # in that hour before the first one counted (first_checks).
        unknown = [sid for sid in rollups if sid in prior and sid not in checked]

    async def extremes() -> dict[str, tuple[float | None, float | None]]:
        if not unsure:
            return {}
        return await store.hourly_extremes(
            unsure if len(unsure) <= NAMED_AT_MOST else None, plan.hours_from, plan.hours_to
        )

    exact, more = await asyncio.gather(extremes(), first_activity_of(store, period, unknown))
    firsts.update(more)
    for sid in unsure:
        t = totals[sid]
        t.latency_min_ms, t.latency_max_ms = exact.get(sid, (None, None))
        if not t.latency_count:
            t.latency_min_ms = t.latency_max_ms = None
    for sid, t in totals.items():
        rollups[sid].append(t)


def flat_hists(texts: list[str]) -> list[list[int]]:
    """Histogram texts (``NetRow``'s) as flat lists of integers, ``{"12":3,"15":-1}`` ->
    ``[12, 3, 15, -1]``: all of them by one JSON parse of their joined text (as
    rollup.parse_hist reads one; issue 14: a parse a row was ~3 µs each)."""
    if not texts:
        return []
    joined = ",".join(texts).replace('"', "").replace(":", ",")
    out: list[list[int]] = json.loads("[" + joined.replace("{", "[").replace("}", "]") + "]")
    return out


def add_counts(hist: dict[int, int], flat: list[int]) -> None:
    """Add the buckets of ``flat`` (``flat_hists``' [bucket, count, ...]: repeated buckets
    add up, counts may be negative) into ``hist``; a bucket left empty goes."""
    it = iter(flat)
    for b, n in zip(it, it, strict=True):
        if v := hist.get(b, 0) + n:
            hist[b] = v
        else:
            hist.pop(b, None)


def settle(total: Rollup) -> None:
    """After the hours at the ends (counts possibly negative) were added into ``total``: a
    float sum that was all taken away is 0.0 (not -0.0 or 1e-14 in the report), no latency
    figures without answered checks."""
    if abs(total.downtime_s) < 5e-7:
        total.downtime_s = 0.0
    if abs(total.maintenance_s) < 5e-7:
        total.maintenance_s = 0.0
    if not total.latency_count:
        total.latency_min_ms = total.latency_max_ms = None
