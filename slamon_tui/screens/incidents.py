"""The incidents screen (``I``): active incidents above, past ones below, and search.

Active incidents come from incident.list and follow ``incident`` events; past ones from
incident.past over the last 7, 30 or 90 days (``d``), a page at a time (PgUp/PgDn or [ ]).
``/`` searches titles, descriptions and updates (incident.search); Esc ends the search.
Enter opens the incident under the cursor; ``n`` opens a new one (reporters and admins only:
for viewers the key is not there at all).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static
from textual.worker import Worker, WorkerState

from slamon_tui.client import FeedCallError, FeedClientError
from slamon_tui.identity import Identity
from slamon_tui.messages import IncidentEvent
from slamon_tui.models.incidents import OVERDUE_MARK, ActiveIncidents, is_overdue
from slamon_tui.screens.base import RoleScreen
from slamon_tui.screens.help import INCIDENT_KEYS
from slamon_tui.screens.incident_detail import IncidentDetailScreen
from slamon_tui.screens.incident_edit import IncidentEditScreen
from slamon_tui.types import FeedCall, ServiceNames
from slamon_tui.widgets.incident_table import IncidentTable
from slamon_tui.widgets.keys_footer import KeysFooter

PAST_DAYS = (7, 30, 90)
PAGE_SIZE = 20
AGE_TICK_S = 30.0
PAST_REFRESH_DELAY_S = 0.5
"""A burst of events (an incident resolved, then updated) asks incident.past once."""


class IncidentsScreen(RoleScreen[None]):
    """Active and past incidents; ``call`` reaches the daemon, ``services`` names services."""

    HELP_TITLE = "Incidents"
    KEYS_HELP = INCIDENT_KEYS
    BINDINGS = [
        Binding("escape", "back", "Back", key_display="Esc"),
        Binding("n", "new", "New"),
        Binding("slash", "search", "Search", key_display="/"),
        Binding("d", "days", "Days"),
        Binding("left_square_bracket,pageup", "page(-1)", "Page", key_display="[ ]"),
        Binding("right_square_bracket,pagedown", "page(1)", "Next page", show=False),
        Binding("r", "reload", "Refresh"),
    ]

    def __init__(
        self, call: FeedCall, identity: Identity, services: ServiceNames | None = None
    ) -> None:
        super().__init__(call, identity)
        self._services = services or (lambda: [])
        self.active = ActiveIncidents()
        self.days = PAST_DAYS[0]
        self.page = 1
        self.past: dict[str, Any] = {}
        self.search_query: str | None = None
        self.found: list[dict[str, Any]] = []
        self._past_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        """Problem line, the active list, the past list (or search results), the search box."""
        yield Static("", id="incidents-problem", classes="problem-line")
        yield Static("Active incidents", id="active-title", classes="incident-section-title")
        yield IncidentTable(id="active-incidents")
        yield Static("No active incidents.", id="active-empty", classes="incident-empty")
        yield Static("Past incidents", id="past-title", classes="incident-section-title")
        yield IncidentTable(past=True, id="past-incidents")
        yield Static("", id="past-empty", classes="incident-empty")
        yield Input(
            placeholder="Search titles, descriptions and updates; Enter searches, Esc closes",
            id="incident-search",
        )
        yield KeysFooter()

    def on_mount(self) -> None:
        """Ask the daemon for both lists (and who the user is)."""
        self.query_one("#incidents-problem").display = False
        self.query_one("#incident-search").display = False
        self.query_one("#active-empty").display = False
        self.query_one("#past-empty").display = False
        self.set_interval(AGE_TICK_S, self._show_all)
        self.query_one("#active-incidents").focus()
        self.reload()

    @property
    def names(self) -> dict[str, str]:
        """Service id -> name."""
        return dict(self._services())

    # --- loading --------------------------------------------------------------------------

    def reload(self) -> None:
        """Ask for the active list and the past page (or the search) again."""
        self._run(self._load_active(), "active")
        if self.search_query:
            self._run(self._search(self.search_query), "past")
        else:
            self._run(self._load_past(), "past")

    def _run(self, coro: Any, group: str) -> None:
        self.run_worker(coro, group=group, exclusive=True, exit_on_error=False)

    async def _load_active(self) -> None:
        result = await self._ask("incident.list", {})
        if isinstance(result, list):
            self.active.replace(result)
            self._show_active()

    async def _load_past(self) -> None:
        result = await self._ask(
            "incident.past", {"days": self.days, "page": self.page, "limit": PAGE_SIZE}
        )
        if isinstance(result, dict):
            self.past = result
            pages = int(result.get("pages") or 1)
            if self.page > pages:  # the last page emptied (a reopened incident)
                self.page = pages
                self._run(self._load_past(), "past")
                return
            self._show_past()

    async def _search(self, query: str) -> None:
        result = await self._ask("incident.search", {"query": query})
        if isinstance(result, list) and query == self.search_query:
            self.found = result
            self._show_past()

    async def _ask(self, method: str, params: dict[str, Any]) -> Any:
        try:
            result = await self._call(method, params)
        except FeedCallError as exc:
            self._problem(f"⚠ {method}: {exc.message}")
            return None
        except FeedClientError as exc:
            self._problem(f"⚠ {method} failed: {exc} — showing what was last fetched")
            return None
        self.query_one("#incidents-problem").display = False
        return result

    def _problem(self, text: str) -> None:
        line = self.query_one("#incidents-problem", Static)
        line.update(text)
        line.display = True

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """A bug in a fetch: say so rather than die."""
        if event.state == WorkerState.ERROR:
            self.notify(f"Internal error: {event.worker.error!r}", severity="error", timeout=10)

    # --- showing --------------------------------------------------------------------------

    def _show_all(self) -> None:
        self._show_active()
        self._show_past()

    def _show_active(self) -> None:
        now = datetime.now(UTC)
        items = self.active.ordered(now)
        table = self.query_one("#active-incidents", IncidentTable)
        table.show(items, now, self.names)
        table.display = bool(items)
        self.query_one("#active-empty").display = not items
        overdue = sum(1 for i in items if is_overdue(i, now))
        late = f" · {OVERDUE_MARK.split()[0]} {overdue} overdue" if overdue else ""
        self.query_one("#active-title", Static).update(f"Active incidents ({len(items)}){late}")

    def _show_past(self) -> None:
        now = datetime.now(UTC)
        table = self.query_one("#past-incidents", IncidentTable)
        title = self.query_one("#past-title", Static)
        empty = self.query_one("#past-empty", Static)
        if self.search_query is not None:
            items = self.found
            title.update(
                f'Search "{self.search_query}": {len(items)} found (active and past) · Esc ends'
            )
            empty.update("Nothing matches every word of the search.")
        else:
            items = list(self.past.get("items") or [])
            total = int(self.past.get("total") or 0)
            pages = int(self.past.get("pages") or 1)
            title.update(
                f"Past incidents · last {self.days} days · {total} resolved"
                f" · page {self.page} of {pages}"
            )
            empty.update(f"No incident was resolved in the last {self.days} days.")
        table.show(items, now, self.names)
        table.display = bool(items)
        empty.display = not items and (self.search_query is not None or bool(self.past))

    # --- live updates ---------------------------------------------------------------------

    @on(IncidentEvent)
    def _incident_changed(self, message: IncidentEvent) -> None:
        """An incident changed: the active list follows; the past page is asked again."""
        data = message.data
        if self.active.apply_event(data):
            self._show_active()
        resolved = (data.get("incident") or {}).get("status") == "resolved"
        if self.search_query is None and (resolved or self._in_past(data)):
            if self._past_timer is not None:
                self._past_timer.stop()
            self._past_timer = self.set_timer(PAST_REFRESH_DELAY_S, self._refresh_past)

    def _in_past(self, data: dict[str, Any]) -> bool:
        iid = (data.get("incident") or {}).get("id")
        return any(i.get("id") == iid for i in self.past.get("items") or [])

    def _refresh_past(self) -> None:
        self._past_timer = None
        self._run(self._load_past(), "past")

    def feed_down(self, line: str) -> None:
        """Say the lists are the last fetched until the feed is back."""
        self._problem(f"{line}\nThe lists below are the last fetched.")

    # --- keys -------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``n`` exists for reporters and admins only; paging only outside a search."""
        if action == "new":
            return self.may_edit
        if action == "page":
            return None if self.search_query is not None else True
        return True

    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.open_incident(int(event.row_key.value))

    def open_incident(self, incident_id: int) -> None:
        """Open the detail screen of one incident."""
        self.app.push_screen(
            IncidentDetailScreen(incident_id, self._call, self.identity, self._services)
        )

    def action_back(self) -> None:
        """End the search, or go back to the dashboard."""
        if self.search_query is not None or self.query_one("#incident-search").display:
            self._end_search()
            return
        self.dismiss(None)

    def action_new(self) -> None:
        """Open the editor on a new incident."""
        if not self.may_edit:
            return
        self.app.push_screen(IncidentEditScreen(self._call, None, self._services()), self._created)

    def _created(self, incident: dict[str, Any] | None) -> None:
        if incident:
            self.active.apply_event({"action": "created", "incident": incident})
            self._show_active()
            self.open_incident(int(incident["id"]))

    def action_search(self) -> None:
        """Show the search box."""
        box = self.query_one("#incident-search", Input)
        box.display = True
        box.focus()

    @on(Input.Submitted, "#incident-search")
    def _submitted(self, event: Input.Submitted) -> None:
        query = event.value.strip()
        if not query:
            self._end_search()
            return
        self.search_query = query
        self.found = []
        self.refresh_bindings()
        self._run(self._search(query), "past")
        self.query_one("#past-incidents").focus()

    def _end_search(self) -> None:
        box = self.query_one("#incident-search", Input)
        box.display = False
        box.value = ""
        was = self.search_query
        self.search_query = None
        self.refresh_bindings()
        if was is not None:
            self._show_past()
            self._run(self._load_past(), "past")
        self.query_one("#active-incidents" if self.active.items else "#past-incidents").focus()

    def action_days(self) -> None:
        """Past incidents of the last 7, 30 or 90 days (in turn)."""
        self.days = PAST_DAYS[(PAST_DAYS.index(self.days) + 1) % len(PAST_DAYS)]
        self.page = 1
        if self.search_query is None:
            self._run(self._load_past(), "past")

    def action_page(self, step: int) -> None:
        """The previous (-1) or next (+1) page of past incidents."""
        pages = int(self.past.get("pages") or 1)
        page = max(1, min(pages, self.page + step))
        if page != self.page and self.search_query is None:
            self.page = page
            self._run(self._load_past(), "past")

    def action_reload(self) -> None:
        """Fetch everything again now."""
        self.reload()
        self.notify("Refreshing…", timeout=1)
