"""The help overlay (``?``): the keys of the screen it was opened on first, then the keys
that work everywhere, the other screens' keys, and how to read the symbols and the bar.

It scrolls (↑ ↓ j k PgUp PgDn Home End), so at 80×24 everything is reachable (issue 12).
A screen says its keys with ``HELP_TITLE`` and ``KEYS_HELP`` (key, what); a screen without them
gets its footer's bindings listed.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from slamon_tui.formatting import DAILY_GLYPHS, DAILY_WORDS, STATUS_LABELS
from slamon_tui.widgets.latency_sparkline import FAILED_MARK

TREND_LEGEND = (
    f"Trend: ▁▃▆█ one bar per answered check (latency); {FAILED_MARK} a failed check, "
    "whose time to fail is not a response time and stays out of the scale."
)

APP_KEYS: list[tuple[str, str]] = [
    ("I", "incidents: active, past, search"),
    ("S", "SLA report by month"),
    ("A", "admin: users, services, maintenance, audit log (admins)"),
    ("!", "alerts: firing, channels (add, edit, test-send), rules, silences, deliveries"),
    ("O", "nodes of a cluster: region, heartbeat, leases, health, why one is sick"),
    ("L  Ctrl+L", "log in / log out (the login is cached until it expires)"),
    ("r", "resync now (or reconnect at once)"),
    ("Ctrl+P", "command palette (themes: high contrast …)"),
    ("?", "this help (Esc closes it)"),
    ("q", "quit"),
]

DETAIL_KEYS: list[tuple[str, str]] = [
    ("1 2 3 4", "chart range 1h / 24h / 7d / 30d"),
    ("← h  → l", "shorter / longer chart range"),
    ("↑ ↓ PgUp PgDn", "scroll"),
    ("i", "the service's incident: its open one, or a new one filled in"),
    ("e", "the full error text of the last check and the outage"),
    ("r", "refresh now (it also follows new checks)"),
    ("Esc", "back to the dashboard, cursor where it was"),
]

INCIDENT_KEYS: list[tuple[str, str]] = [
    ("Enter", "open the incident under the cursor"),
    ("/", "search titles, descriptions, updates, root causes, resolution notes"),
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

OTHER_SCREENS: list[tuple[str, list[tuple[str, str]]]] = [
    ("Service detail", DETAIL_KEYS),
    ("Incidents", INCIDENT_KEYS),
    ("SLA report", SLA_KEYS),
]


def screen_keys(screen: Screen[Any] | None) -> tuple[str, list[tuple[str, str]]]:
    """The title and keys of ``screen``: its KEYS_HELP, else its bindings with a description."""
    if screen is None:
        return "This screen", []
    title = str(getattr(screen, "HELP_TITLE", "") or type(screen).__name__.removesuffix("Screen"))
    keys = getattr(screen, "KEYS_HELP", None)
    if keys:
        return title, list(keys)
    out = []
    for binding in _bindings(screen.BINDINGS):
        if binding.description:
            out.append((binding.key_display or binding.key.replace(",", " "), binding.description))
    return title, out


def _bindings(items: list[BindingType]) -> list[Binding]:
    return [b for b in items if isinstance(b, Binding)]


def _section(outer: Table, title: str, keys: list[tuple[str, str]]) -> None:
    """A titled block of keys: the title on its own line, then key / what."""
    outer.add_row(Text(title, style="bold underline"))
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for key, what in keys:
        grid.add_row(key, what)
    outer.add_row(grid)
    outer.add_row("")


def help_table(screen: Screen[Any] | None = None) -> Table:
    """The current screen's keys, the keys everywhere, the other screens', the legend."""
    title, keys = screen_keys(screen)
    outer = Table.grid()
    outer.add_column()
    if keys:
        _section(outer, f"Keys here: {title}", keys)
    _section(outer, "Everywhere", APP_KEYS)
    for name, section in OTHER_SCREENS:
        if name != title:
            _section(outer, name, section)
    legend = Table.grid(padding=(0, 2))
    legend.add_column(no_wrap=True)
    legend.add_column(no_wrap=True)
    legend.add_row(Text("Service status", style="underline"), Text("Daily bar", style="underline"))
    days = [f"{glyph * 3} {DAILY_WORDS[key]}" for key, glyph in DAILY_GLYPHS.items()]
    days.append("today is the rightmost cell")
    statuses = [f"{symbol} {word}" for symbol, word, _short in STATUS_LABELS.values()]
    for i in range(max(len(statuses), len(days))):
        legend.add_row(statuses[i] if i < len(statuses) else "", days[i] if i < len(days) else "")
    outer.add_row(legend)
    outer.add_row("")
    outer.add_row(TREND_LEGEND)
    return outer


class HelpScreen(ModalScreen[None]):
    """The keys of ``screen`` (the one below), then the rest; scrolls; Esc, ? or q closes."""

    BINDINGS = [Binding("escape,question_mark,q", "dismiss_help", "Close", show=True)]

    def __init__(self, screen: Screen[Any] | None = None) -> None:
        super().__init__()
        self.for_screen = screen

    def compose(self) -> ComposeResult:
        """A titled, scrolling box with the help table."""
        with VerticalScroll(id="help-box") as box:
            box.border_title = "slamon — help"
            box.border_subtitle = "↑↓ PgUp PgDn scroll · Esc closes"
            yield Static(help_table(self.for_screen), id="help-body")

    def on_mount(self) -> None:
        """The box takes the scroll keys."""
        self.query_one("#help-box").focus()

    def action_dismiss_help(self) -> None:
        """Close the overlay."""
        self.dismiss(None)
