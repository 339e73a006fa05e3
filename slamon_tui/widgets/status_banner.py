"""The overall banner: "✕ Major Outage · since 13:31 UTC (12m)" over the counts
"3 down · 1 degraded · 36 up · 2 in maintenance", coloured by status.

While the feed is not live the banner turns neutral (no status colour at all) and says
"NOT LIVE — last known: …" with when that was, so a stale screen can never pass for a
green one from across a room (issue 12).
"""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text
from textual.widgets import Static

from slamon_daemon.models import ServiceStatus, parse_ts
from slamon_daemon.text import duration
from slamon_tui.formatting import overall_text

_STATUS_CLASSES = tuple(f"-{s.value}" for s in ServiceStatus)
_CLASSES = frozenset({*_STATUS_CLASSES, "-stale"})
NOT_LIVE = "NOT LIVE"


def _since_text(since: str | None, now: datetime | None = None) -> str:
    """ "since 13:31 UTC (12m)" (another day: with its date), "" when unknown."""
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
    return f"since {stamp} ({duration((now - at).total_seconds())})"


class StatusBanner(Static):
    """The overall status in words, with a symbol and the counts; the CSS class
    ``-<status>`` colours it, ``-stale`` (not live) takes every colour away."""

    DEFAULT_CSS = """
    StatusBanner { width: 1fr; height: 3; content-align: center middle; text-style: bold; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(Text("Connecting to the daemon…"), id=id, classes=classes)
        self.status: str | None = None
        self.since: str | None = None
        self.counts = ""
        self.stale = False
        self.last_live: datetime | None = None
        """When the feed was last live (what "last known" is as of)."""
        self._when = ""

    def on_mount(self) -> None:
        # "since 13:31 UTC (12m)": the duration keeps counting between snapshots.
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        if self.status is not None and not self.stale and _since_text(self.since) != self._when:
            self._show()

    def set_status(self, status: str, since: str | None = None, counts: str | None = None) -> None:
        """Show ``status`` (an overall ServiceStatus value), when it began and the counts
        (nothing is redrawn when all three are as shown)."""
        if (status, since) == (self.status, self.since) and counts in (None, self.counts):
            return
        self.status, self.since = status, since
        if counts is not None:
            self.counts = counts
        self._show()

    def set_counts(self, counts: str) -> None:
        """Show new counts ("3 down · 36 up")."""
        if counts != self.counts:
            self.counts = counts
            if self.status is not None:
                self._show()

    def set_stale(self, stale: bool) -> None:
        """Mark the status as last known (the feed is down), so a NOC never trusts it blindly."""
        if stale == self.stale:
            return
        if stale and self.last_live is None:
            self.last_live = datetime.now(UTC)
        self.stale = stale
        if not stale:
            self.last_live = None
        if self.status is not None:
            self._show()
        else:
            self.set_class(stale, "-stale")

    def mark_live(self) -> None:
        """The feed is live now (the time "last known" is counted from when it drops)."""
        self.last_live = None

    @property
    def plain(self) -> str:
        """What the banner says, as plain text."""
        content = self.content
        return content.plain if isinstance(content, Text) else str(content)

    def _show(self) -> None:
        assert self.status is not None
        if self.stale:
            self._set_class("-stale")
            text = Text(f"⚠ {NOT_LIVE} — last known: {overall_text(self.status)}")
            when = self.last_live.strftime("%H:%M:%S UTC") if self.last_live else "?"
            text.append(f"\n{self.counts} · as of {when} · reconnecting…", style="not bold")
            self.update(text, layout=False)
            return
        self._set_class(f"-{self.status}" if f"-{self.status}" in _STATUS_CLASSES else "-unknown")
        text = Text(overall_text(self.status))
        when = self._when = _since_text(self.since)
        if when:
            text.append(f"  ·  {when}", style="not bold")
        if self.counts:
            text.append(f"\n{self.counts}", style="not bold")
        self.update(text, layout=False)  # its height is the CSS's (3; a class changes it)

    def _set_class(self, wanted: str) -> None:
        """Wear ``wanted`` as the one status (or -stale) class; the classes are left alone
        when they are right already (a class change restyles, every second else)."""
        current = _CLASSES.intersection(self.classes)
        if current != {wanted}:
            self.remove_class(*(current - {wanted}))
            self.add_class(wanted)

    def set_waiting(self, text: str) -> None:
        """Show a line in place of a status (before the first snapshot)."""
        self.status = None
        self.remove_class(*_STATUS_CLASSES)
        self.update(Text(text))
