"""How slamon writes durations, percentages and latencies for people to read.

One set of rules for the SLA report (report.py: ``slamon report``, the TUI's export) and the
terminal UI, so an MTTR reads "2d 03h" on screen, in the Markdown and in the CSV alike.
Pure: no I/O, and nothing of slamon imported.

Durations
    At most two units, the largest first (d, h, m, s); the second always has two digits:
    "0s", "42s", "7m 12s", "3h 04m", "2d 03h". Seconds are cut, never rounded up, so a
    duration never reads longer than it was (59.9 s is "59s"); a negative one is "0s", and
    one that lasted less than a second "<1s" (an outage of 0.4 s is not "0s": it happened).
    The compact form is for narrow table cells that are redrawn once a minute: no space, and
    no seconds past the first minute: "45s", "12m", "3h05m", "2d04h".

Percentages
    A figure the daemon sends as text ("99.95", an uptime truncated to two decimals) is shown
    as it came with a "%" after it: rounding it here could turn 99.999 into "100.00" and lie.
    A number is written as short as it is exact ("99.9%", "95%"), or with ``places`` decimals
    when a column needs them ("97.12%").

Latencies
    In at most 8 cells: "<1 ms", "123 ms", "1500 ms", "12.3 s" (seconds from 10 s on).

Error budgets (issue 12)
    In minutes with one decimal ("43.2 min"), unless too small for that: then in seconds
    ("4.3 s", "0.72 s"), so a tiny budget never reads "0.0 min".

Relative times (issue 12)
    A past moment is "14m ago", a future one "in 14m" (never "0s ago" for something still
    a second or more away).

Anything unknown (None, "", "—") is written "—".
"""

from __future__ import annotations

from datetime import datetime

NONE = "—"
"""What an unknown figure reads as."""

_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def duration(seconds: float | None, *, compact: bool = False) -> str:
    """A duration in at most two units: "42s", "7m 12s", "3h 04m", "2d 03h" ("—" for None).

    ``compact`` for table cells: "45s", "12m", "3h05m", "2d04h".
    """
    if seconds is None:
        return NONE
    if 0 < seconds < 1:
        return "<1s"
    left = max(int(seconds), 0)
    for i, (unit, size) in enumerate(_UNITS):
        if left >= size or unit == "s":
            first = f"{left // size}{unit}"
            if unit == "s" or (compact and unit == "m"):
                return first
            next_unit, next_size = _UNITS[i + 1]
            second = f"{left % size // next_size:02d}{next_unit}"
            return f"{first}{second}" if compact else f"{first} {second}"
    raise AssertionError("unreachable: the last unit is the second")


def percent(value: str | float | None, places: int | None = None) -> str:
    """A percentage with its sign: "99.95" -> "99.95%", 99.9 -> "99.9%", "—" when unknown.

    Text is kept as sent; a number gets ``places`` decimals when given, else as few as it
    needs.
    """
    if value is None or value in ("", NONE):
        return NONE
    if isinstance(value, str):
        return f"{value}%"
    if places is not None:
        return f"{value:.{places}f}%"
    return f"{value:g}%"


def latency(ms: float | None) -> str:
    """A latency in at most 8 cells: "<1 ms", "123 ms", "12.3 s" ("—" for None)."""
    if ms is None:
        return NONE
    if ms < 1:
        return "<1 ms"
    if ms < 10_000:
        return f"{ms:.0f} ms"
    return f"{ms / 1000:.1f} s"


def latency_objective(compliance_pct: float | None, threshold_ms: float, target_pct: float) -> str:
    """A latency objective: "97.12% ≤ 1000 ms (target 95%)" ("n/a" before any check).

    No comma in it, so it stays one cell in CSV without quoting surprises.
    """
    share = "n/a" if compliance_pct is None else percent(compliance_pct, 2)
    return f"{share} ≤ {latency(threshold_ms)} (target {percent(target_pct)})"


def relative(at: datetime, now: datetime) -> str:
    """ "14m ago" for a past moment, "in 14m" for one a second or more ahead."""
    delta = (at - now).total_seconds()
    if delta >= 1:
        return f"in {duration(delta, compact=True)}"
    return f"{duration(-delta, compact=True)} ago"


def budget(seconds: float | None) -> str:
    """An error budget, or what is used or left of one: "43.2 min", "4.3 s", "0.72 s"."""
    if seconds is None:
        return NONE
    if abs(seconds) >= 6:
        return f"{seconds / 60:.1f} min"
    if abs(seconds) >= 0.1 or seconds == 0:
        return f"{seconds:.1f} s"
    return f"{seconds:.2f} s"
