"""The full story of a service's last check and its open outage, one key away (``e``).

Tables cut errors to fit their column ("TLS err", "self-signed cer…"); here the whole
error text is shown, wrapped: the last check's (time, outcome, status code, latency, kind,
error) and the open outage episode's (start, worst status, cause, failed checks).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from slamon_daemon import text
from slamon_daemon.models import parse_ts
from slamon_tui.formatting import error_kind_text, outcome_text, status_symbol, status_word

HELP_KEYS = [("Esc e q", "close"), ("↑ ↓ PgUp PgDn", "scroll")]


def _when(value: Any, now: datetime) -> str:
    if not value:
        return "—"
    try:
        at = parse_ts(str(value))
    except ValueError:
        return str(value)
    return f"{at:%Y-%m-%d %H:%M:%S} UTC ({text.relative(at, now)})"


def check_detail_table(
    check: dict[str, Any] | None, episode: dict[str, Any] | None, now: datetime | None = None
) -> Table:
    """Label/value rows: the last check, then the open episode (when there is one)."""
    now = now or datetime.now(UTC)
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    table.add_row(Text("Last check", style="underline"), "")
    if not check:
        table.add_row("", Text("No check yet.", style="dim"))
    else:
        code = check.get("status_code")
        table.add_row("Time", _when(check.get("started_at"), now))
        table.add_row("Outcome", outcome_text(str(check.get("outcome") or "")))
        table.add_row("Status code", "—" if code is None else str(code))
        table.add_row("Latency", text.latency(check.get("latency_ms")))
        kind = check.get("error_kind")
        table.add_row("Error kind", f"{error_kind_text(kind)} ({kind})" if kind else "—")
        table.add_row("Error", str(check.get("error") or "—"))
        if check.get("maintenance"):
            table.add_row("", "made during a maintenance window")
        if check.get("node"):
            table.add_row("Node", str(check["node"]))
    table.add_row("", "")
    table.add_row(Text("Open outage", style="underline"), "")
    if not episode:
        table.add_row("", Text("None: no outage is going on.", style="dim"))
        return table
    worst = str(episode.get("worst_status") or "unknown")
    table.add_row("Started", _when(episode.get("started_at"), now))
    table.add_row("Worst", f"{status_symbol(worst)} {status_word(worst)}")
    cause = episode.get("cause")
    table.add_row("Cause", f"{error_kind_text(cause)} ({cause})" if cause else "—")
    table.add_row("Error", str(episode.get("error") or "—"))
    table.add_row("Failed checks", str(episode.get("failed_checks") or 0))
    return table


class CheckDetailScreen(ModalScreen[None]):
    """The last check and the open outage of one service, errors in full."""

    HELP_TITLE = "Check detail"
    KEYS_HELP = HELP_KEYS

    BINDINGS = [Binding("escape,e,q", "close", "Close", key_display="Esc")]

    def __init__(
        self, name: str, check: dict[str, Any] | None, episode: dict[str, Any] | None
    ) -> None:
        super().__init__()
        self.service_name = name
        self.check = check
        self.episode = episode

    def compose(self) -> ComposeResult:
        """A titled, scrolling box."""
        with VerticalScroll(id="check-detail") as box:
            box.border_title = f"{self.service_name} — last check and outage"
            box.border_subtitle = "Esc closes"
            yield Static(check_detail_table(self.check, self.episode), id="check-detail-body")

    def on_mount(self) -> None:
        """The box takes the scroll keys."""
        self.query_one("#check-detail").focus()

    @property
    def plain(self) -> str:
        """The body as plain text (what tests read)."""
        console = Console(width=200, record=True, file=io.StringIO())
        console.print(check_detail_table(self.check, self.episode))
        return console.export_text()

    def action_close(self) -> None:
        """Back to where it was opened."""
        self.dismiss(None)
