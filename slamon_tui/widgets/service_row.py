"""One line of the dashboard's list: a service's row (name, status, 90-day bar, uptime,
latency, sparkline) or a group's header, as text.

Pure drawing: the list (widgets/service_table.py) draws only the lines on screen, each with
``row_text`` / ``group_text``; NOC mode draws the same rows. ``RowView`` holds the texts of
one row's columns (what tests read). Colours come from the list's component classes
(app.tcss), passed in as ``styles`` keyed by the names below.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.style import Style
from rich.text import Text

from slamon_daemon.models import ServiceStatus
from slamon_tui.formatting import (
    DAILY_GLYPHS,
    latency_text,
    status_symbol,
    status_word,
    uptime_text,
)
from slamon_tui.models.dashboard import ServiceState
from slamon_tui.models.dashboard_view import GroupLine, group_title
from slamon_tui.widgets.columns import CURSOR_WIDTH, GAP, LATENCY_WIDTH, UPTIME_WIDTH, Columns, fit
from slamon_tui.widgets.latency_sparkline import sparkline_text
from slamon_tui.widgets.uptime_bar import bar_cells, bar_text

CURSOR = "▸"
STATUSES = frozenset(s.value for s in ServiceStatus)
STYLE_NAMES: frozenset[str] = frozenset(
    {
        "cursor",
        "name",
        "failed",
        "spark",
        "group",
        "group-problems",
        *STATUSES,
        *(f"day-{d}" for d in DAILY_GLYPHS),
    }
)
"""The style names ``row_text`` and ``group_text`` look up."""

Styles = Mapping[str, Style]


class RowView:
    """The columns of one service's row, as text, for ``columns``."""

    def __init__(self, service: ServiceState, columns: Columns, days_back: int = 0) -> None:
        self.service = service
        self.columns = columns
        self.days_back = days_back

    @property
    def service_id(self) -> str:
        """The service's id."""
        return self.service.id

    @property
    def status_text(self) -> str:
        """The status column ("● Operational"); "? No data yet" before the first check."""
        status = self.service.status
        if status == ServiceStatus.UNKNOWN:
            return f"{status_symbol(status)} {'No data' if self.columns.short_words else 'No data yet'}"
        return f"{status_symbol(status)} {status_word(status, short=self.columns.short_words)}"

    @property
    def latency_text(self) -> str:
        """The latency column: "42 ms", or why the last check failed."""
        return latency_text(self.service.last_check)

    @property
    def uptime_text(self) -> str:
        """Uptime over the bar's window ("99.95%")."""
        return uptime_text(self.service.uptime, self.columns.window)

    @property
    def bar_cells(self) -> list[str]:
        """The daily statuses on the bar, oldest first (as many as the window)."""
        return bar_cells(self.service.daily, self.columns.window)

    @property
    def day_cursor(self) -> int:
        """Index in ``bar_cells`` of the day under the day cursor."""
        window = self.columns.window
        return window - 1 - min(self.days_back, window - 1)

    @property
    def failed(self) -> bool:
        """True when the last check failed."""
        last = self.service.last_check
        return bool(last and last.get("outcome") == "down")


def row_text(view: RowView, width: int, styles: Styles, *, cursor: bool = False) -> Text:
    """The row as one line ``width`` cells wide: every column padded or cut to its width.
    The row with the ``cursor`` has the cursor glyph and the day cursor on its bar."""
    c, s = view.columns, view.service
    get = styles.get
    gap = " " * GAP
    line = Text(no_wrap=True, overflow="crop", end="")
    mark = fit(CURSOR if cursor else "", CURSOR_WIDTH)
    mark.stylize(get("cursor") or Style())
    line.append_text(mark)
    name = fit(s.name, c.name)
    if cursor:
        name.stylize(get("name") or Style())
    line.append_text(name)
    line.append(gap)
    status = fit(view.status_text, c.status)
    status.stylize(get(s.status if s.status in STATUSES else "unknown") or Style())
    line.append_text(status)
    line.append(gap)
    day_styles = {d: get(f"day-{d}") or Style() for d in DAILY_GLYPHS}
    line.append_text(bar_text(view.bar_cells, day_styles, mark=view.day_cursor if cursor else None))
    line.append(gap)
    line.append_text(fit(view.uptime_text, UPTIME_WIDTH, right=True))
    latency = fit(view.latency_text, LATENCY_WIDTH, right=True)
    if view.failed:
        latency.stylize(get("failed") or Style())
    line.append_text(latency)
    spark = c.spark_width(width)
    if spark:
        line.append(" " * c.spark_gap)
        line.append_text(
            sparkline_text(
                s.latencies,
                spark,
                get("spark"),
                failed=s.failed_points,
                failed_style=get("failed"),
            )
        )
    return line


def group_text(group: GroupLine, width: int, styles: Styles, *, cursor: bool = False) -> Text:
    """A group's header: "▾ Payments · 5 services · ✕ 1 down · ▲ 1 degraded"; collapsed
    "▸", and its problems said in its problem style (they are out of view)."""
    get = styles.get
    line = Text(no_wrap=True, overflow="ellipsis", end="")
    mark = fit(CURSOR if cursor else "", CURSOR_WIDTH)
    mark.stylize(get("cursor") or Style())
    line.append_text(mark)
    line.append(f"{'▸' if group.collapsed else '▾'} {group_title(group.group)}", get("group"))
    n = group.counts.total
    line.append(f" · {n} service{'' if n == 1 else 's'}")
    worst = [
        (ServiceStatus.MAJOR_OUTAGE, "down"),
        (ServiceStatus.PARTIAL_OUTAGE, "partial"),
        (ServiceStatus.DEGRADED, "degraded"),
    ]
    for status, word in worst:
        count = group.counts[status]
        if count:
            line.append(" · ")
            line.append(f"{status_symbol(status)} {count} {word}", get(status.value))
    if group.collapsed:
        hidden = group.problems
        hint = f"  ({hidden} hidden: Enter opens)" if hidden else "  (Enter opens)"
        line.append(hint, get("group-problems") if hidden else None)
    line.truncate(width, overflow="ellipsis")
    return line
