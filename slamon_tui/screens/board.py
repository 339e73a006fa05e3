"""What the dashboard and the NOC screen share: the live list of services (issue 12).

``ServiceBoard`` follows the feed messages (messages.py) itself: the connection line, each
snapshot, checks, status changes and incidents, folded into a ``DashboardModel``. The list
is one virtual widget (widgets/service_table.py): a check repaints its row if it is on
screen, a status change (or a new sort, filter, width) rebuilds the lines, never widgets.
The events read at once arrive as one ``FeedEvents``: folded in together, each changed row
on screen repainted once, the banner and the order redone once (when they changed).

Above the list sit the banner (overall status with counts, or "NOT LIVE"), the connection
line and a **status-lines area** (``#status-lines``): other features add one-line widgets
there with ``add_status_line`` (late checks, alerts …) without touching this layout.

An event for a service the board does not know means the services changed: it asks the
app for a resync.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static

from slamon_tui.identity import Identity
from slamon_tui.messages import (
    CheckEvent,
    Connected,
    Connecting,
    Disconnected,
    FeedEvents,
    FeedMessage,
    IncidentEvent,
    ResyncWanted,
    Snapshot,
    StatusEvent,
)
from slamon_tui.models.dashboard import DashboardModel, ServiceState
from slamon_tui.models.dashboard_view import ListView, build_lines
from slamon_tui.screens.base import RoleScreen
from slamon_tui.types import FeedCall
from slamon_tui.widgets.column_header import SCROLLBAR_GUTTER, ColumnHeader
from slamon_tui.widgets.columns import Columns, columns_for
from slamon_tui.widgets.incident_panel import IncidentPanel
from slamon_tui.widgets.service_table import ServiceTable
from slamon_tui.widgets.status_banner import StatusBanner

DEFAULT_SORT = "problems"


def start_hint(socket_path: str) -> str:
    """What to tell someone whose daemon is not running."""
    return (
        f"No slamon daemon is running at {socket_path}\n"
        "Start one with:   slamond --config slamon.toml\n"
        "or try the demo:  make run   (or: slamon demo)\n"
        "Waiting for it — this screen connects by itself."
    )


def hidden(widget: Widget) -> Widget:
    """``widget``, not displayed until there is something to show."""
    widget.display = False
    return widget


class ServiceBoard(RoleScreen[None]):
    """The live services: a banner with counts, the connection line, the list."""

    def __init__(self, socket_path: str, call: FeedCall, identity: Identity) -> None:
        super().__init__(call, identity)
        self.socket_path = socket_path
        self.model = DashboardModel()
        self.view = ListView()
        self.sort = DEFAULT_SORT
        self.filter_text = ""
        self.collapsed: frozenset[str] = frozenset()
        self.columns = Columns()
        # Made here: the feed worker's first messages can arrive before compose runs.
        self.banner = StatusBanner(id="banner")
        self.connection = Static("Connecting…", id="connection")
        self.status_lines = Vertical(id="status-lines")
        """Where other features put their one-line status widgets (``add_status_line``)."""
        self.incident_panel = IncidentPanel(id="incident-panel")
        """The "Active incidents" panel above the services (hidden while there are none)."""
        self.incident_panel.display = False
        self.table = ServiceTable(id="services")
        self.header = ColumnHeader(self.columns, id="columns")
        self.header.display = False
        self._rebuild_due = False

    def add_status_line(self, widget: Widget) -> None:
        """Show ``widget`` (one line, e.g. "3 checks running late") above the list."""
        self.status_lines.mount(widget)

    # --- the lines ---------------------------------------------------------------------

    def rebuild(self) -> None:
        """Sort, filter and group the services again and show the lines."""
        self._rebuild_due = False
        self.view = build_lines(
            self.model.services.values(),
            sort=self.sort,
            filter_text=self.filter_text,
            collapsed=self.collapsed,
            window=self.columns.window,
        )
        self.show_lines()

    def rebuild_soon(self) -> None:
        """Rebuild once the messages already queued are handled (a storm of status events
        rebuilds once, not once each)."""
        if not self._rebuild_due:
            self._rebuild_due = True
            self.call_later(self._rebuild_if_due)

    def _rebuild_if_due(self) -> None:
        if self._rebuild_due:
            self.rebuild()

    def show_lines(self) -> None:
        """Give the table the view's lines (the NOC shows a page of them)."""
        self.table.show(self.view, self.model.services, self.columns)
        self.lines_shown()

    def lines_shown(self) -> None:
        """The list changed (or scrolled): say what is out of view."""

    def lay_out(self) -> None:
        """Columns for the width and the longest name."""
        need = max((len(s.name) for s in self.model.services.values()), default=0)
        # The list keeps a column for its scrollbar: the rows are one cell narrower.
        columns = columns_for((self.size.width or 80) - SCROLLBAR_GUTTER, need or None)
        if columns != self.columns:
            self.columns = columns
            self.header.set_columns(columns)
            return
        self.header.refresh()

    def on_resize(self) -> None:
        """Lay the columns out for the new width (a 30, 60 or 90-day bar)."""
        before = self.columns
        self.lay_out()
        if self.columns != before:
            self.rebuild()

    # --- feed state ----------------------------------------------------------------------

    @on(Connecting)
    def _connecting(self, message: Connecting) -> None:
        """A retry is under way (the first attempt changes nothing on screen)."""
        if message.line is not None:
            self.set_connection(message.line, "-down")

    @on(Connected)
    def _connected(self, message: Connected) -> None:
        """The feed is live."""
        self.remove_class("-stale")
        self.banner.set_stale(False)
        self.set_connection(message.line, "-up")
        self.went_live()

    @on(Disconnected)
    def _disconnected(self, message: Disconnected) -> None:
        """The feed is down: the banner says NOT LIVE, the list is dimmed."""
        self.add_class("-stale")
        self.banner.set_stale(True)
        self.set_connection(message.line, "-down")
        if not self.model.loaded:
            self.banner.set_waiting(
                "No daemon running" if message.daemon_missing else "Not connected"
            )
        self.went_down(message)

    def went_live(self) -> None:
        """Hook: the feed is live again."""

    def went_down(self, message: Disconnected) -> None:
        """Hook: the feed dropped."""

    def set_connection(self, text: str, state: str) -> None:
        """Show the connection line in ``state`` (-up, -down)."""
        self.connection.update(text)
        self.connection.set_classes(state)

    # --- data ------------------------------------------------------------------------------

    @on(Snapshot)
    def _snapshot(self, message: Snapshot) -> None:
        """Replace the data with a status.get result, in one repaint."""
        result = message.result
        self.model.apply_snapshot(result)
        with self.app.batch_update():
            self.show_banner()
            self.lay_out()
            self.rebuild()
            self.header.display = bool(self.model.services)
            self.snapshot_shown(result)
        self._show_incidents(result.get("incidents"))

    def snapshot_shown(self, result: dict[str, Any]) -> None:
        """Hook: a snapshot is on screen."""

    def show_banner(self) -> None:
        """The overall status, its since and the counts."""
        m = self.model
        self.banner.set_status(m.overall, m.overall_since, m.counts().text())

    @on(CheckEvent)
    def _check(self, message: CheckEvent) -> None:
        """A check: repaint its row if on screen (a resync when it names an unknown service)."""
        self.apply_events([message])

    @on(StatusEvent)
    def _status(self, message: StatusEvent) -> None:
        """A status change: the banner, the counts and the order follow."""
        self.apply_events([message])

    @on(FeedEvents)
    def _events(self, message: FeedEvents) -> None:
        """The events read at once, folded in together (see the module docstring)."""
        self.apply_events(message.events)

    def apply_events(self, events: list[FeedMessage]) -> None:
        """Fold check, status and incident events in, in order; then repaint what changed
        once: the rows on screen that had a check, the banner, the order when a status
        changed (or the latencies, sorted by latency). An event for a service the board does
        not know asks for a resync."""
        checked: dict[str, ServiceState] = {}
        reorder = banner = unknown = False
        for event in events:
            if isinstance(event, CheckEvent):
                service = self.model.apply_check(event.data)
                if service is None:
                    unknown = True
                else:
                    checked[service.id] = service
            elif isinstance(event, StatusEvent):
                changed = self.model.apply_status(event.data)
                if changed is None:
                    unknown = True
                    continue
                banner = True
                reorder = reorder or isinstance(changed, ServiceState)
            elif isinstance(event, IncidentEvent):
                self.incident_panel.apply_event(event.data)
        if unknown:
            self.post_message(ResyncWanted())
        if banner:
            self.show_banner()
        if reorder or (checked and self.sort == "latency"):
            self.rebuild_soon()  # the order follows the statuses (or the latencies)
        else:
            self.table.refresh_services(checked)
        for service in checked.values():
            self.check_shown(service)

    def check_shown(self, service: ServiceState) -> None:
        """Hook: a check of ``service`` was folded in."""

    # --- active incidents (widgets/incident_panel.py) -------------------------------------

    def _show_incidents(self, incidents: list[dict[str, Any]] | None) -> None:
        """The active incidents of a status.get answer (hidden when there are none)."""
        names = {sid: s.name for sid, s in self.model.services.items()}
        self.incident_panel.show(incidents, names)

    @on(IncidentEvent)
    def _incident(self, message: IncidentEvent) -> None:
        """Fold an ``incident`` event into the panel."""
        self.apply_events([message])

    def open_incident_for(self, service_id: str) -> dict[str, Any] | None:
        """The active incident that lists ``service_id`` (the most urgent), if any."""
        from datetime import UTC, datetime

        for inc in self.incident_panel.incidents.ordered(datetime.now(UTC)):
            if service_id in (inc.get("services") or []):
                return inc
        return None
