"""What the dashboard's list shows, in which order: sort, filter, groups, problems (issue 12).

Pure (no Textual): the screen asks ``build_lines`` for the lines of the list and keeps its
cursor as an index into them (a model position, never Textual focus), so keys that arrive
in one burst each move it exactly one line.

* Sort (``s`` cycles): problems first (worst status, then the longest in trouble), by name,
  by uptime (lowest first), by latency (slowest first). Ties keep the daemon's order.
* Filter (``/``, k9s-style): every word must match. A bare word matches the name, the id,
  the group, a tag or the status ("down", "degraded", "problems" …); ``tag:eu``,
  ``group:core`` and ``status:down`` (or ``is:down``) match only that.
* Groups (``group`` on a service): a header line per group, collapsible; a collapsed
  group's header counts its problems, so no problem is ever hidden without saying so.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from slamon_daemon.models import ServiceStatus, parse_ts
from slamon_tui.models.dashboard import PROBLEM_STATUSES, ServiceState, StatusCounts

SORTS: tuple[str, ...] = ("problems", "name", "uptime", "latency")
"""The sort keys in the order ``s`` cycles through them."""
SORT_TITLES = {
    "problems": "problems first",
    "name": "name",
    "uptime": "uptime, lowest first",
    "latency": "latency, slowest first",
}
UNGROUPED = ""
"""The group key of services without a group (its header reads "Other")."""

STATUS_WORDS: dict[str, frozenset[str]] = {
    "down": frozenset({ServiceStatus.MAJOR_OUTAGE, ServiceStatus.PARTIAL_OUTAGE}),
    "major": frozenset({ServiceStatus.MAJOR_OUTAGE}),
    "outage": frozenset({ServiceStatus.MAJOR_OUTAGE, ServiceStatus.PARTIAL_OUTAGE}),
    "partial": frozenset({ServiceStatus.PARTIAL_OUTAGE}),
    "degraded": frozenset({ServiceStatus.DEGRADED}),
    "slow": frozenset({ServiceStatus.DEGRADED}),
    "problem": PROBLEM_STATUSES,
    "problems": PROBLEM_STATUSES,
    "red": frozenset({ServiceStatus.MAJOR_OUTAGE, ServiceStatus.PARTIAL_OUTAGE}),
    "up": frozenset({ServiceStatus.OPERATIONAL}),
    "operational": frozenset({ServiceStatus.OPERATIONAL}),
    "ok": frozenset({ServiceStatus.OPERATIONAL}),
    "maintenance": frozenset({ServiceStatus.MAINTENANCE}),
    "maint": frozenset({ServiceStatus.MAINTENANCE}),
    "unknown": frozenset({ServiceStatus.UNKNOWN}),
    "nodata": frozenset({ServiceStatus.UNKNOWN}),
}
"""Words a filter may use for statuses."""


def next_sort(sort: str) -> str:
    """The sort after ``sort`` in the cycle."""
    i = SORTS.index(sort) if sort in SORTS else -1
    return SORTS[(i + 1) % len(SORTS)]


@dataclass(frozen=True, slots=True)
class Term:
    """One word of a filter: ``field`` is "", "tag", "group" or "status"."""

    field: str
    value: str

    def matches(self, s: ServiceState) -> bool:
        """Whether service ``s`` matches this word."""
        v = self.value
        if self.field == "tag":
            return any(v in t.lower() for t in s.tags)
        if self.field == "group":
            return v in (s.group or "").lower()
        statuses = STATUS_WORDS.get(v)
        if self.field == "status":
            return s.status in statuses if statuses else v in s.status
        return (
            v in s.name.lower()
            or v in s.id.lower()
            or v in (s.group or "").lower()
            or any(v in t.lower() for t in s.tags)
            or (statuses is not None and s.status in statuses)
        )


def parse_filter(text: str) -> list[Term]:
    """The words of a filter (case-insensitive)."""
    terms = []
    for word in text.lower().split():
        key, sep, value = word.partition(":")
        if sep and value and key in ("tag", "group", "status", "is"):
            terms.append(Term("status" if key == "is" else key, value))
        else:
            terms.append(Term("", word))
    return terms


def matches(s: ServiceState, terms: Sequence[Term]) -> bool:
    """Whether ``s`` matches every word."""
    return all(t.matches(s) for t in terms)


def _since_key(s: ServiceState) -> float:
    """Older trouble first: the seconds since the epoch of ``trouble_since`` (late: +inf)."""
    since = s.trouble_since
    if not since:
        return float("inf")
    try:
        return parse_ts(since).timestamp()
    except ValueError:
        return float("inf")


def _uptime_key(s: ServiceState, window: int) -> float:
    try:
        return float(s.uptime.get(str(window), "101"))
    except ValueError:
        return 101.0  # "—": no data sorts last


def _latency_key(s: ServiceState) -> float:
    last = s.last_check or {}
    if last.get("outcome") == "down":
        return -1e12  # a failure is worse than any latency: first
    try:
        return -float(last.get("latency_ms", -1e9))
    except (TypeError, ValueError):
        return 1e12


def sort_services(services: Iterable[ServiceState], sort: str, window: int) -> list[ServiceState]:
    """``services`` in the order of ``sort`` (ties in the daemon's order)."""
    items = list(services)
    if sort == "name":
        return sorted(items, key=lambda s: (s.name.lower(), s.position))
    if sort == "uptime":
        return sorted(items, key=lambda s: (_uptime_key(s, window), s.position))
    if sort == "latency":
        return sorted(items, key=lambda s: (_latency_key(s), s.position))
    # Problems: the worst, then the longest in trouble; the rest in the daemon's order.
    return sorted(
        items,
        key=lambda s: (-s.severity, _since_key(s) if s.is_problem else 0.0, s.position),
    )


@dataclass(frozen=True, slots=True)
class GroupLine:
    """A group's header: its name, how many services it shows, their statuses."""

    group: str
    counts: StatusCounts
    collapsed: bool

    @property
    def key(self) -> tuple[str, str]:
        """Stable identity of the line (the cursor stays on it across rebuilds)."""
        return ("group", self.group)

    @property
    def problems(self) -> int:
        """Problems in the group (hidden from view when it is collapsed)."""
        return self.counts.problems


@dataclass(frozen=True, slots=True)
class ServiceLine:
    """A service's row."""

    service_id: str
    is_problem: bool

    @property
    def key(self) -> tuple[str, str]:
        """Stable identity of the line."""
        return ("service", self.service_id)


Line = GroupLine | ServiceLine


@dataclass(slots=True)
class ListView:
    """The lines of the list and what the filter left out."""

    lines: list[Line] = field(default_factory=list)
    index: dict[tuple[str, str], int] = field(default_factory=dict)
    """Line key -> its position."""
    filtered_out: int = 0
    """Services the filter hides."""
    problems_filtered_out: int = 0
    """Problems among them (said next to the list: never hidden silently)."""
    _marks: tuple[list[int], list[int]] | None = field(default=None, repr=False)
    """Problem lines' positions and running totals (made once, on the first ask)."""

    def position(self, key: tuple[str, str] | None) -> int | None:
        """Where the line ``key`` is, if it is shown."""
        return None if key is None else self.index.get(key)

    def service_position(self, service_id: str) -> int | None:
        """Where a service's row is, if it is shown."""
        return self.index.get(("service", service_id))

    def problem_positions(self) -> list[int]:
        """Positions of the lines that are problems (rows, or collapsed groups with some)."""
        return [
            i
            for i, line in enumerate(self.lines)
            if (isinstance(line, ServiceLine) and line.is_problem)
            or (isinstance(line, GroupLine) and line.collapsed and line.problems)
        ]

    def problems_outside(self, top: int, height: int) -> tuple[int, int]:
        """Problems (services) above the lines [top, top + height) and below them.

        Asked at every cursor move: a binary search over the problem lines, not a walk over
        thousands of lines.
        """
        if self._marks is None:
            positions: list[int] = []
            totals: list[int] = [0]
            for i, line in enumerate(self.lines):
                if isinstance(line, ServiceLine):
                    n = 1 if line.is_problem else 0
                else:
                    n = line.problems if line.collapsed else 0
                if n:
                    positions.append(i)
                    totals.append(totals[-1] + n)
            self._marks = (positions, totals)
        positions, totals = self._marks
        first_shown = bisect_left(positions, top)
        first_below = bisect_left(positions, top + height)
        return totals[first_shown], totals[-1] - totals[first_below]


def build_lines(
    services: Iterable[ServiceState],
    *,
    sort: str = "problems",
    filter_text: str = "",
    collapsed: frozenset[str] = frozenset(),
    window: int = 30,
) -> ListView:
    """The lines of the list: services sorted and filtered, in group sections when any
    service has a group (worst group first when sorting by problems)."""
    terms = parse_filter(filter_text)
    view = ListView()
    shown: list[ServiceState] = []
    for s in services:
        if matches(s, terms):
            shown.append(s)
        else:
            view.filtered_out += 1
            view.problems_filtered_out += s.is_problem
    ordered = sort_services(shown, sort, window)
    if not any(s.group for s in ordered):
        view.lines = [ServiceLine(s.id, s.is_problem) for s in ordered]
    else:
        groups: dict[str, list[ServiceState]] = {}
        for s in ordered:
            groups.setdefault(s.group or UNGROUPED, []).append(s)
        for name in _group_order(groups, sort):
            members = groups[name]
            counts = StatusCounts()
            for s in members:
                counts.add(s.status)
            folded = name in collapsed
            view.lines.append(GroupLine(name, counts, folded))
            if not folded:
                view.lines.extend(ServiceLine(s.id, s.is_problem) for s in members)
    view.index = {line.key: i for i, line in enumerate(view.lines)}
    return view


def _group_order(groups: dict[str, list[ServiceState]], sort: str) -> list[str]:
    """Groups by name, "Other" last; sorting by problems, the group with the worst first."""
    names = sorted(groups, key=lambda g: (g == UNGROUPED, g.lower()))
    if sort != "problems":
        return names
    return sorted(names, key=lambda g: -max(s.severity for s in groups[g]))


def group_title(group: str) -> str:
    """A group's name as its header shows it."""
    return group or "Other"


def trouble_age_s(s: ServiceState, now: datetime) -> float | None:
    """Seconds since ``s`` got into trouble (None when unknown)."""
    since = s.trouble_since
    if not since:
        return None
    try:
        return max(0.0, (now - parse_ts(since)).total_seconds())
    except ValueError:
        return None
