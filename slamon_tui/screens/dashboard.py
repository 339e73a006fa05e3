"""The home screen: overall banner, notice, connection line and one row per service.

It follows the feed messages itself (messages.py): the connection line, each snapshot
(rows diffed by service id, in place), checks, status changes and incidents. An event for a
service it does not know means the services changed: it asks the app for a resync.
"""

from __future__ import annotations

import time
from typing import Any

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Footer, Static

from slamon_tui.client import FeedCallError, FeedClientError
from slamon_tui.messages import (
    CheckEvent,
    Connected,
    Connecting,
    DayFetched,
    Disconnected,
    IncidentEvent,
    ResyncWanted,
    Snapshot,
    StatusEvent,
)
from slamon_tui.models.dashboard import DashboardModel, ServiceState
from slamon_tui.screens.service import ServiceScreen
from slamon_tui.types import FeedCall
from slamon_tui.widgets.column_header import ColumnHeader
from slamon_tui.widgets.columns import Columns, columns_for
from slamon_tui.widgets.daemon_health import DaemonHealth
from slamon_tui.widgets.day_line import DayLine, DayView
from slamon_tui.widgets.identity_badge import IdentityBadge
from slamon_tui.widgets.incident_panel import IncidentPanel
from slamon_tui.widgets.service_row import ServiceRow
from slamon_tui.widgets.status_banner import StatusBanner

DAY_DEBOUNCE_S = 0.3
"""service.day is asked once the day cursor has rested this long (holding ← asks nothing)."""
TODAY_TTL_S = 10.0
"""How long today's service.day answer is reused; past days are cached for good."""


def start_hint(socket_path: str) -> str:
    """What to tell someone whose daemon is not running."""
    return (
        f"No slamon daemon is running at {socket_path}\n"
        "Start one with:   slamond --config slamon.toml\n"
        "or try the demo:  make run   (or: slamon demo)\n"
        "Waiting for it — this screen connects by itself."
    )


class ServiceList(VerticalScroll, can_focus=False, inherit_bindings=False):
    """The scrolling list of rows; the rows take focus, not the list.

    Without the scroll bindings it inherits: they sit between the focused row and the
    screen, so with more rows than fit ↓ would scroll the list instead of moving the cursor.
    """


class ListArea(Vertical):
    """The rows with the day line right under them: the list is as tall as its rows, up to
    what leaves the day line on screen (then it scrolls)."""

    def on_resize(self) -> None:
        """Cap the list so the day line below it stays visible."""
        self.query_one(ServiceList).styles.max_height = max(1, self.size.height - 1)


class DashboardScreen(Screen[None]):
    """Live status of every service. Rows are kept by service id and updated in place."""

    BINDINGS = [
        Binding("down,j", "cursor_down", "Next", key_display="↓/j", show=False),
        Binding("up,k", "cursor_up", "Previous", key_display="↑/k", show=False),
        Binding("home,g", "cursor_first", "First", show=False),
        Binding("end,G", "cursor_last", "Last", show=False),
        Binding("enter", "open_service", "Detail", key_display="⏎"),
        Binding("left,h", "day_earlier", "Day", key_display="←→/hl"),
        Binding("right,l", "day_later", "Later day", show=False),
    ]

    def __init__(self, socket_path: str, call: FeedCall) -> None:
        super().__init__()
        self.socket_path = socket_path
        self._call = call
        self.days_back = 0
        """Where the day cursor is on the bar: days before today (0: today)."""
        self._day_cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
        self._day_problem: tuple[tuple[str, str], str] | None = None
        self._day_timer: Timer | None = None
        self._day_timer_key: tuple[str, str] | None = None
        self.model = DashboardModel()
        self.rows: dict[str, ServiceRow] = {}
        self.columns = Columns()
        # Kept here: the line sits in a row whose children may mount after the first
        # feed message arrives, when a query would not find it yet.
        self._connection = Static("Connecting…", id="connection")
        self.incident_panel = IncidentPanel(id="incident-panel")
        """The "Active incidents" panel above the services (hidden while there are none)."""
        self.incident_panel.display = False

    def compose(self) -> ComposeResult:
        """Banner, connection line, notice, start hint, column titles, rows, footer."""
        yield StatusBanner(id="banner")
        with Horizontal(id="connection-row"):
            yield self._connection
            yield IdentityBadge(id="identity", classes="identity-badge")
        yield DaemonHealth(self._call, id="daemon-health")
        # Hidden until there is something to show. Set here, not in on_mount: the feed
        # worker's first snapshot can be handled before this screen's Mount event.
        yield _hidden(Static("", id="notice"))
        yield _hidden(Static("", id="no-daemon"))
        yield self.incident_panel
        yield _hidden(ColumnHeader(self.columns, id="columns"))
        with ListArea(id="list-area"):
            yield ServiceList(id="services")
            yield _hidden(DayLine(id="day-line"))
        yield _hidden(Static("No services are configured on this daemon.", id="empty"))
        yield Footer()

    def on_resize(self) -> None:
        """Lay the columns out for the new width (a 30, 60 or 90-day bar)."""
        columns = columns_for(self.size.width)
        if columns != self.columns:
            self.columns = columns
            with self.app.batch_update():
                self.query_one(ColumnHeader).set_columns(columns)
                for row in self.rows.values():
                    row.show(row.service, columns)
                self._show_day(retry=False)

    # --- feed state -------------------------------------------------------------------

    @on(Connecting)
    def _connecting(self, message: Connecting) -> None:
        """A retry is under way (the first attempt changes nothing on screen)."""
        if message.line is not None:
            self._set_connection(message.line, "-down")

    @on(Connected)
    def _connected(self, message: Connected) -> None:
        """The feed is live."""
        self.remove_class("-stale")
        self.query_one(StatusBanner).set_stale(False)
        self.query_one("#no-daemon").display = False
        self._set_connection(message.line, "-up")

    @on(Disconnected)
    def _disconnected(self, message: Disconnected) -> None:
        """The feed is down; say why and when the next try is (with no daemon, the start
        hint below says it all)."""
        missing = message.daemon_missing
        self.add_class("-stale")
        self.query_one(StatusBanner).set_stale(True)
        hint = self.query_one("#no-daemon", Static)
        if missing:
            hint.update(start_hint(self.socket_path))
        hint.display = missing
        self._set_connection(message.line, "-down")
        if not self.model.loaded:
            self.query_one(StatusBanner).set_waiting(
                "No daemon running" if missing else "Not connected"
            )

    def _set_connection(self, text: str, state: str) -> None:
        line = self._connection
        line.update(text)
        line.set_classes(state)

    # --- data ---------------------------------------------------------------------------

    @on(Snapshot)
    def _snapshot(self, message: Snapshot) -> None:
        """Replace the data with a status.get result: diff rows by id, in one repaint."""
        result = message.result
        self.model.apply_snapshot(result)
        model = self.model
        container = self.query_one("#services", ServiceList)
        with self.app.batch_update():
            self.query_one(StatusBanner).set_status(model.overall, model.overall_since)
            notice = self.query_one("#notice", Static)
            notice.display = bool(model.notice)
            if model.notice:
                notice.update(f"▪ {model.notice}")
            self._sync_rows(container, model.services)
            self.query_one("#columns").display = bool(model.services)
            self.query_one("#empty").display = not model.services
        if self.focused is None and self.rows:
            self.call_after_refresh(self._focus_first)
        else:
            self._show_day()
        self._show_incidents(result.get("incidents"))

    def _sync_rows(self, container: ServiceList, services: dict[str, ServiceState]) -> None:
        """Make the rows match ``services``: drop stale, update kept, add new, keep order.

        New rows next to each other are mounted in one call (a first snapshot of hundreds
        of services is one mount, not hundreds).
        """
        stale = [self.rows.pop(sid) for sid in list(self.rows) if sid not in services]
        if stale:
            container.remove_children(stale)
        previous: ServiceRow | None = None
        batch: list[ServiceRow] = []
        for sid, service in services.items():
            row = self.rows.get(sid)
            if row is None:
                row = self.rows[sid] = ServiceRow(service, self.columns)
                batch.append(row)
                continue
            previous = self._mount_batch(container, batch, previous)
            row.show(service, self.columns)
            if previous is None:
                if container.children[0] is not row:
                    container.move_child(row, before=0)
            elif _next_sibling(previous) is not row:
                container.move_child(row, after=previous)
            previous = row
        self._mount_batch(container, batch, previous)

    @staticmethod
    def _mount_batch(
        container: ServiceList, batch: list[ServiceRow], previous: ServiceRow | None
    ) -> ServiceRow | None:
        """Mount ``batch`` after ``previous`` (or first); return the row now before the next."""
        if not batch:
            return previous
        if previous is not None:
            container.mount_all(batch, after=previous)
        elif container.children:
            container.mount_all(batch, before=0)
        else:
            container.mount_all(batch)
        last = batch[-1]
        batch.clear()
        return last

    @on(CheckEvent)
    def _check(self, message: CheckEvent) -> None:
        """Show a check event (a resync when it names an unknown service)."""
        service = self.model.apply_check(message.data)
        if service is None:
            self.post_message(ResyncWanted())
            return
        self._refresh_row(service)
        selected = self.selected
        if selected is not None and selected.service_id == service.id and self.days_back == 0:
            self._show_day(retry=False)  # today's cell may have changed

    @on(StatusEvent)
    def _status(self, message: StatusEvent) -> None:
        """Show a status event (a resync when it names an unknown service)."""
        changed = self.model.apply_status(message.data)
        if changed is None:
            self.post_message(ResyncWanted())
        elif changed is True:
            self.query_one(StatusBanner).set_status(self.model.overall, self.model.overall_since)
        elif isinstance(changed, ServiceState):
            self._refresh_row(changed)

    def _refresh_row(self, service: ServiceState) -> None:
        row = self.rows.get(service.id)
        if row is not None:
            row.show(service)

    # --- cursor -------------------------------------------------------------------------

    @property
    def selected(self) -> ServiceRow | None:
        """The row with the cursor, if any."""
        return self.focused if isinstance(self.focused, ServiceRow) else None

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """The cursor moved to another row: it keeps the day cursor's place."""
        if isinstance(event.widget, ServiceRow):
            event.widget.set_days_back(self.days_back)
            self._show_day()

    def _focus_first(self) -> None:
        if self.focused is None:
            rows = self.query_one("#services").query_children(ServiceRow)
            if rows:
                rows.first().focus()

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

    def action_open_service(self) -> None:
        """Open the detail screen of the service under the cursor."""
        row = self.selected
        if row is not None:
            s = row.service
            self.app.push_screen(
                ServiceScreen(s.id, self._call, name=s.name, status=s.status, since=s.status_since)
            )

    # --- the day cursor on the bar ------------------------------------------------------

    def action_day_earlier(self) -> None:
        """Move the day cursor one day back."""
        self._move_day(1)

    def action_day_later(self) -> None:
        """Move the day cursor one day forward (towards today)."""
        self._move_day(-1)

    def _move_day(self, delta: int) -> None:
        last = self._last_day_index()
        self.days_back = max(0, min(last, min(self.days_back, last) + delta))
        row = self.selected
        if row is not None:
            row.set_days_back(self.days_back)
        self._show_day()

    def _last_day_index(self) -> int:
        """The furthest the day cursor goes back: the bar's first cell."""
        return max(0, min(self.columns.window, len(self.model.days) or 1) - 1)

    def _selected_day(self) -> tuple[str, str, int, str] | None:
        """(service id, day, days back, the bar's cell) under the day cursor, or None."""
        row = self.selected
        if row is None or not self.model.days:
            return None
        back = min(self.days_back, self._last_day_index())
        daily = row.service.daily
        cell = daily[-1 - back] if back < len(daily) else "nd"
        return row.service_id, self.model.days[-1 - back], back, cell

    def _show_day(self, *, retry: bool = True) -> None:
        """Show the day under the day cursor; ask service.day for it once the cursor rests.

        After a failed ask, only ``retry`` (a cursor move, a resync) asks again.
        """
        if retry:
            self._day_problem = None
        line = self.query_one(DayLine)
        selected = self._selected_day()
        line.display = selected is not None
        if selected is None:
            return
        sid, day, back, cell = selected
        key = (sid, day)
        entry = self._day_cache.get(key)
        problem = (
            self._day_problem[1] if self._day_problem and self._day_problem[0] == key else None
        )
        line.show(DayView(day, back, cell, entry[1] if entry else None, problem))
        if not _fresh(entry, back) and problem is None:
            self._schedule_day_fetch(key)

    def _schedule_day_fetch(self, key: tuple[str, str]) -> None:
        # Restart the wait only when the cursor moved: events for the same day (a check
        # every 300 ms) must not keep pushing the fetch back.
        if self._day_timer is not None:
            if self._day_timer_key == key:
                return
            self._day_timer.stop()
        self._day_timer_key = key
        self._day_timer = self.set_timer(DAY_DEBOUNCE_S, self._fetch_selected_day)

    def _fetch_selected_day(self) -> None:
        self._day_timer = self._day_timer_key = None
        selected = self._selected_day()
        if selected is not None:
            sid, day, back, _cell = selected
            if not _fresh(self._day_cache.get((sid, day)), back):
                self.fetch_day(sid, day)

    @work(exclusive=True, group="day", exit_on_error=False)
    async def fetch_day(self, service_id: str, day: str) -> None:
        """Ask the daemon about one day of one service; the answer comes as DayFetched."""
        try:
            result = await self._call("service.day", {"id": service_id, "day": day})
        except FeedCallError as exc:
            self.post_message(DayFetched(service_id, day, None, exc.message))
        except FeedClientError as exc:
            self.post_message(DayFetched(service_id, day, None, f"no details: {exc}"))
        else:
            self.post_message(DayFetched(service_id, day, result))

    @on(DayFetched)
    def _on_day_fetched(self, message: DayFetched) -> None:
        key = (message.service_id, message.day)
        if message.result is not None:
            self._day_cache[key] = (time.monotonic(), message.result)
            self._day_problem = None
        else:
            self._day_problem = (key, message.problem or "no details")
        self._show_day(retry=False)

    # --- active incidents (widgets/incident_panel.py) -------------------------------------

    def _show_incidents(self, incidents: list[dict[str, Any]] | None) -> None:
        """The active incidents of a status.get answer (hidden when there are none)."""
        names = {sid: s.name for sid, s in self.model.services.items()}
        self.incident_panel.show(incidents, names)

    @on(IncidentEvent)
    def _incident(self, message: IncidentEvent) -> None:
        """Fold an ``incident`` event into the panel."""
        self.incident_panel.apply_event(message.data)


def _fresh(entry: tuple[float, dict[str, Any]] | None, days_back: int) -> bool:
    """Whether a cached service.day answer can be shown as is (today's ages out)."""
    if entry is None:
        return False
    return days_back > 0 or time.monotonic() - entry[0] < TODAY_TTL_S


def _hidden(widget: Widget) -> Widget:
    widget.display = False
    return widget


def _next_sibling(row: ServiceRow) -> object | None:
    siblings = list(row.parent.children) if row.parent else []
    i = siblings.index(row)
    return siblings[i + 1] if i + 1 < len(siblings) else None
