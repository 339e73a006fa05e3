"""The SLA report (``S``): one month (←/→ or [ ] for the previous/next) or the last 30 days
(``d``), every service's figures from ``sla.report`` (the same code path as
``slamon report``), and ``x`` to export it to a file.

The export asks the daemon for the report as text (``format`` md, csv or json; ``f``
cycles) and writes it, under the file name the daemon gives, to $SLAMON_EXPORT_DIR or else
the current directory, never over an existing file.
"""

from __future__ import annotations

import asyncio
import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from slamon_tui.client import FeedCallError, FeedClientError
from slamon_tui.screens.base import LiveScreen
from slamon_tui.screens.help import SLA_KEYS
from slamon_tui.types import FeedCall
from slamon_tui.widgets.keys_footer import KeysFooter
from slamon_tui.widgets.sla_table import SlaTable

EXPORT_FORMATS = ("md", "csv", "json")
LAST_DAYS = 30
EXPORT_DIR_ENV = "SLAMON_EXPORT_DIR"


def shift_month(month: str, step: int) -> str:
    """ "2026-11" moved ``step`` months ("2026-10" for -1)."""
    y, m = (int(x) for x in month.split("-"))
    index = y * 12 + (m - 1) + step
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def period_span(period: dict[str, Any]) -> str:
    """ " · 2026-11-01 – 2026-11-30 UTC": the first and last day of [start, end)."""
    try:
        first = date.fromisoformat(str(period["start"])[:10])
        last = date.fromisoformat(str(period["end"])[:10]) - timedelta(days=1)
    except (KeyError, ValueError):
        return ""
    return f" · {first} – {max(first, last)} {period.get('timezone') or 'UTC'}"


def export_path(folder: Path, filename: str) -> Path:
    """Where to write ``filename`` in ``folder``: its base name only, and "-2", "-3" … added
    when a file of that name is already there (an earlier export is never overwritten)."""
    name = Path(filename).name or "slamon-sla-report.txt"
    path = folder / name
    n = 2
    while path.exists():
        path = folder / f"{Path(name).stem}-{n}{Path(name).suffix}"
        n += 1
    return path


def write_export(folder: Path, filename: str, text: str) -> Path:
    """Write ``text`` (blocking: run in a thread); return the path written."""
    folder.mkdir(parents=True, exist_ok=True)
    path = export_path(folder, filename)
    with path.open("x", encoding="utf-8") as f:  # "x": never over a file made meanwhile
        f.write(text)
    return path


class SlaScreen(LiveScreen[None]):
    """SLA figures per service for a month or the last 30 days."""

    HELP_TITLE = "SLA report"
    KEYS_HELP = SLA_KEYS
    BINDINGS = [
        Binding("escape", "back", "Back", key_display="Esc"),
        Binding("left,left_square_bracket,h", "month(-1)", "Month", key_display="←→"),
        Binding("right,right_square_bracket,l", "month(1)", "Next month", show=False),
        Binding("d", "toggle_days", "Last 30 days"),
        Binding("x", "export", "Export"),
        Binding("f", "cycle_format", "Format"),
        Binding("r", "reload", "Refresh"),
    ]

    def __init__(self, call: FeedCall) -> None:
        super().__init__(call)
        self.month: str | None = None
        """The month shown ("2026-11"); None until the daemon said which is current."""
        self.latest_month: str | None = None
        self.last_days = False
        self.export_format = EXPORT_FORMATS[0]
        self.report: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        """Period line, problem line, the table."""
        yield Static("SLA report · loading…", id="sla-period")
        yield Static("", id="sla-problem", classes="problem-line")
        with VerticalScroll(id="sla-body"):
            yield SlaTable(id="sla-table")
        yield KeysFooter()

    def on_mount(self) -> None:
        """Ask for this month's report."""
        self.query_one("#sla-problem").display = False
        self.query_one("#sla-body").focus()
        self.reload()

    @property
    def period_params(self) -> dict[str, Any]:
        """The period as sla.report takes it."""
        if self.last_days:
            return {"days": LAST_DAYS}
        return {"month": self.month} if self.month else {}

    # --- loading --------------------------------------------------------------------------

    def reload(self) -> None:
        """Ask for the report of the period shown."""
        self.run_worker(
            self._load(dict(self.period_params)),
            group="report",
            exclusive=True,
            exit_on_error=False,
        )

    async def _load(self, params: dict[str, Any]) -> None:
        try:
            report = await self._call("sla.report", params)
        except FeedCallError as exc:
            self._problem(f"⚠ sla.report: {exc.message}")
            return
        except FeedClientError as exc:
            self._problem(f"⚠ sla.report failed: {exc} — showing what was last fetched")
            return
        if params != self.period_params:
            return  # the user moved on meanwhile
        self.query_one("#sla-problem").display = False
        self.report = report
        label = str((report.get("period") or {}).get("label") or "")
        if not self.last_days and self.month is None and len(label) == 7:
            self.month = self.latest_month = label
        self._show_period()
        self.query_one(SlaTable).show(report)

    def _show_period(self) -> None:
        report = self.report or {}
        period = report.get("period") or {}
        label = f"last {LAST_DAYS} days" if self.last_days else (self.month or "this month")
        state = "complete" if period.get("complete") else "in progress"
        breached = report.get("breached") or []
        verdict = (
            f"✕ {len(breached)} breached: {', '.join(map(str, breached))}"
            if breached
            else "✓ every target met"
        )
        if not report.get("services"):
            verdict = "no services"
        self.query_one("#sla-period", Static).update(
            f"SLA report · {label}{period_span(period)} · {state}\n"
            f"{verdict} · x exports as {self.export_format} (f changes the format)"
        )

    def _problem(self, text: str) -> None:
        line = self.query_one("#sla-problem", Static)
        line.update(text)
        line.display = True

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """A bug in a fetch or an export: say so rather than die."""
        if event.state == WorkerState.ERROR:
            self.notify(f"Internal error: {event.worker.error!r}", severity="error", timeout=10)

    def feed_down(self, line: str) -> None:
        """Say the figures are the last fetched."""
        self._problem(f"{line}\nThe figures below are the last fetched.")

    # --- keys -------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """No month after the current one; month keys dimmed in "last 30 days"."""
        if action == "month":
            if self.last_days or self.month is None:
                return None
            if parameters and int(str(parameters[0])) > 0 and self.month == self.latest_month:
                return None
        return True

    def action_back(self) -> None:
        """Back to where S was pressed."""
        self.dismiss(None)

    def action_month(self, step: int) -> None:
        """The previous (-1) or next (+1) month (not past the current one)."""
        if self.last_days or self.month is None:
            return
        month = shift_month(self.month, step)
        if self.latest_month and month > self.latest_month:
            self.notify("That month has not begun yet.", timeout=2)
            return
        self.month = month
        self.query_one(SlaTable).update("Loading…")
        self._show_period()
        self.refresh_bindings()
        self.reload()

    def action_toggle_days(self) -> None:
        """Switch between the month and the last 30 days."""
        self.last_days = not self.last_days
        self.query_one(SlaTable).update("Loading…")
        self._show_period()
        self.refresh_bindings()
        self.reload()

    def action_cycle_format(self) -> None:
        """Export as md, csv or json next."""
        i = EXPORT_FORMATS.index(self.export_format)
        self.export_format = EXPORT_FORMATS[(i + 1) % len(EXPORT_FORMATS)]
        self._show_period()
        self.notify(f"Export format: {self.export_format}", timeout=2)

    def action_export(self) -> None:
        """Write the report shown to a file."""
        params = {**self.period_params, "format": self.export_format}
        self.run_worker(self._export(params), group="export", exclusive=True, exit_on_error=False)

    async def _export(self, params: dict[str, Any]) -> None:
        try:
            result = await self._call("sla.report", params)
        except FeedClientError as exc:
            self.notify(f"Export failed: {exc}", severity="error", timeout=8)
            return
        folder = Path(os.environ.get(EXPORT_DIR_ENV) or Path.cwd())
        try:
            path = await asyncio.to_thread(
                write_export,
                folder,
                str(result.get("filename") or ""),
                str(result.get("text") or ""),
            )
        except OSError as exc:
            self.notify(
                f"Export failed: cannot write in {folder}: {exc.strerror or exc}",
                severity="error",
                timeout=8,
            )
            return
        self.last_export = path
        self.notify(f"SLA report exported to {path}", title="Exported", timeout=8)

    last_export: Path | None = None

    def action_reload(self) -> None:
        """Fetch the report again now."""
        self.reload()
        self.notify("Refreshing…", timeout=1)
