"""The last checks of one service: time, outcome, status code, latency, error."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from slamon_daemon import text
from slamon_tui.formatting import error_kind_text, outcome_text, time_text


def checks_table(checks: Sequence[dict[str, Any]], now: datetime | None = None) -> RenderableType:
    """A table of ``checks`` (newest first). A failed check's latency is its time to fail,
    shown dim: it is not a response time."""
    now = now or datetime.now(UTC)
    if not checks:
        return Text("No checks yet.", style="dim")
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold", expand=True)
    table.add_column("Time", no_wrap=True)
    table.add_column("Outcome", no_wrap=True)
    table.add_column("Code", justify="right", no_wrap=True)
    table.add_column("Latency", justify="right", no_wrap=True)
    table.add_column("Error", no_wrap=True, overflow="ellipsis", ratio=1)
    for c in checks:
        outcome = str(c.get("outcome") or "")
        failed = outcome == "down"
        code = c.get("status_code")
        latency = c.get("latency_ms")
        error = error_kind_text(c.get("error_kind"))
        if c.get("error"):
            error = f"{error}: {c['error']}" if error else str(c["error"])
        if c.get("maintenance"):
            error = f"(maintenance) {error}".strip()
        table.add_row(
            time_text(c.get("started_at"), now, seconds=True),
            Text(outcome_text(outcome), style="bold" if failed else ""),
            "—" if code is None else str(code),
            Text(text.latency(latency), style="dim" if failed else ""),
            error,
        )
    return table


class RecentChecks(Static):
    """The recent checks of service.get; ``show`` replaces them."""

    def show(self, checks: Sequence[dict[str, Any]]) -> None:
        """Show ``checks`` (newest first)."""
        self.update(checks_table(checks))
