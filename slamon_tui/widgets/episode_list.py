"""Outage episodes of one service: start, end or "ongoing", duration, worst status, cause."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from slamon_daemon.models import parse_ts
from slamon_daemon.text import duration
from slamon_tui.formatting import (
    error_kind_text,
    status_symbol,
    status_word,
    time_text,
)


def episode_duration(episode: dict[str, Any], now: datetime) -> str:
    """How long the episode lasted, or has lasted so far."""
    start = parse_ts(str(episode["started_at"]))
    end = parse_ts(str(episode["ended_at"])) if episode.get("ended_at") else now
    return duration((end - start).total_seconds())


def episodes_table(
    episodes: Sequence[dict[str, Any]], now: datetime | None = None
) -> RenderableType:
    """A table of ``episodes`` (newest first, as the daemon sends them)."""
    now = now or datetime.now(UTC)
    if not episodes:
        return Text("No outage episodes recorded.", style="dim")
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold", expand=True)
    table.add_column("Started", no_wrap=True)
    table.add_column("Ended", no_wrap=True)
    table.add_column("Lasted", justify="right", no_wrap=True)
    table.add_column("Worst", no_wrap=True)
    table.add_column("Cause", no_wrap=True, overflow="ellipsis", ratio=1)
    for e in episodes:
        ongoing = not e.get("ended_at")
        worst = str(e.get("worst_status") or "unknown")
        cause = error_kind_text(e.get("cause")) or "—"
        if e.get("error"):
            cause = f"{cause}: {e['error']}"
        table.add_row(
            time_text(e.get("started_at"), now),
            Text("ongoing", style="bold") if ongoing else Text(time_text(e.get("ended_at"), now)),
            episode_duration(e, now),
            f"{status_symbol(worst)} {status_word(worst, short=True)}",
            cause,
            style="bold" if ongoing else None,
        )
    return table


class EpisodeList(Static):
    """The episodes of service.get; ``show`` replaces them."""

    def show(self, episodes: Sequence[dict[str, Any]]) -> None:
        """Show ``episodes`` (newest first)."""
        self.update(episodes_table(episodes))
