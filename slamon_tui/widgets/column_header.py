"""The column titles above the service rows, with the bar's "90 days ago … Today" scale."""

from __future__ import annotations

from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from slamon_tui.formatting import days_ago_label
from slamon_tui.widgets.columns import (
    CURSOR_WIDTH,
    GAP,
    LATENCY_WIDTH,
    UPTIME_WIDTH,
    Columns,
    fit,
)

SCROLLBAR_GUTTER = 1
"""The list keeps a column for its scrollbar (scrollbar-gutter: stable): the titles too."""


class ColumnHeader(Widget):
    """One line of titles laid out with the same Columns as the rows below it."""

    DEFAULT_CSS = """
    ColumnHeader { height: 1; }
    """

    def __init__(self, columns: Columns | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.columns = columns or Columns()

    @property
    def scale_text(self) -> str:
        """The title over the bar ("30 days ago … Today")."""
        return days_ago_label(self.columns.window, self.columns.window)

    def set_columns(self, columns: Columns) -> None:
        """Lay the titles out for ``columns``."""
        if columns != self.columns:
            self.columns = columns
            self.refresh()

    def render(self) -> RenderResult:
        """The titles, each over its column."""
        c = self.columns
        gap = " " * GAP
        line = Text(" " * CURSOR_WIDTH, no_wrap=True, overflow="crop", end="")
        line.append_text(fit("Service", c.name))
        line.append(gap)
        line.append_text(fit("Status", c.status))
        line.append(gap)
        line.append_text(fit(self.scale_text, c.window))
        line.append(gap)
        line.append_text(fit("Uptime", UPTIME_WIDTH, right=True))
        line.append_text(fit("Latency", LATENCY_WIDTH, right=True))
        spark = c.spark_width(self.size.width - SCROLLBAR_GUTTER)
        if spark:
            line.append(" " * c.spark_gap)
            line.append_text(fit("Trend", spark))
        return line
