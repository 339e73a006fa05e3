"""The help overlay: keys, and how to read the bar and the status symbols."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from slamon_tui.formatting import DAILY_GLYPHS, DAILY_WORDS, STATUS_LABELS
from slamon_tui.widgets.latency_sparkline import FAILED_MARK

TREND_LEGEND = (
    f"Trend: ▁▃▆█ one bar per answered check (latency); {FAILED_MARK} a failed check, "
    "whose time to fail is not a response time and stays out of the scale."
)

KEYS: list[tuple[str, str]] = [
    ("↑ k  ↓ j", "previous / next service"),
    ("Home g  End G", "first / last service"),
    ("← h  → l", "day cursor on the bar: earlier / later day"),
    ("Enter", "service detail of the row with the cursor"),
    ("I", "incidents: active, past, search"),
    ("S", "SLA report by month"),
    ("A", "admin: users, services, maintenance, audit log (admins)"),
    ("L  Ctrl+L", "log in / log out (the login is cached until it expires)"),
    ("r", "resync now (or reconnect at once)"),
    ("Ctrl+P", "command palette (themes, …)"),
    ("?", "this help (Esc closes it)"),
    ("q", "quit"),
]

DETAIL_KEYS: list[tuple[str, str]] = [
    ("1 2 3 4", "chart range 1h / 24h / 7d / 30d"),
    ("← h  → l", "shorter / longer chart range"),
    ("↑ ↓ PgUp PgDn", "scroll"),
    ("r", "refresh now (it also follows new checks)"),
    ("Esc", "back to the dashboard, cursor where it was"),
]

INCIDENT_KEYS: list[tuple[str, str]] = [
    ("Enter", "open the incident under the cursor"),
    ("/", "search titles, descriptions and updates"),
    ("d  [ ] PgUp PgDn", "past: 7 / 30 / 90 days; previous / next page"),
    ("n e u R", "new, edit, add update, resolve (reporters, admins)"),
    ("Ctrl+S  Esc", "in a form: save; leave (asks if unsaved)"),
    ("t m b", "conflict: keep theirs, use mine, keep both"),
    ("F2", "update form: show / hide the Markdown preview"),
]

SLA_KEYS: list[tuple[str, str]] = [
    ("← →  [ ]", "previous / next month"),
    ("d", "last 30 days / back to the month"),
    ("x  f", "export to a file ($SLAMON_EXPORT_DIR or here); md/csv/json"),
]


def help_table() -> Table:
    """Keys, then the status symbols beside the bar's glyphs."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for title, keys in (
        ("Dashboard", KEYS),
        ("Service detail", DETAIL_KEYS),
        ("Incidents", INCIDENT_KEYS),
        ("SLA report", SLA_KEYS),
    ):
        table.add_row(Text(title, style="underline"), "")
        for key, what in keys:
            table.add_row(key, what)
    legend = Table.grid(padding=(0, 2))
    legend.add_column(no_wrap=True)
    legend.add_column(no_wrap=True)
    legend.add_row(Text("Service status", style="underline"), Text("Daily bar", style="underline"))
    days = [f"{glyph * 3} {DAILY_WORDS[key]}" for key, glyph in DAILY_GLYPHS.items()]
    days.append("today is the rightmost cell")
    for (symbol, word, _short), day in zip(STATUS_LABELS.values(), days, strict=False):
        legend.add_row(f"{symbol} {word}", day)
    outer = Table.grid()
    outer.add_column()
    outer.add_row(table)
    outer.add_row("")
    outer.add_row(legend)
    outer.add_row("")
    outer.add_row(TREND_LEGEND)
    return outer


class HelpScreen(ModalScreen[None]):
    """Lists the keys and the meaning of symbols; any of Esc, ?, q closes it."""

    BINDINGS = [Binding("escape,question_mark,q", "dismiss_help", "Close", show=True)]

    def compose(self) -> ComposeResult:
        """A titled box with the help table."""
        with Vertical(id="help-box") as box:
            box.border_title = "slamon — help"
            box.border_subtitle = "Esc closes"
            yield Static(help_table(), id="help-body")

    def action_dismiss_help(self) -> None:
        """Close the overlay."""
        self.dismiss(None)
