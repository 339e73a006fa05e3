"""One service on the dashboard: name, status, 90-day bar, uptime, latency, sparkline."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from slamon_daemon.models import ServiceStatus
from slamon_tui.formatting import latency_text, status_symbol, status_word, uptime_text
from slamon_tui.model import ServiceState
from slamon_tui.widgets.latency_sparkline import LatencySparkline
from slamon_tui.widgets.uptime_bar import UptimeBar

_STATUS_CLASSES = tuple(f"-{s.value}" for s in ServiceStatus)
CURSOR = "▸"


class ServiceRow(Horizontal, can_focus=True):
    """A focusable, one-line row updated in place by ``show``; children are never replaced."""

    def __init__(self, service: ServiceState, window: int, *, short_words: bool = False) -> None:
        super().__init__(classes="service-row")
        self.service_id = service.id
        self._service = service
        self._window = window
        self._short = short_words
        self.cursor = Cell(classes="col-cursor")
        self.name_label = Cell(classes="col-name")
        self.status_label = Cell(classes="col-status")
        self.bar = UptimeBar(service.daily, window, classes="col-bar")
        self.uptime_label = Cell(classes="col-uptime")
        self.latency_label = Cell(classes="col-latency")
        self.sparkline = LatencySparkline(service.latencies, classes="col-spark")

    def compose(self) -> ComposeResult:
        """The columns, in the same order as ColumnHeader."""
        yield self.cursor
        yield self.name_label
        yield self.status_label
        yield self.bar
        yield self.uptime_label
        yield self.latency_label
        yield self.sparkline

    def on_mount(self) -> None:
        """Fill the columns once the children exist."""
        self.show(self._service)

    @property
    def status_text(self) -> str:
        """The status column as plain text ("● Operational")."""
        return f"{status_symbol(self._service.status)} {status_word(self._service.status, short=self._short)}"

    def show(
        self, service: ServiceState, window: int | None = None, short_words: bool | None = None
    ) -> None:
        """Show ``service``; only columns whose text changed are repainted."""
        self._service = service
        if window is not None:
            self._window = window
        if short_words is not None:
            self._short = short_words
        self.name_label.set_text(service.name)
        self.status_label.set_text(self.status_text)
        self.status_label.remove_class(*_STATUS_CLASSES)
        self.status_label.add_class(f"-{service.status}")
        self.bar.set_window(self._window)
        self.bar.set_daily(service.daily)
        self.uptime_label.set_text(uptime_text(service.uptime, self._window))
        self.latency_label.set_text(latency_text(service.last_check))
        failed = bool(service.last_check and service.last_check.get("outcome") == "down")
        self.latency_label.set_class(failed, "-failed")
        self.sparkline.set_values(service.latencies)
        if self.tooltip != (service.url or None):
            self.tooltip = service.url or None

    def on_focus(self) -> None:
        """Mark the cursor row with a glyph too, not only a background."""
        self.cursor.set_text(CURSOR)
        self.scroll_visible()

    def on_blur(self) -> None:
        """Clear the cursor glyph."""
        self.cursor.set_text("")


class Cell(Static):
    """One column of a row: plain text, never wrapped, cut with "…" when too long."""

    def __init__(self, classes: str) -> None:
        super().__init__("", classes=classes)
        self.text = ""

    def set_text(self, text: str) -> None:
        """Show ``text``; a no-op when unchanged (Static.update always repaints)."""
        if text != self.text:
            self.text = text
            self.update(Text(text, no_wrap=True, overflow="ellipsis"))
