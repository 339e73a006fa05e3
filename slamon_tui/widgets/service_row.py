"""One service on the dashboard: name, status, 90-day bar, uptime, latency, sparkline.

A row is a single widget drawing one line of text: updating it repaints one line, and a
screen of hundreds of rows stays cheap to lay out. Colours come from the component classes
below, styled in app.tcss.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from slamon_daemon.models import ServiceStatus
from slamon_tui.formatting import (
    DAILY_GLYPHS,
    latency_text,
    status_symbol,
    status_word,
    uptime_text,
)
from slamon_tui.models.dashboard import ServiceState
from slamon_tui.widgets.columns import CURSOR_WIDTH, GAP, LATENCY_WIDTH, UPTIME_WIDTH, Columns, fit
from slamon_tui.widgets.latency_sparkline import sparkline_text
from slamon_tui.widgets.uptime_bar import bar_cells, bar_text

CURSOR = "▸"
_STATUSES = frozenset(s.value for s in ServiceStatus)


class ServiceRow(Widget, can_focus=True):
    """A focusable one-line row, updated in place by ``show``."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "service-row--cursor",
        "service-row--name",
        "service-row--failed",
        "service-row--spark",
        *(f"service-row--{s.value}" for s in ServiceStatus),
        *(f"service-row--day-{d}" for d in DAILY_GLYPHS),
    }

    DEFAULT_CSS = """
    ServiceRow { height: 1; }
    """

    def __init__(self, service: ServiceState, columns: Columns) -> None:
        super().__init__(classes="service-row")
        self.service_id = service.id
        self._service = service
        self.columns = columns
        self._days_back = 0

    @property
    def service(self) -> ServiceState:
        """The service on show."""
        return self._service

    @property
    def status_text(self) -> str:
        """The status column as plain text ("● Operational")."""
        status = self._service.status
        return f"{status_symbol(status)} {status_word(status, short=self.columns.short_words)}"

    @property
    def latency_text(self) -> str:
        """The latency column: "42 ms", or why the last check failed."""
        return latency_text(self._service.last_check)

    @property
    def uptime_text(self) -> str:
        """Uptime over the bar's window ("99.95%")."""
        return uptime_text(self._service.uptime, self.columns.window)

    @property
    def bar_cells(self) -> list[str]:
        """The daily statuses on the bar, oldest first (as many as the window)."""
        return bar_cells(self._service.daily, self.columns.window)

    @property
    def day_cursor(self) -> int:
        """Index in ``bar_cells`` of the day under the day cursor (drawn when focused)."""
        return self.columns.window - 1 - min(self._days_back, self.columns.window - 1)

    def set_days_back(self, days_back: int) -> None:
        """Put the day cursor ``days_back`` days before today (0: today)."""
        if days_back != self._days_back:
            self._days_back = days_back
            if self.has_focus:
                self.refresh()

    @property
    def failed(self) -> bool:
        """True when the last check failed."""
        return bool(self._service.last_check and self._service.last_check.get("outcome") == "down")

    def show(self, service: ServiceState, columns: Columns | None = None) -> None:
        """Show ``service`` (and lay it out for ``columns``); repaints this line only."""
        self._service = service
        if columns is not None:
            self.columns = columns
        url = service.url or None
        if self.tooltip != url:
            self.tooltip = url
        self.refresh()

    def on_focus(self) -> None:
        """Draw the cursor glyph and keep the row on screen."""
        self.refresh()
        self.scroll_visible()

    def on_blur(self) -> None:
        """Clear the cursor glyph."""
        self.refresh()

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"service-row--{name}", partial=True)

    def render(self) -> RenderResult:
        """The row as one line: every column padded or cut to its width."""
        c, s = self.columns, self._service
        gap = " " * GAP
        line = Text(no_wrap=True, overflow="crop", end="")
        cursor = fit(CURSOR if self.has_focus else "", CURSOR_WIDTH)
        cursor.stylize(self._style("cursor"))
        line.append_text(cursor)
        name = fit(s.name, c.name)
        if self.has_focus:
            name.stylize(self._style("name"))
        line.append_text(name)
        line.append(gap)
        status = fit(self.status_text, c.status)
        status.stylize(self._style(s.status if s.status in _STATUSES else "unknown"))
        line.append_text(status)
        line.append(gap)
        day_styles = {d: self._style(f"day-{d}") for d in DAILY_GLYPHS}
        mark = self.day_cursor if self.has_focus else None
        line.append_text(bar_text(self.bar_cells, day_styles, mark=mark))
        line.append(gap)
        line.append_text(fit(self.uptime_text, UPTIME_WIDTH, right=True))
        latency = fit(self.latency_text, LATENCY_WIDTH, right=True)
        if self.failed:
            latency.stylize(self._style("failed"))
        line.append_text(latency)
        spark = c.spark_width(self.size.width)
        if spark:
            line.append(" " * c.spark_gap)
            line.append_text(
                sparkline_text(
                    s.latencies,
                    spark,
                    self._style("spark"),
                    failed=s.failed_points,
                    failed_style=self._style("failed"),
                )
            )
        return line
