"""Words, symbols and short texts for statuses, latencies and uptime.

Durations, percentages and latencies follow the one set of rules in slamon_daemon/text.py
(the SLA report uses them too).

Shared by the dashboard widgets and ``slamon status`` so a terminal with no colour reads the
same: every status has a word and a symbol, every bar cell a distinct glyph.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from slamon_daemon.models import DailyStatus, ErrorKind, ServiceStatus, parse_ts
from slamon_daemon.text import latency, percent

# (symbol, word, short word for narrow screens). Symbols are chosen among characters that
# have no emoji presentation, so they stay one cell wide in every terminal we know of.
STATUS_LABELS: dict[str, tuple[str, str, str]] = {
    ServiceStatus.OPERATIONAL: ("●", "Operational", "Operational"),
    ServiceStatus.DEGRADED: ("▲", "Degraded", "Degraded"),
    ServiceStatus.PARTIAL_OUTAGE: ("◆", "Partial outage", "Partial"),
    ServiceStatus.MAJOR_OUTAGE: ("✕", "Major outage", "Major"),
    ServiceStatus.MAINTENANCE: ("■", "Maintenance", "Maint."),
    ServiceStatus.UNKNOWN: ("?", "Unknown", "Unknown"),
}

OVERALL_LABELS: dict[str, tuple[str, str]] = {
    ServiceStatus.OPERATIONAL: ("✓", "All Systems Operational"),
    ServiceStatus.DEGRADED: ("▲", "Degraded Performance"),
    ServiceStatus.PARTIAL_OUTAGE: ("◆", "Partial Outage"),
    ServiceStatus.MAJOR_OUTAGE: ("✕", "Major Outage"),
    ServiceStatus.MAINTENANCE: ("■", "Under Maintenance"),
    ServiceStatus.UNKNOWN: ("?", "Status Unknown"),
}

# One glyph per daily status: height falls with health, so the bar reads without colour; a
# slow (degraded) day is full but shaded: it answered, only slowly (issue 12: not "po").
DAILY_GLYPHS: dict[str, str] = {
    DailyStatus.OPERATIONAL: "█",
    DailyStatus.DEGRADED: "▓",
    DailyStatus.PARTIAL_OUTAGE: "▆",
    DailyStatus.MAJOR_OUTAGE: "▃",
    DailyStatus.MAINTENANCE: "▒",
    DailyStatus.NO_DATA: "·",
}

DAILY_WORDS: dict[str, str] = {
    DailyStatus.OPERATIONAL: "operational",
    DailyStatus.DEGRADED: "slow (degraded)",
    DailyStatus.PARTIAL_OUTAGE: "partial outage",
    DailyStatus.MAJOR_OUTAGE: "major outage",
    DailyStatus.MAINTENANCE: "maintenance",
    DailyStatus.NO_DATA: "no data",
}

# At most 8 cells, so the latency column never wraps.
ERROR_SHORT: dict[str, str] = {
    ErrorKind.TIMEOUT: "timeout",
    ErrorKind.CONNECTION_ERROR: "conn err",
    ErrorKind.DNS_ERROR: "DNS err",
    ErrorKind.TLS_ERROR: "TLS err",
    ErrorKind.HTTP_ERROR: "HTTP err",
    ErrorKind.ASSERTION_FAILED: "bad body",
    ErrorKind.PROTOCOL_ERROR: "bad HTTP",
    ErrorKind.UNKNOWN: "error",
}


OUTCOME_LABELS: dict[str, tuple[str, str]] = {
    "up": ("●", "up"),
    "degraded": ("▲", "degraded"),
    "down": ("✕", "down"),
}


def outcome_text(outcome: str) -> str:
    """A check's outcome with its symbol: "● up", "▲ degraded", "✕ down"."""
    symbol, word = OUTCOME_LABELS.get(outcome, ("?", outcome or "unknown"))
    return f"{symbol} {word}"


def error_kind_text(kind: str | None) -> str:
    """A short word for an error kind ("timeout", "conn err"); "" for none."""
    if not kind:
        return ""
    return ERROR_SHORT.get(kind, kind)


def time_text(ts: str | None, now: datetime | None = None, *, seconds: bool = False) -> str:
    """A UTC time: "23:01" today, "Nov 19 23:01" another day, "—" when unknown."""
    if not ts:
        return "—"
    try:
        at = parse_ts(ts).astimezone(UTC)
    except ValueError:
        return ts
    now = now or datetime.now(UTC)
    clock = at.strftime("%H:%M:%S" if seconds else "%H:%M")
    return clock if at.date() == now.date() else f"{at:%b %d} {clock}"


def status_symbol(status: str) -> str:
    """The one-cell symbol of a service status."""
    return STATUS_LABELS.get(status, STATUS_LABELS[ServiceStatus.UNKNOWN])[0]


def status_word(status: str, *, short: bool = False) -> str:
    """The word for a service status (a shorter one for narrow screens when ``short``)."""
    labels = STATUS_LABELS.get(status, STATUS_LABELS[ServiceStatus.UNKNOWN])
    return labels[2] if short else labels[1]


def overall_text(status: str) -> str:
    """The banner text for the overall status, symbol first."""
    symbol, words = OVERALL_LABELS.get(status, OVERALL_LABELS[ServiceStatus.UNKNOWN])
    return f"{symbol} {words}"


def latency_text(last_check: dict[str, Any] | None) -> str:
    """The last check's latency, or why it failed ("timeout", "HTTP 503"), or "—"."""
    if not last_check:
        return "—"
    if last_check.get("outcome") == "down":
        kind = str(last_check.get("error_kind") or "unknown")
        code = last_check.get("status_code")
        if kind == ErrorKind.HTTP_ERROR and code is not None:
            return f"HTTP {code}"
        return ERROR_SHORT.get(kind, "error")
    try:
        return latency(float(last_check.get("latency_ms", 0.0)))
    except (TypeError, ValueError):
        return "—"


def uptime_text(uptime: dict[str, str], window: int) -> str:
    """Uptime over ``window`` days as sent by the daemon ("99.95%"), or "—" without data."""
    return percent(uptime.get(str(window)))


def day_word(cell: str) -> str:
    """The glyph and word of a daily status ("▆ partial outage")."""
    key = cell if cell in DAILY_GLYPHS else DailyStatus.NO_DATA
    return f"{DAILY_GLYPHS[key]} {DAILY_WORDS[key]}"


def days_ago_label(window: int, width: int) -> str:
    """The scale under a bar of ``window`` cells: "30 days ago" left, "Today" right."""
    left, right = f"{window} days ago", "Today"
    gap = width - len(left) - len(right)
    if gap < 1:
        left = f"-{window}d"
        gap = max(width - len(left) - len(right), 1)
    return left + " " * gap + right
