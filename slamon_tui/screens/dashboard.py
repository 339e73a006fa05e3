"""The home screen: what is broken and why, first (issue 12).

The board (screens/board.py) keeps the banner with counts, the connection line, the
status-lines area and the list live. This screen adds the keyboard: a cursor that is a
position in the list (``cursor``, moved synchronously: a burst of ``j j j Enter`` opens the
third row down), problems first by default and ``s`` to sort otherwise, ``/`` to filter
(k9s: Esc clears), ``n``/``N`` to the next/previous problem, groups that fold, the day
cursor on the bar, ``i`` for the service's incident (open it, or a new one filled in from
the outage), ``e`` for the full error text. A line under the list says how many problems
are out of view and where; none is ever hidden without it.

The screens it opens are imported when first opened, not at start (issue 14: the first
paint waits for every import).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Static

from slamon_tui.client import FeedCallError, FeedClientError
from slamon_tui.identity import Identity
from slamon_tui.incident_context import incident_prefill
from slamon_tui.messages import DayFetched, Disconnected
from slamon_tui.models.dashboard import ServiceState
from slamon_tui.models.dashboard_view import SORT_TITLES, GroupLine, ServiceLine, next_sort
from slamon_tui.screens.board import ServiceBoard, hidden, start_hint
from slamon_tui.screens.day_cursor import DayCursor
from slamon_tui.types import FeedCall
from slamon_tui.ui_state import UiState
from slamon_tui.widgets.daemon_health import DaemonHealth
from slamon_tui.widgets.day_line import DayLine
from slamon_tui.widgets.identity_badge import IdentityBadge
from slamon_tui.widgets.keys_footer import KeysFooter
from slamon_tui.widgets.list_status import list_status_text
from slamon_tui.widgets.service_row import RowView
from slamon_tui.widgets.service_table import ServiceTable


def alerts_line(summary: dict[str, Any] | None) -> str:
    """The dashboard's line about alerts: firing, silenced, failing channels ("" when calm)."""
    if not summary:
        return ""
    parts = []
    firing = int(summary.get("firing") or 0)
    if firing:
        unacked = int(summary.get("unacknowledged") or 0)
        parts.append(
            f"{firing} alert{'s' if firing != 1 else ''} firing ({unacked} not acknowledged)"
        )
    if summary.get("silences"):
        muted = int(summary.get("silenced") or 0)
        parts.append(
            f"alerts silenced: {summary['silences']} silence(s) active, {muted} alert(s) muted"
        )
    failing = summary.get("failing_channels") or []
    if failing:
        parts.append(f"alert channel failing: {', '.join(failing)}")
    if summary.get("write_error"):
        parts.append("alerts not saved: the database fails")
    if summary.get("enabled") is False:
        parts.append("alerting is off ([alerts] enabled = false)")
    return ("🔔 " + " · ".join(parts) + "  (! opens Alerts)") if parts else ""


HELP_KEYS: list[tuple[str, str]] = [
    ("↑ k  ↓ j  PgUp PgDn", "previous / next service (a page)"),
    ("Home g  End G", "first / last line"),
    ("n  N", "next / previous problem (down, partial, degraded)"),
    ("Enter", "service detail; on a group: fold / unfold it"),
    ("i", "the service's incident: its open one, or a new one filled in"),
    ("e", "the full error text of the last check and the outage"),
    ("/  Esc", "filter: name, status, tag:x, group:x (Esc clears)"),
    ("s", "sort: problems first, name, uptime, latency"),
    ("z", "fold / unfold the group of the cursor"),
    ("← h  → l", "day cursor on the bar: earlier / later day"),
    ("a  m", "acknowledge the service's alert / silence its alerts (reporters, admins)"),
]
"""The dashboard's own keys (the help shows them first)."""


class Rows(Mapping[str, RowView]):
    """Service id -> its row as the dashboard draws it now (follows every change)."""

    def __init__(self, screen: DashboardScreen) -> None:
        self.screen = screen

    def __getitem__(self, service_id: str) -> RowView:
        s = self.screen
        return RowView(s.model.services[service_id], s.columns, s.day.days_back)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.screen.model.services))

    def __len__(self) -> int:
        return len(self.screen.model.services)


class ListArea(Vertical):
    """The rows with the status line and the day line right under them: the list is as
    tall as its rows, up to what leaves those two lines on screen (then it scrolls)."""

    def on_resize(self) -> None:
        """Cap the list so the lines below it stay visible."""
        self.query_one(ServiceTable).styles.max_height = max(1, self.size.height - 2)


class DashboardScreen(ServiceBoard):
    """Live status of every service, problems first, with a cursor."""

    HELP_TITLE = "Dashboard"
    KEYS_HELP = HELP_KEYS

    BINDINGS = [
        # The footer keeps room for the app's keys at 80 columns; the line under the list
        # names the others (i, e, /, s), and help lists them all.
        Binding("enter", "open_line", "Detail", key_display="⏎"),
        Binding("n", "next_problem(1)", "Problem"),
        Binding("i", "incident", "Incident", show=False),
        Binding("slash", "filter", "Filter", key_display="/", show=False),
        Binding("s", "sort", "Sort", show=False),
        Binding("e", "errors", "Errors", show=False),
        Binding("N", "next_problem(-1)", "Previous problem", show=False),
        Binding("down,j", "cursor(1)", "Next", show=False),
        Binding("up,k", "cursor(-1)", "Previous", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("home,g", "cursor_to(0)", "First", show=False),
        Binding("end,G", "cursor_to(-1)", "Last", show=False),
        Binding("space", "toggle_group", "Fold", show=False),
        Binding("z", "toggle_group", "Fold group", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("left,h", "day(1)", "Day", key_display="←→", show=False),
        Binding("right,l", "day(-1)", "Later day", show=False),
        Binding("a", "ack_alert", "Ack alert", show=False),
        Binding("m", "silence_alert", "Silence", show=False),
    ]

    def __init__(
        self,
        socket_path: str,
        call: FeedCall,
        identity: Identity | None = None,
        ui_state: UiState | None = None,
    ) -> None:
        super().__init__(socket_path, call, identity or Identity())
        self.ui_state = ui_state or UiState()
        self.sort = self.ui_state.sort
        self.filter_text = self.ui_state.filter
        self.collapsed = frozenset(self.ui_state.collapsed)
        self.cursor = 0
        """Index of the line with the cursor (a model position, not focus)."""
        self.cursor_key: tuple[str, str] | None = None
        """The line the cursor is on; it stays on it when the lines are rebuilt."""
        self.day = DayCursor(self)
        self.alert_summary: dict[str, Any] | None = None
        """status.get's ``alerts``: firing, silences, failing channels, alerts by service."""
        self.list_status = Static("", id="list-status")
        self.filter_box = Input(
            "",  # the kept filter is put in on mount (an Input needs a running app)
            placeholder="filter: words, tag:x, group:x, status:down · Enter keeps it · Esc clears",
            id="filter",
        )

    def compose(self) -> ComposeResult:
        """Banner, connection line, status lines, notice, incidents, titles, list, footer."""
        yield self.banner
        with Horizontal(id="connection-row"):
            yield self.connection
            yield IdentityBadge(id="identity", classes="identity-badge")
        yield DaemonHealth(self._call, id="daemon-health")
        yield self.status_lines
        # Hidden until there is something to show. Set here, not in on_mount: the feed
        # worker's first snapshot can be handled before this screen's Mount event.
        yield hidden(Static("", id="notice"))
        yield hidden(Static("", id="alerts-line"))
        yield hidden(Static("", id="no-daemon"))
        yield self.incident_panel
        yield self.header
        with ListArea(id="list-area"):
            yield self.table
            yield self.list_status
            yield hidden(DayLine(id="day-line"))
        yield hidden(Static("No services are configured on this daemon.", id="empty"))
        yield hidden(self.filter_box)
        yield KeysFooter()

    def on_mount(self) -> None:
        """The list takes the keys (the cursor is its own, not focus)."""
        if self.filter_text:
            with self.filter_box.prevent(Input.Changed):
                self.filter_box.value = self.filter_text
        self.table.focus()
        self.lines_shown()

    # --- feed --------------------------------------------------------------------------------

    def went_live(self) -> None:
        """Hide the start hint."""
        self.query_one("#no-daemon").display = False

    def went_down(self, message: Disconnected) -> None:
        """Show how to start a daemon when none runs."""
        hint = self.query_one("#no-daemon", Static)
        if message.daemon_missing:
            hint.update(start_hint(self.socket_path))
        hint.display = message.daemon_missing

    def snapshot_shown(self, result: dict[str, Any]) -> None:
        """The notice and the empty-daemon line; the day under the cursor."""
        notice = self.query_one("#notice", Static)
        notice.display = bool(self.model.notice)
        if self.model.notice:
            notice.update(f"▪ {self.model.notice}")
        self.query_one("#empty").display = not self.model.services
        self.alert_summary = result.get("alerts") or None
        line = self.query_one("#alerts-line", Static)
        text = alerts_line(self.alert_summary)
        line.display = bool(text)
        if text:
            line.update(text)
        self.day.show()

    def check_shown(self, service: ServiceState) -> None:
        """Today's cell of the row with the cursor may have changed."""
        selected = self.selected_service
        if selected is not None and selected.id == service.id:
            self.day.show(retry=False)

    # --- the cursor --------------------------------------------------------------------------

    def show_lines(self) -> None:
        """Give the table the lines, the cursor staying on its line."""
        lines = self.view.lines
        pos = self.view.position(self.cursor_key)
        self.cursor = pos if pos is not None else max(0, min(self.cursor, len(lines) - 1))
        self.cursor_key = lines[self.cursor].key if lines else None
        self.table.cursor = self.cursor if lines else None
        self.table.days_back = self.day.days_back
        super().show_lines()
        if lines:
            self.table.scroll_to_line(self.cursor)

    def move_cursor(self, index: int) -> None:
        """Put the cursor on line ``index`` (clamped) and keep it on screen."""
        lines = self.view.lines
        if not lines:
            return
        old = self.cursor
        self.cursor = max(0, min(index, len(lines) - 1))
        self.cursor_key = lines[self.cursor].key
        self.table.cursor = self.cursor
        self.table.scroll_to_line(self.cursor)
        self.table.refresh_cursor(old, self.cursor)
        self.lines_shown()
        self.day.show()

    @property
    def selected_service(self) -> ServiceState | None:
        """The service of the line with the cursor (None on a group header)."""
        lines = self.view.lines
        if not lines or self.cursor >= len(lines):
            return None
        line = lines[self.cursor]
        return self.model.services.get(line.service_id) if isinstance(line, ServiceLine) else None

    @property
    def selected_id(self) -> str | None:
        """The id of the service with the cursor."""
        s = self.selected_service
        return s.id if s else None

    @property
    def rows(self) -> Rows:
        """Each service's row as drawn at the current width (a live view: what tests read)."""
        return Rows(self)

    @property
    def order(self) -> list[str]:
        """The service ids in the order the list shows them."""
        return [line.service_id for line in self.view.lines if isinstance(line, ServiceLine)]

    def action_cursor(self, delta: int) -> None:
        """Move the cursor ``delta`` lines."""
        self.move_cursor(self.cursor + delta)

    def action_page(self, pages: int) -> None:
        """Move the cursor a screenful."""
        self.move_cursor(self.cursor + pages * max(1, self.table.visible_height - 1))

    def action_cursor_to(self, index: int) -> None:
        """Move the cursor to the first (0) or last (-1) line."""
        self.move_cursor(index if index >= 0 else len(self.view.lines) - 1)

    def action_next_problem(self, step: int) -> None:
        """Jump to the next (1) or previous (-1) problem, wrapping around."""
        problems = self.view.problem_positions()
        if not problems:
            self.notify("No problem to jump to: everything shown is up.", timeout=2)
            return
        if step > 0:
            after = [p for p in problems if p > self.cursor]
            self.move_cursor(after[0] if after else problems[0])
        else:
            before = [p for p in problems if p < self.cursor]
            self.move_cursor(before[-1] if before else problems[-1])

    @on(ServiceTable.Clicked)
    def _clicked(self, message: ServiceTable.Clicked) -> None:
        self.move_cursor(message.index)

    @on(ServiceTable.Scrolled)
    def _scrolled(self) -> None:
        self.lines_shown()

    def lines_shown(self) -> None:
        """The line under the list: problems out of view, the filter, the sort."""
        if not self.is_mounted:
            return
        above, below = self.view.problems_outside(self.table.top, self.table.visible_height)
        self.list_status.update(
            list_status_text(
                above,
                below,
                self.view,
                filter_text=self.filter_text,
                sort=SORT_TITLES.get(self.sort, self.sort),
            ),
            layout=False,  # one line, always: no layout pass (it would repaint the list)
        )
        self.list_status.set_class(
            bool(above or below or self.view.problems_filtered_out), "-alert"
        )

    # --- what Enter, i and e open ------------------------------------------------------------

    def action_open_line(self) -> None:
        """Open the service under the cursor; on a group header, fold or unfold it."""
        lines = self.view.lines
        if not lines:
            return
        line = lines[self.cursor]
        if isinstance(line, GroupLine):
            self._toggle(line.group)
            return
        s = self.model.services.get(line.service_id)
        if s is not None:
            from slamon_tui.screens.service import ServiceScreen

            self.app.push_screen(
                ServiceScreen(
                    s.id,
                    self._call,
                    name=s.name,
                    status=s.status,
                    since=s.status_since,
                    identity=self.identity,
                    names=self._names,
                )
            )

    def action_incident(self) -> None:
        """The selected service's open incident; else a new one filled in from its outage."""
        s = self.selected_service
        if s is None:
            return
        open_one = self.open_incident_for(s.id)
        if open_one is not None:
            from slamon_tui.screens.incident_detail import IncidentDetailScreen

            self.app.push_screen(
                IncidentDetailScreen(int(open_one["id"]), self._call, self.identity, self._names)
            )
            return
        if not self.may_edit:
            self.notify(
                f"No open incident for {s.name}; reporters and admins can open one.", timeout=4
            )
            return
        from slamon_tui.screens.incident_edit import IncidentEditScreen

        self.app.push_screen(
            IncidentEditScreen(self._call, None, self._names(), prefill=incident_prefill(s))
        )

    def action_ack_alert(self) -> None:
        """Acknowledge the open outage alert of the selected service (reporters, admins)."""
        s = self.selected_service
        if s is None:
            return
        entry = ((self.alert_summary or {}).get("by_service") or {}).get(s.id)
        if entry is None:
            self.notify(f"No open alert for {s.name}.", timeout=3)
            return
        if not self.may_edit:
            self.notify("Acknowledging alerts needs the reporter role.", timeout=4)
            return
        self._ack(str(entry["alert_id"]), s.name)

    @work(group="alert-ack", exit_on_error=False)
    async def _ack(self, alert_id: str, name: str) -> None:
        try:
            a = await self._call("alert.ack", {"id": alert_id})
        except (FeedCallError, FeedClientError) as exc:
            self.notify(f"Not acknowledged: {getattr(exc, 'message', exc)}", severity="error")
            return
        self.notify(f"Alert of {name} acknowledged by {a.get('acked_by')}.", timeout=3)

    def action_silence_alert(self) -> None:
        """Silence the selected service's alerts (a reason and how long are asked)."""
        s = self.selected_service
        if s is None:
            return
        if not self.may_edit:
            self.notify("Silencing alerts needs the reporter role.", timeout=4)
            return

        def done(result: Any) -> None:
            if result:
                self.notify(
                    f"{s.name}: alerts silenced until {str(result.get('expires_at'))[:16]}."
                )

        from slamon_tui.screens.alerts import SilenceDialog

        self.app.push_screen(SilenceDialog(self._call, s.id), done)

    def _names(self) -> list[tuple[str, str]]:
        return [(sid, s.name) for sid, s in self.model.services.items()]

    def action_errors(self) -> None:
        """The full error text of the selected service's last check and open outage."""
        s = self.selected_service
        if s is not None:
            from slamon_tui.screens.check_detail import CheckDetailScreen

            self.app.push_screen(CheckDetailScreen(s.name, s.last_check, s.episode))

    # --- sort, filter, groups ------------------------------------------------------------------

    def action_sort(self) -> None:
        """The next sort key (the cursor goes back to the top, as the order is new)."""
        self.sort = next_sort(self.sort)
        self.ui_state.update(sort=self.sort)
        self.cursor, self.cursor_key = 0, None
        self.rebuild()
        self.notify(f"Sorted by {SORT_TITLES[self.sort]}.", timeout=2)

    def action_filter(self) -> None:
        """Open the filter box (its text filters as it is typed)."""
        self.filter_box.display = True
        self.filter_box.focus()

    @on(Input.Changed, "#filter")
    def _filter_typed(self, event: Input.Changed) -> None:
        self._set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_kept(self, event: Input.Submitted) -> None:
        event.stop()
        self.filter_box.display = bool(self.filter_text)
        self.table.focus()

    def action_clear_filter(self) -> None:
        """Esc: clear the filter (and close its box)."""
        if self.filter_text or self.filter_box.display:
            self.filter_box.value = ""
            self._set_filter("")
            self.filter_box.display = False
            self.table.focus()

    def _set_filter(self, text: str) -> None:
        text = text.strip()
        if text != self.filter_text:
            self.filter_text = text
            self.ui_state.update(filter=text)
            self.cursor, self.cursor_key = 0, None
            self.rebuild()

    def action_toggle_group(self) -> None:
        """Fold or unfold the group of the line with the cursor."""
        lines = self.view.lines
        if not lines:
            return
        line = lines[self.cursor]
        if isinstance(line, GroupLine):
            self._toggle(line.group)
            return
        s = self.model.services.get(line.service_id)
        if s is not None and s.group is not None and any(isinstance(x, GroupLine) for x in lines):
            self.cursor_key = ("group", s.group)
            self._toggle(s.group)

    def _toggle(self, group: str) -> None:
        self.collapsed = self.collapsed ^ {group}
        self.ui_state.update(collapsed=sorted(self.collapsed))
        self.rebuild()

    # --- the day cursor -------------------------------------------------------------------------

    def action_day(self, delta: int) -> None:
        """Move the day cursor ``delta`` days back (negative: towards today)."""
        self.day.move(delta)
        self.table.days_back = self.day.days_back
        self.table.refresh_cursor(self.cursor, self.cursor)

    @property
    def days_back(self) -> int:
        """Where the day cursor is on the bar: days before today (0: today)."""
        return self.day.days_back

    @on(DayFetched)
    def _day_fetched(self, message: DayFetched) -> None:
        self.day.fetched(message)

    async def call_feed(self, method: str, params: dict[str, Any]) -> Any:
        """Call the daemon (the day cursor's service.day)."""
        return await self._call(method, params)
