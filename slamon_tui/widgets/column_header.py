"""The column titles above the service rows, with the bar's "90 days ago … Today" scale."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from slamon_tui.formatting import days_ago_label


class ColumnHeader(Horizontal):
    """Titles laid out with the same column classes as ServiceRow, so they line up."""

    DEFAULT_CSS = """
    ColumnHeader { height: 1; }
    """

    def __init__(self, window: int = 30, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._window = window

    def compose(self) -> ComposeResult:
        """The same columns as a ServiceRow."""
        yield Static("", classes="col-cursor")
        yield Static("Service", classes="col-name")
        yield Static("Status", classes="col-status")
        yield Static(days_ago_label(self._window, self._window), classes="col-bar", id="scale")
        yield Static("Uptime", classes="col-uptime")
        yield Static("Latency", classes="col-latency")
        yield Static("Trend", classes="col-spark")

    def on_mount(self) -> None:
        """Size the scale to the bar before the first paint."""
        self.set_window(self._window)

    @property
    def scale_text(self) -> str:
        """The text over the bar column ("30 days ago … Today")."""
        return days_ago_label(self._window, self._window)

    def set_window(self, window: int) -> None:
        """Retitle the bar column for a ``window``-day bar."""
        self._window = window
        scale = self.query_one("#scale", Static)
        scale.styles.width = window
        scale.update(self.scale_text)
