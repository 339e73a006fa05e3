"""SLA periods, budgets, MTTR/MTBF (SPEC §3.5): pure math over rollups and episodes.

reports.py reads what these need from the store (one code path for the CLI, the TUI and the
feed).

Definitions, for one service over a period [start, end):
* The *monitored* part starts at the service's first check in the period (to the check, not
  the hour: a service checked for 12 s has been monitored 12 s), or at the period's start
  when the service was already checked the day before it; it ends at the period's end or
  now, whichever is first. A service added mid-month is judged on the part it was monitored
  (the report says so). Where retention removed the raw checks, the hour of the first check.
* Maintenance is excluded everywhere: maintenance checks are not counted in uptime, and the
  time they stand for (their intervals) is taken out of the monitored time.
* Uptime % = (up + degraded) / (checks − maintenance checks) (rollup.py), two decimals truncated.
  Met when uptime ≥ target (the service's sla_target, else the daemon's).
* Error budget (minutes) = (1 − target) × counted time, counted time = monitored − maintenance.
  Consumed = downtime (the intervals of failed checks outside maintenance). Remaining =
  budget − consumed (negative when breached).
* Days below target: UTC days (or days in the configured timezone) whose uptime < target.
* Outage episodes: those that started in the period (an episode belongs to the month it
  started in, so months add up). MTTR = mean duration of those that ended; MTBF = (counted
  time − downtime) / number of episodes (None without episodes). An episode that started
  before the period and lasted into it is not among them, but is counted apart
  (``episodes_from_before``), so a month spent down under an outage begun the month before
  does not read "0 outages" and nothing more.
* p95 latency: nearest-rank from the merged histogram (within 1 %).
* Latency objective (optional, per service: e.g. 95 % of answered checks under 1000 ms):
  compliance = share of answered checks at or under the threshold T. It is counted from the
  histogram, whose buckets are exact on one side of T: every bucket entirely at or under T
  counts, every one entirely over T does not, and the exact min and max settle the rest when
  they can (max ≤ T: all; min > T: none). Only checks in the one bucket that holds T
  (latencies in (T'/1.02, T'] around T, T' its upper edge: at most 2 % under or over T) are
  unknown: ``compliance_pct`` counts them as over (it never claims more than is true) and
  ``compliance_max_pct`` as under; the truth lies between, and ``met`` is judged on the
  lower figure. ``exact`` says when the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .models import OutageEpisode, Service
from .rollup import (
    HIST_GAMMA,
    Rollup,
    bucket_of,
    sum_rollups,
    uptime_percent_text,
    uptime_ratio,
)


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end) in UTC, with how it was asked for."""

    start: datetime
    end: datetime
    label: str
    timezone: str = "UTC"

    @property
    def days(self) -> list[date]:
        tz = ZoneInfo(self.timezone)
        d = self.start.astimezone(tz).date()
        out = []
        while datetime(d.year, d.month, d.day, tzinfo=tz) < self.end:
            out.append(d)
            d += timedelta(days=1)
        return out


def month_period(month: str, tz: str = "UTC") -> Period:
    """The calendar month "YYYY-MM" in ``tz``. Raises ValueError with what is allowed."""
    try:
        y, m = (int(x) for x in month.split("-"))
        date(y, m, 1)
    except ValueError:
        raise ValueError(f"month must look like 2026-10, got {month!r}") from None
    zone = ZoneInfo(tz)
    start = datetime(y, m, 1, tzinfo=zone)
    ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
    end = datetime(ny, nm, 1, tzinfo=zone)
    return Period(start.astimezone(UTC), end.astimezone(UTC), f"{y:04d}-{m:02d}", tz)


def last_days_period(days: int, now: datetime, tz: str = "UTC") -> Period:
    """The last ``days`` whole days up to and including today (in ``tz``)."""
    if not 1 <= days <= 3650:
        raise ValueError(f"days must be 1..3650, got {days}")
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=zone)
    end = datetime(today.year, today.month, today.day, tzinfo=zone) + timedelta(days=1)
    return Period(start.astimezone(UTC), end.astimezone(UTC), f"last {days} days", tz)


def range_period(first: str, last: str, tz: str = "UTC") -> Period:
    """From the day ``first`` to the day ``last`` inclusive (YYYY-MM-DD)."""
    try:
        a, b = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError:
        raise ValueError(f"from/to must be days like 2026-10-01, got {first!r}/{last!r}") from None
    if b < a:
        raise ValueError("to must not be before from")
    zone = ZoneInfo(tz)
    start = datetime(a.year, a.month, a.day, tzinfo=zone)
    end = datetime(b.year, b.month, b.day, tzinfo=zone) + timedelta(days=1)
    return Period(start.astimezone(UTC), end.astimezone(UTC), f"{a} to {b}", tz)


def default_month(now: datetime, tz: str = "UTC") -> str:
    local = now.astimezone(ZoneInfo(tz))
    return f"{local.year:04d}-{local.month:02d}"


def objective_share(r: Rollup, threshold_ms: float) -> tuple[float, float] | None:
    """(at least, at most) the share of answered checks at or under ``threshold_ms`` (see
    the module docstring); None without answered checks."""
    n = r.latency_count
    if n == 0:
        return None
    if r.latency_max_ms is not None and r.latency_max_ms <= threshold_ms:
        return 1.0, 1.0
    if r.latency_min_ms is not None and r.latency_min_ms > threshold_ms:
        return 0.0, 0.0
    holding = bucket_of(threshold_ms)  # γ^(holding−1) < T ≤ γ^holding
    under = sum(c for b, c in r.hist.items() if b < holding)
    unknown = r.hist.get(holding, 0)
    if HIST_GAMMA**holding <= threshold_ms * (1 + 1e-12):  # T is that bucket's upper edge
        under, unknown = under + unknown, 0
    return under / n, (under + unknown) / n


def service_figures(
    service: Service,
    target: float,
    period: Period,
    now: datetime,
    rollups: list[Rollup],
    days_below: list[date],
    episodes: list[OutageEpisode],
    first_check: datetime | None,
) -> dict[str, Any]:
    """The SLA figures of one service (see the module docstring). ``episodes``: those that
    overlap the period (``Store.episodes_during``)."""
    # One rollup (a whole month) is read as it is; several are added up.
    total = (
        rollups[0] if len(rollups) == 1 else sum_rollups(rollups, service.id, period.start.date())
    )
    # What is the same for every service of a report, computed once (issue 14: this function
    # runs 1,000 times a report).
    end, period_s, partial_from, start_text = _of_period(period, now)
    if first_check is None:
        monitored_from, monitored_s, from_text = None, 0.0, None
    else:
        monitored_from = max(period.start, first_check)
        monitored_s = max(0.0, (end - monitored_from).total_seconds())
        from_text = start_text if monitored_from == period.start else monitored_from.isoformat()
    # Each maintenance check stands for the interval it was made at (as a failed one does).
    maintenance_s = total.maintenance_s
    counted_s = max(0.0, monitored_s - maintenance_s)
    up, checks, maintenance = total.up + total.degraded, total.checks, total.maintenance
    ratio = up / (checks - maintenance) if checks > maintenance else None  # uptime_ratio
    budget_min = (1 - target / 100) * counted_s / 60
    consumed_min = total.downtime_s / 60
    mttr = mtbf = None
    from_before = sum(1 for e in episodes if e.started_at < period.start)
    if from_before:
        episodes = [e for e in episodes if e.started_at >= period.start]
    if episodes:
        ended = [e for e in episodes if e.ended_at is not None]
        if ended:
            mttr = sum(
                (e.ended_at - e.started_at).total_seconds() for e in ended if e.ended_at
            ) / len(ended)
        mtbf = (counted_s - total.downtime_s) / len(episodes)
    out: dict[str, Any] = {
        "id": service.id,
        "name": service.name,
        "target": target,
        "uptime": uptime_percent_text(total.up, total.degraded, checks, maintenance),
        "uptime_ratio": ratio,
        "met": None if ratio is None else ratio * 100 >= target - 1e-12,
        "checks": checks,
        "maintenance_checks": maintenance,
        "failed_checks": total.down,
        "monitored_from": from_text,
        # Monitored for only part of the period (added later, or no data at first).
        "partial_period": monitored_from is not None and monitored_from >= partial_from,
        "monitored_s": round(monitored_s, 1),
        "period_s": period_s,
        "maintenance_s": round(maintenance_s, 1),
        "budget_min": round(budget_min, 3),
        "consumed_min": round(consumed_min, 3),
        "remaining_min": round(budget_min - consumed_min, 3),
        "budget_used_pct": round(consumed_min / budget_min * 100, 2) if budget_min > 0 else None,
        # issue 12: the budget in seconds too, for budgets too small for minutes
        "budget_s": round(budget_min * 60, 3),
        "remaining_s": round((budget_min - consumed_min) * 60, 3),
        "downtime_s": round(total.downtime_s, 3),
        "days_below_target": [d.isoformat() for d in sorted(days_below)] if days_below else [],
        "episodes": len(episodes),
        "episodes_from_before": from_before,
        "mttr_s": round(mttr, 1) if mttr is not None else None,
        "mtbf_s": round(mtbf, 1) if mtbf is not None else None,
        "p95_ms": round(p, 3) if (p := total.percentile(95)) is not None else None,
        "latency_objective": None,
    }
    if service.latency_objective_ms is not None and service.latency_objective_pct is not None:
        share = objective_share(total, service.latency_objective_ms)
        low, high = share if share is not None else (None, None)
        out["latency_objective"] = {
            "threshold_ms": service.latency_objective_ms,
            "target_pct": service.latency_objective_pct,
            "compliance_pct": None if low is None else round(low * 100, 3),
            "compliance_max_pct": None if high is None else round(high * 100, 3),
            "exact": None if share is None else low == high,
            "met": None if low is None else low * 100 >= service.latency_objective_pct - 1e-12,
        }
    return out


_PERIOD: list[tuple[Period, datetime, tuple[datetime, float, datetime, str]]] = []
"""The last period's figures of ``_of_period`` (a report asks 1,000 times in a row)."""


def _of_period(period: Period, now: datetime) -> tuple[datetime, float, datetime, str]:
    """The end of the monitored time (the period's end or now), the period's length in
    seconds as reported, the start from which a service counts as added in the period, and
    the period's start as text."""
    if _PERIOD and _PERIOD[0][0] is period and _PERIOD[0][1] == now:
        return _PERIOD[0][2]
    figures = (
        min(period.end, now),
        round((period.end - period.start).total_seconds(), 1),
        period.start + timedelta(hours=1),
        period.start.isoformat(),
    )
    _PERIOD[:] = [(period, now, figures)]
    return figures


def below_target(r: Rollup, target: float) -> bool:
    """Whether a day's uptime is below ``target`` percent, computed as the store's
    ``days_below`` statement computes it (the same double-precision operations)."""
    return r.checks > r.maintenance and (r.up + r.degraded) * 100.0 < float(target) * (
        r.checks - r.maintenance
    )


def days_below_target(by_day: dict[date, Rollup], target: float) -> list[date]:
    """The days whose uptime is below ``target`` percent (no-data days never are)."""
    return [
        d
        for d, r in sorted(by_day.items())
        if (u := uptime_ratio(r.up, r.degraded, r.checks, r.maintenance)) is not None
        and u * 100 < target
    ]


def split_months(first: date, last: date) -> tuple[list[date], list[tuple[date, date]]]:
    """The whole months in [first, last] (their first days) and the day ranges left over."""
    months: list[date] = []
    loose: list[tuple[date, date]] = []
    d = first
    while d <= last:
        nxt = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
        end = min(last, nxt - timedelta(days=1))
        if d.day == 1 and end == nxt - timedelta(days=1):
            months.append(d)
        else:
            loose.append((d, end))
        d = end + timedelta(days=1)
    return months, loose


def period_from_params(
    *,
    month: str | None,
    days: int | None,
    first: str | None,
    last: str | None,
    now: datetime,
    tz: str,
) -> Period:
    """The period a report asks for: a month, the last N days, or from/to (default: this month).

    Raises ValueError with what is allowed.
    """
    given = sum(x is not None for x in (month, days)) + (1 if (first or last) else 0)
    if given > 1:
        raise ValueError("give one of: a month, a number of days, or from and to")
    if first or last:
        if not (first and last):
            raise ValueError("from and to go together")
        return range_period(first, last, tz)
    if days is not None:
        return last_days_period(days, now, tz)
    return month_period(month or default_month(now, tz), tz)
