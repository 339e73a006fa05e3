"""The home screen: overall banner, notice, connection line and one row per service."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Static

from slamon_tui.model import DashboardModel, ServiceState
from slamon_tui.widgets.column_header import ColumnHeader
from slamon_tui.widgets.service_row import ServiceRow
from slamon_tui.widgets.status_banner import StatusBanner

# Screen widths at which the bar grows from 30 to 60 to 90 days. A 90-day row needs about
# 160 cells (name, status, bar, uptime, latency and some sparkline); 60 days about 125.
MEDIUM_WIDTH = 125
WIDE_WIDTH = 165


def bar_window(width: int) -> int:
    """Days the bar shows on a screen ``width`` cells wide: 30, 60 or 90."""
    if width >= WIDE_WIDTH:
        return 90
    if width >= MEDIUM_WIDTH:
        return 60
    return 30


def start_hint(socket_path: str) -> str:
    """What to tell someone whose daemon is not running."""
    return (
        f"No slamon daemon is running at {socket_path}\n"
        "Start one with:   slamond --config slamon.toml\n"
        "or try the demo:  make run   (or: slamon demo)\n"
        "Waiting for it — this screen connects by itself."
    )


class ServiceList(VerticalScroll, can_focus=False):
    """The scrolling list of rows; the rows take focus, not the list."""


class DashboardScreen(Screen[None]):
    """Live status of every service. Rows are kept by service id and updated in place."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (MEDIUM_WIDTH, "-medium"), (WIDE_WIDTH, "-wide")]

    BINDINGS = [
        Binding("down,j", "cursor_down", "Next", key_display="↓/j"),
        Binding("up,k", "cursor_up", "Previous", key_display="↑/k"),
        Binding("home,g", "cursor_first", "First", show=False),
        Binding("end,G", "cursor_last", "Last", show=False),
    ]

    def __init__(self, socket_path: str) -> None:
        super().__init__()
        self.socket_path = socket_path
        self.model = DashboardModel()
        self.rows: dict[str, ServiceRow] = {}
        self.window = 30
        self.connected = False
        self._last_failure = ""
        self._shutdown: str | None = None

    def compose(self) -> ComposeResult:
        """Banner, connection line, notice, start hint, column titles, rows, footer."""
        yield StatusBanner(id="banner")
        yield Static("Connecting…", id="connection")
        # Hidden until there is something to show. Set here, not in on_mount: the feed
        # worker's first snapshot can be handled before this screen's Mount event.
        yield _hidden(Static("", id="notice"))
        yield _hidden(Static("", id="no-daemon"))
        yield _hidden(ColumnHeader(self.window, id="columns"))
        yield ServiceList(id="services")
        yield _hidden(Static("No services are configured on this daemon.", id="empty"))
        yield Footer()

    def on_resize(self) -> None:
        """Pick the bar's window for the new width and re-lay the rows."""
        window = bar_window(self.size.width)
        if window != self.window:
            self.window = window
            with self.app.batch_update():
                self.query_one(ColumnHeader).set_window(window)
                for row in self.rows.values():
                    row.show(row._service, window=window)

    @property
    def short_words(self) -> bool:
        """Narrow screens use the short status words ("Partial", "Major")."""
        return self.window == 30

    # --- feed state -------------------------------------------------------------------

    def show_connecting(self, attempt: int) -> None:
        """A connection attempt is under way (the last failure stays on show)."""
        if attempt > 1:
            why = f" — {self._last_failure}" if self._last_failure else ""
            self._set_connection(f"⟳ reconnecting… (attempt {attempt}){why}", "-down")

    def show_connected(self, node: str, version: str) -> None:
        """The feed is live."""
        self.connected = True
        self._shutdown = None
        self.remove_class("-stale")
        self.query_one(StatusBanner).set_stale(False)
        self.query_one("#no-daemon").display = False
        self._set_connection(f"● live · node {node} · slamon {version} · {self.socket_path}", "-up")

    def show_disconnected(
        self, reason: str, retry_in: float, daemon_missing: bool, shutdown: str | None = None
    ) -> None:
        """The feed is down; say why and when the next try is."""
        self.connected = False
        if shutdown:
            # Kept over the following "no daemon" failures: the goodbye is the real cause.
            self._shutdown = shutdown
        if daemon_missing:
            self._last_failure = (
                f"the daemon shut down ({self._shutdown})" if self._shutdown else ""
            )
        else:
            self._last_failure = reason
        self.add_class("-stale")
        self.query_one(StatusBanner).set_stale(True)
        hint = self.query_one("#no-daemon", Static)
        if daemon_missing:
            hint.update(start_hint(self.socket_path))
        hint.display = daemon_missing
        when = f"{retry_in:.1f} s" if retry_in < 10 else f"{retry_in:.0f} s"
        # With no daemon the box below says it all; otherwise say what went wrong.
        why = f" — {self._last_failure}" if self._last_failure else ""
        self._set_connection(f"⟳ reconnecting… next try in {when}{why}", "-down")
        if not self.model.loaded:
            self.query_one(StatusBanner).set_waiting(
                "No daemon running" if daemon_missing else "Not connected"
            )

    def _set_connection(self, text: str, state: str) -> None:
        line = self.query_one("#connection", Static)
        line.update(text)
        line.set_classes(state)

    # --- data ---------------------------------------------------------------------------

    def show_snapshot(self, result: dict[str, object]) -> None:
        """Replace the data with a status.get result: diff rows by id, in one repaint."""
        self.model.apply_snapshot(result)  # type: ignore[arg-type]
        model = self.model
        container = self.query_one("#services", VerticalScroll)
        with self.app.batch_update():
            self.query_one(StatusBanner).set_status(model.overall, model.overall_since)
            notice = self.query_one("#notice", Static)
            notice.display = bool(model.notice)
            if model.notice:
                notice.update(f"▪ {model.notice}")
            for sid in [sid for sid in self.rows if sid not in model.services]:
                self.rows.pop(sid).remove()
            previous: ServiceRow | None = None
            for sid, service in model.services.items():
                row = self.rows.get(sid)
                if row is None:
                    row = ServiceRow(service, self.window, short_words=self.short_words)
                    self.rows[sid] = row
                    if previous is None:
                        container.mount(row, before=0 if container.children else None)
                    else:
                        container.mount(row, after=previous)
                else:
                    row.show(service, window=self.window, short_words=self.short_words)
                    if previous is not None and _next_sibling(previous) is not row:
                        container.move_child(row, after=previous)
                previous = row
            self.query_one("#columns").display = bool(model.services)
            self.query_one("#empty").display = not model.services
        if self.focused is None and self.rows:
            self.call_after_refresh(self._focus_first)

    def apply_check(self, data: dict[str, object]) -> bool:
        """Show a check event; False when it names an unknown service (resync needed)."""
        service = self.model.apply_check(data)  # type: ignore[arg-type]
        if service is None:
            return False
        self._refresh_row(service)
        return True

    def apply_status(self, data: dict[str, object]) -> bool:
        """Show a status event; False when it names an unknown service (resync needed)."""
        changed = self.model.apply_status(data)  # type: ignore[arg-type]
        if changed is None:
            return False
        if changed is True:
            self.query_one(StatusBanner).set_status(self.model.overall, self.model.overall_since)
        elif isinstance(changed, ServiceState):
            self._refresh_row(changed)
        return True

    def _refresh_row(self, service: ServiceState) -> None:
        row = self.rows.get(service.id)
        if row is not None:
            row.show(service)

    # --- cursor -------------------------------------------------------------------------

    def _focus_first(self) -> None:
        if self.focused is None and self.rows:
            next(iter(self.rows.values())).focus()

    def _move(self, delta: int) -> None:
        rows = list(self.query_one("#services").query_children(ServiceRow))
        if not rows:
            return
        current = self.focused
        index = rows.index(current) if current in rows else -1
        target = rows[max(0, min(len(rows) - 1, index + delta))] if index >= 0 else rows[0]
        target.focus()

    def action_cursor_down(self) -> None:
        """Move the cursor to the next service."""
        self._move(1)

    def action_cursor_up(self) -> None:
        """Move the cursor to the previous service."""
        self._move(-1)

    def action_cursor_first(self) -> None:
        """Move the cursor to the first service."""
        self._move(-len(self.rows))

    def action_cursor_last(self) -> None:
        """Move the cursor to the last service."""
        self._move(len(self.rows))


def _hidden(widget: Widget) -> Widget:
    widget.display = False
    return widget


def _next_sibling(row: ServiceRow) -> object | None:
    siblings = list(row.parent.children) if row.parent else []
    i = siblings.index(row)
    return siblings[i + 1] if i + 1 < len(siblings) else None
