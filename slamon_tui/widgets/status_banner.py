"""The overall banner: "✓ All Systems Operational" and friends, coloured by status."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text
from textual.widgets import Static

from slamon_daemon.models import ServiceStatus, parse_ts
from slamon_tui.formatting import overall_text

_STATUS_CLASSES = tuple(f"-{s.value}" for s in ServiceStatus)


def _since_text(since: str | None, now: datetime | None = None) -> str:
    if not since:
        return ""
    try:
        at = parse_ts(since)
    except ValueError:
        return ""
    now = now or datetime.now(UTC)
    stamp = (
        at.strftime("%H:%M UTC") if at.date() == now.date() else at.strftime("%Y-%m-%d %H:%M UTC")
    )
    return f"since {stamp}"


class StatusBanner(Static):
    """The overall status in words, with a symbol; the CSS class ``-<status>`` colours it."""

    DEFAULT_CSS = """
    StatusBanner { width: 1fr; height: 3; content-align: center middle; text-style: bold; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(Text("Connecting to the daemon…"), id=id, classes=classes)
        self.status: str | None = None
        self.since: str | None = None
        self.stale = False

    def set_status(self, status: str, since: str | None = None) -> None:
        """Show ``status`` (an overall ServiceStatus value) and when it began."""
        self.status, self.since = status, since
        self._show()
        self.remove_class(*_STATUS_CLASSES)
        self.add_class(f"-{status}" if f"-{status}" in _STATUS_CLASSES else "-unknown")

    def set_stale(self, stale: bool) -> None:
        """Mark the status as last known (the feed is down), so a NOC never trusts it blindly."""
        if stale != self.stale:
            self.stale = stale
            self.set_class(stale, "-stale")
            if self.status is not None:
                self._show()

    def _show(self) -> None:
        assert self.status is not None
        text = Text(overall_text(self.status))
        when = _since_text(self.since)
        if when:
            text.append(f"  ·  {when}", style="not bold")
        if self.stale:
            text.append("  ·  last known, not live", style="not bold")
        self.update(text)

    def set_waiting(self, text: str) -> None:
        """Show a line in place of a status (before the first snapshot)."""
        self.status = None
        self.remove_class(*_STATUS_CLASSES)
        self.update(Text(text))
