"""The daemon's own troubles, right under the connection line (issue 10): the database
unreachable (and how many checks wait in the journal), the journal failing, the writer
retrying, checks running late. Hidden while all is well.

It asks ``daemon.stats`` itself every few seconds, so the screen only places it. A daemon
that does not answer daemon.stats (an older one, no connection) hides it.
"""

from __future__ import annotations

from typing import Any

from textual import work
from textual.widgets import Static

from slamon_tui.client import FeedCallError, FeedClientError
from slamon_tui.types import FeedCall

POLL_S = 5.0
"""How often daemon.stats is asked."""


def health_lines(stats: dict[str, Any]) -> list[str]:
    """What is wrong with the daemon, one line each (empty when nothing is)."""
    lines: list[str] = []
    database = stats.get("database") or {}
    journal = stats.get("journal") or {}
    waiting = int(stats.get("write_pending") or 0)
    state = database.get("state")
    if state == "unreachable":
        since = database.get("unreachable_for_s")
        how_long = f" for {_duration(float(since))}" if since is not None else ""
        lines.append(
            f"⚠ database unreachable{how_long}: probing goes on, {waiting:,} records wait"
            " in the journal"
        )
    elif state == "lost":
        lines.append(f"⚠ database: {database.get('error')}")
    if journal and not journal.get("ok", True):
        held = int(journal.get("held") or 0)
        line = f"⚠ journal failing ({journal.get('error')}): {held:,} records held in memory"
        if journal.get("lost"):
            line += f", {int(journal['lost']):,} dropped"
        lines.append(line)
    if stats.get("write_error"):
        lines.append(f"⚠ writing checks fails, retrying: {stats['write_error']}")
    overload = stats.get("overload") or {}
    if overload.get("active"):
        lines.append(f"⚠ {overload.get('text')}")
    return lines


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class DaemonHealth(Static):
    """Polls daemon.stats and shows ``health_lines`` (hidden when there are none)."""

    DEFAULT_CSS = """
    DaemonHealth { height: auto; padding: 0 1; color: $text-warning; text-style: bold; }
    """

    def __init__(self, call: FeedCall, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self._call = call
        self.lines: list[str] = []
        self.display = False

    def on_mount(self) -> None:
        """Ask now and every POLL_S seconds."""
        self.poll()
        self.set_interval(POLL_S, self.poll)

    @work(exclusive=True, group="daemon-health", exit_on_error=False)
    async def poll(self) -> None:
        """Ask daemon.stats and show what is wrong."""
        try:
            stats = await self._call("daemon.stats", {})
        except (FeedCallError, FeedClientError):
            stats = {}
        self.show(health_lines(stats if isinstance(stats, dict) else {}))

    def show(self, lines: list[str]) -> None:
        """Draw ``lines`` (hide when empty)."""
        if lines != self.lines:
            self.lines = lines
            self.update("\n".join(lines))
        self.display = bool(lines)
