"""Hourly and daily aggregation, latency percentiles, uptime math and the daily status.

Definitions (do not guess them elsewhere; import them from here):

* Uptime % = (up + degraded) / (checks − maintenance checks). A degraded check answered
  correctly, only slowly, so it counts as up. Maintenance checks count for nothing.
* Uptime is shown with two decimals and truncated, never rounded: 99.996 shows as 99.99,
  so 100.00 means that nothing failed.
* Downtime = the sum of the intervals of the failed checks (outside maintenance): a failed
  check stands for the time until the next one.
* Latency figures (min/avg/max/p50/p95/p99) describe the checks that got a correct answer
  (up or degraded); a timeout's "latency" is only the timeout and would distort them.
* Percentiles are nearest-rank ("the smallest latency that at least p % of checks did not
  exceed") read from a mergeable log histogram: bucket i holds latencies in
  (γ^(i−1), γ^i] ms with γ = 1.02, and is read back as 2γ^i/(γ+1), so a percentile is within
  1 % of the exact nearest-rank value (clamped to the exact min and max).
* Daily status: ``nd`` no checks; ``maintenance`` if every check of the day was in a
  maintenance window; ``o`` no failed and no degraded check; ``po`` failures that keep the
  day's uptime at or above the major threshold (default 99.0 %), or degraded checks only;
  ``mo`` below it. One failed check does not paint a day red.
* Days and hours are UTC.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from fractions import Fraction

from .models import Check, DailyStatus, Outcome

DEFAULT_MAJOR_THRESHOLD = 99.0
HIST_GAMMA = 1.02
HIST_ERROR_BOUND = (HIST_GAMMA - 1) / (HIST_GAMMA + 1)  # 0.0099…: "within 1 %"
_LOG_GAMMA = math.log(HIST_GAMMA)
_MIN_LATENCY_MS = 0.001  # below this every latency shares bucket 0 (never seen in practice)


def bucket_of(latency_ms: float) -> int:
    """Histogram bucket of a latency: i with γ^(i−1) < latency ≤ γ^i."""
    if latency_ms <= _MIN_LATENCY_MS:
        return math.ceil(math.log(_MIN_LATENCY_MS) / _LOG_GAMMA)
    return math.ceil(math.log(latency_ms) / _LOG_GAMMA - 1e-12)


def bucket_value(i: int) -> float:
    """The value a bucket is read back as (relative error ≤ HIST_ERROR_BOUND)."""
    return 2 * HIST_GAMMA**i / (HIST_GAMMA + 1)


@dataclass(slots=True)
class Rollup:
    """Aggregates of one service's checks over one UTC day (``hour`` None) or hour of it.

    Every field merges exactly (sums, min, max, histogram counts), so a rollup is maintained
    by ``add``-ing checks or ``merge``-ing partial rollups, in any grouping, with the same
    result; latency sums are kept in integer microseconds for that reason.
    """

    service_id: str
    day: date
    hour: int | None = None
    checks: int = 0
    up: int = 0
    degraded: int = 0
    down: int = 0
    maintenance: int = 0
    downtime_s: float = 0.0
    maintenance_s: float = 0.0  # the intervals of the maintenance checks
    latency_count: int = 0
    latency_sum_us: int = 0
    latency_min_ms: float | None = None
    latency_max_ms: float | None = None
    hist: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def start(self) -> datetime:
        """When the period starts (UTC)."""
        return datetime(self.day.year, self.day.month, self.day.day, self.hour or 0, tzinfo=UTC)

    def add(self, check: Check) -> None:
        """Count one check."""
        self.checks += 1
        if check.maintenance:
            self.maintenance += 1  # excluded from uptime and downtime (SPEC §3.7)
            self.maintenance_s += check.interval_s
        elif check.outcome is Outcome.UP:
            self.up += 1
        elif check.outcome is Outcome.DEGRADED:
            self.degraded += 1
        else:
            self.down += 1
            self.downtime_s += check.interval_s
        if check.error_kind is not None and not check.maintenance:
            k = check.error_kind.value
            self.errors[k] = self.errors.get(k, 0) + 1
        if check.outcome is not Outcome.DOWN:
            lat = check.latency_ms
            self.latency_count += 1
            self.latency_sum_us += round(lat * 1000)
            self.latency_min_ms = (
                lat if self.latency_min_ms is None else min(self.latency_min_ms, lat)
            )
            self.latency_max_ms = (
                lat if self.latency_max_ms is None else max(self.latency_max_ms, lat)
            )
            b = bucket_of(lat)
            self.hist[b] = self.hist.get(b, 0) + 1

    def merge(self, other: Rollup) -> None:
        """Add another partial rollup (same service; any period)."""
        self.checks += other.checks
        self.up += other.up
        self.degraded += other.degraded
        self.down += other.down
        self.maintenance += other.maintenance
        self.downtime_s += other.downtime_s
        self.maintenance_s += other.maintenance_s
        self.latency_count += other.latency_count
        self.latency_sum_us += other.latency_sum_us
        if other.latency_min_ms is not None:
            mn = self.latency_min_ms
            self.latency_min_ms = (
                other.latency_min_ms if mn is None else min(mn, other.latency_min_ms)
            )
        if other.latency_max_ms is not None:
            mx = self.latency_max_ms
            self.latency_max_ms = (
                other.latency_max_ms if mx is None else max(mx, other.latency_max_ms)
            )
        for b, n in other.hist.items():
            self.hist[b] = self.hist.get(b, 0) + n
        for k, v in other.errors.items():
            self.errors[k] = self.errors.get(k, 0) + v

    @property
    def latency_avg_ms(self) -> float | None:
        return self.latency_sum_us / 1000 / self.latency_count if self.latency_count else None

    def percentile(self, p: float) -> float | None:
        """Nearest-rank percentile ``p`` (0 < p ≤ 100) of the answered checks' latency."""
        return percentile_of(self.hist, p, self.latency_min_ms, self.latency_max_ms)

    def uptime_text(self) -> str:
        return uptime_percent_text(self.up, self.degraded, self.checks, self.maintenance)

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {
            "day": self.day.isoformat(),
            "checks": self.checks,
            "up": self.up,
            "degraded": self.degraded,
            "down": self.down,
            "maintenance": self.maintenance,
            "downtime_s": round(self.downtime_s, 3),
            "uptime": self.uptime_text(),
            "latency_min_ms": _r(self.latency_min_ms),
            "latency_avg_ms": _r(self.latency_avg_ms),
            "latency_max_ms": _r(self.latency_max_ms),
            "p50_ms": _r(self.percentile(50)),
            "p95_ms": _r(self.percentile(95)),
            "p99_ms": _r(self.percentile(99)),
            "errors": dict(self.errors),
        }
        if self.hour is not None:
            d["hour"] = self.hour
            d["start"] = self.start.isoformat()
        return d

    def hist_json(self) -> str:
        return json.dumps({str(k): v for k, v in sorted(self.hist.items())}, separators=(",", ":"))

    @staticmethod
    def hist_from_json(text: str | None) -> dict[int, int]:
        if not text or text == "{}":
            return {}
        return {int(k): int(v) for k, v in json.loads(text).items()}


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def percentile_of(
    hist: dict[int, int], p: float, lo: float | None, hi: float | None
) -> float | None:
    """Nearest-rank percentile from a histogram, clamped to the exact [lo, hi]."""
    n = sum(hist.values())
    if n == 0:
        return None
    rank = max(1, math.ceil(p / 100 * n))
    if rank >= n and hi is not None:
        return hi  # the largest value is known exactly
    if rank == 1 and lo is not None:
        return lo
    seen = 0
    for b in sorted(hist):
        seen += hist[b]
        if seen >= rank:
            v = bucket_value(b)
            if lo is not None:
                v = max(v, lo)
            if hi is not None:
                v = min(v, hi)
            return v
    return hi


def rollup_deltas(
    checks: Iterable[Check], *, hourly: bool = False, monthly: bool = False
) -> list[Rollup]:
    """Fold checks into one partial rollup per (service, UTC day[, hour]); with ``monthly``,
    per (service, UTC month), labelled with the month's first day."""
    by_key: dict[tuple[str, date, int | None], Rollup] = {}
    for c in checks:
        t = c.started_at.astimezone(UTC)
        day = t.date().replace(day=1) if monthly else t.date()
        key = (c.service_id, day, t.hour if hourly else None)
        r = by_key.get(key)
        if r is None:
            r = by_key[key] = Rollup(service_id=key[0], day=key[1], hour=key[2])
        r.add(c)
    return list(by_key.values())


def uptime_ratio(up: int, degraded: int, checks: int, maintenance: int) -> float | None:
    """Uptime as a fraction in [0, 1], or None when no check counts (no data, or all maintenance)."""
    counted = checks - maintenance
    if counted <= 0:
        return None
    return (up + degraded) / counted


def uptime_percent_text(up: int, degraded: int, checks: int, maintenance: int) -> str:
    """Uptime % with two decimals, truncated toward zero ("—" when there is no data).

    Integer arithmetic, so 9999/10000 is "99.99" and never "100.00".
    """
    counted = checks - maintenance
    if counted <= 0:
        return "—"
    hundredths = (up + degraded) * 10000 // counted
    return f"{hundredths // 100}.{hundredths % 100:02d}"


def daily_status(r: Rollup | None, major_threshold: float = DEFAULT_MAJOR_THRESHOLD) -> DailyStatus:
    """The 90-day-bar cell for one day's rollup (see the module docstring)."""
    if r is None or r.checks == 0:
        return DailyStatus.NO_DATA
    counted = r.checks - r.maintenance
    if counted <= 0:
        return DailyStatus.MAINTENANCE
    if r.down == 0 and r.degraded == 0:
        return DailyStatus.OPERATIONAL
    if r.down == 0:
        return DailyStatus.PARTIAL_OUTAGE
    # Exact rationals: 99.0 % exactly is "po", not "mo", whatever floating point would say.
    if Fraction((r.up + r.degraded) * 100, counted) >= Fraction(str(major_threshold)):
        return DailyStatus.PARTIAL_OUTAGE
    return DailyStatus.MAJOR_OUTAGE


def sum_rollups(rollups: Iterable[Rollup], service_id: str, day: date) -> Rollup:
    """Merge several rollups into one (e.g. a window of days) labelled ``day``."""
    total = Rollup(service_id=service_id, day=day)
    for r in rollups:
        total.merge(r)
    return total
