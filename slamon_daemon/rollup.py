"""Uptime math and the daily status of the 90-day bar (SPEC §3.4).

Definitions (do not guess them elsewhere; import them from here):

* Uptime % = (up + degraded) / (checks − maintenance checks). A degraded check answered
  correctly, only slowly, so it counts as up.
* Uptime is shown with two decimals and truncated, never rounded: 99.996 shows as 99.99,
  so 100.00 means that nothing failed.
* Daily status: ``nd`` no checks; ``maintenance`` if every check of the day was in a
  maintenance window; ``o`` no failed and no degraded check; ``po`` failures that keep the
  day's uptime at or above the major threshold (default 99.0 %), or degraded checks only;
  ``mo`` below it. One failed check does not paint a day red.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from .models import DailyRollup, DailyStatus

DEFAULT_MAJOR_THRESHOLD = 99.0


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


def daily_status(r: DailyRollup | None, major_threshold: float = DEFAULT_MAJOR_THRESHOLD) -> DailyStatus:
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
    ratio = (r.up + r.degraded) / counted
    # Compare in percent with integers scaled, so 99.0 % exactly is "po", not "mo".
    if ratio * 100 >= major_threshold - 1e-9:
        return DailyStatus.PARTIAL_OUTAGE
    return DailyStatus.MAJOR_OUTAGE


def sum_rollups(rollups: Iterable[DailyRollup], service_id: str, day: date) -> DailyRollup:
    """Merge several rollups into one (e.g. the bar's window) labelled ``day``."""
    total = DailyRollup(service_id=service_id, day=day)
    for r in rollups:
        total.merge(r)
    return total
