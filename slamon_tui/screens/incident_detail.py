"""One incident in full (Enter on the incidents screen): every field, the description and
the timeline as Markdown, and who else is viewing or editing it.

Opening it says so to the others (presence.set viewing); leaving says so too
(presence.clear), and a lost connection ends it on the daemon by itself. It reloads when an
``incident`` event names it. Reporters and admins get ``e`` edit, ``u`` add an update and
``R`` resolve; viewers do not see those keys.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Markdown, Static
from textual.worker import Worker, WorkerState

from slamon_tui.client import FeedCallError, FeedClientError
from slamon_tui.identity import Identity
from slamon_tui.messages import IncidentEvent, PresenceEvent
from slamon_tui.screens.base import RoleScreen
from slamon_tui.screens.incident_edit import IncidentEditScreen
from slamon_tui.screens.incident_resolve import IncidentResolveScreen
from slamon_tui.screens.incident_update import IncidentUpdateScreen
from slamon_tui.types import FeedCall, ServiceNames
from slamon_tui.widgets.incident_presence import PresenceLine
from slamon_tui.widgets.incident_summary import IncidentSummary
from slamon_tui.widgets.incident_timeline import IncidentTimeline
from slamon_tui.widgets.keys_footer import KeysFooter

AGE_TICK_S = 30.0
WIDE_WIDTH = 140
"""From this width the timeline stands beside the fields."""


class DetailBody(VerticalScroll, inherit_bindings=False):
    """The scrolling body (no horizontal scroll keys)."""

    BINDINGS = [
        Binding("up,k", "scroll_up", "Scroll up", show=False),
        Binding("down,j", "scroll_down", "Scroll down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown,space", "page_down", "Page down", show=False),
        Binding("home,g", "scroll_home", "Top", show=False),
        Binding("end,G", "scroll_end", "Bottom", show=False),
    ]


class IncidentDetailScreen(RoleScreen[None]):
    """Incident ``incident_id`` in full, live."""

    BINDINGS = [
        Binding("escape", "back", "Back", key_display="Esc"),
        Binding("e", "edit", "Edit"),
        Binding("u", "add_update", "Add update"),
        Binding("R", "resolve", "Resolve", key_display="R"),
        Binding("r", "reload", "Refresh"),
    ]

    def __init__(
        self,
        incident_id: int,
        call: FeedCall,
        identity: Identity,
        services: ServiceNames | None = None,
    ) -> None:
        super().__init__(call, identity)
        self.incident_id = incident_id
        self._services = services or (lambda: [])
        self.incident: dict[str, Any] | None = None
        self._leaving = False
        self._shown = False

    def compose(self) -> ComposeResult:
        """Problem line, presence line, then the incident, its description and timeline."""
        yield Static("", id="incident-problem", classes="problem-line")
        yield PresenceLine(self.incident_id, id="incident-presence")
        with DetailBody(id="incident-body"), Horizontal(id="incident-columns"):
            with Vertical(id="incident-left"):
                yield IncidentSummary(id="incident-summary")
                yield Static("Description", classes="incident-section-title")
                yield Markdown("", id="incident-description")
            with Vertical(id="incident-right"):
                yield Static("Timeline", id="timeline-title", classes="incident-section-title")
                yield IncidentTimeline(id="incident-timeline")
        yield KeysFooter()

    def on_mount(self) -> None:
        """Fetch the incident and say we are viewing it."""
        self.query_one("#incident-problem").display = False
        self.on_resize()
        self.query_one(DetailBody).focus()
        self.set_interval(AGE_TICK_S, self._tick)
        self.reload()

    def on_resize(self) -> None:
        """The timeline beside the fields from WIDE_WIDTH columns, under them below."""
        self.set_class(self.size.width >= WIDE_WIDTH, "-wide")

    @property
    def names(self) -> dict[str, str]:
        """Service id -> name."""
        return dict(self._services())

    # --- loading --------------------------------------------------------------------------

    def reload(self) -> None:
        """Fetch the incident again, and (re)say we are viewing it."""
        self._run(self._load(), "incident")
        self._run(self._set_viewing(), "presence")

    def _run(self, coro: Any, group: str) -> None:
        self.run_worker(coro, group=group, exclusive=True, exit_on_error=False)

    async def _load(self) -> None:
        try:
            result = await self._call("incident.get", {"id": self.incident_id})
        except FeedCallError as exc:
            self._problem(f"⚠ {exc.message}")
            return
        except FeedClientError as exc:
            self._problem(f"⚠ incident.get failed: {exc} — showing what was last fetched")
            return
        self.query_one("#incident-problem").display = False
        await self.show(result)

    async def _set_viewing(self) -> None:
        try:
            mine = await self._call(
                "presence.set", {"incident_id": self.incident_id, "mode": "viewing"}
            )
        except FeedClientError:
            return  # presence is a courtesy: the incident shows without it
        if isinstance(mine, dict) and not self._leaving:
            self.query_one(PresenceLine).set_own_session(mine.get("session"))

    async def show(self, incident: dict[str, Any]) -> None:
        """Show an incident.get result."""
        self.incident = incident
        now = datetime.now(UTC)
        self.query_one(IncidentSummary).show(incident, now, self.names)
        self.query_one("#incident-description", Markdown).update(
            str(incident.get("description") or "_No description._")
        )
        updates = list(incident.get("updates") or [])
        self.query_one("#timeline-title", Static).update(
            f"Timeline ({len(updates)} update{'s' if len(updates) != 1 else ''}, newest first)"
            if updates
            else "Timeline: no update yet"
        )
        await self.query_one(IncidentTimeline).show(updates, now)
        if "presence" in incident:
            self.query_one(PresenceLine).replace(incident.get("presence"))
        self.sub_title = f"Incident #{self.incident_id}"
        self.refresh_bindings()

    def _tick(self) -> None:
        """Keep "12m ago" and "so far" true between events."""
        if self.incident is not None:
            now = datetime.now(UTC)
            self.query_one(IncidentSummary).show(self.incident, now, self.names)
            for entry in self.query_one(IncidentTimeline).entries.values():
                entry.refresh_heading(now)

    def _problem(self, text: str) -> None:
        line = self.query_one("#incident-problem", Static)
        line.update(text)
        line.display = True

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """A bug in a fetch: say so rather than die."""
        if event.state == WorkerState.ERROR:
            self.notify(f"Internal error: {event.worker.error!r}", severity="error", timeout=10)

    # --- live updates -------------------------------------------------------------------------

    @on(IncidentEvent)
    def _incident_changed(self, message: IncidentEvent) -> None:
        """This incident changed: fetch it again (the event has no timeline)."""
        if (message.data.get("incident") or {}).get("id") == self.incident_id:
            self._run(self._load(), "incident")

    @on(PresenceEvent)
    def _presence_changed(self, message: PresenceEvent) -> None:
        """Someone came, went, or moved to another field."""
        self.query_one(PresenceLine).apply_event(message.data)

    def feed_down(self, line: str) -> None:
        """Say what is shown is the last fetched until the feed is back."""
        self._problem(f"{line}\nShowing the incident as last fetched.")

    def on_screen_resume(self) -> None:
        """Back from the editor: we are viewing again (the editor said editing)."""
        if not self._shown:
            self._shown = True  # the first showing: on_mount said so already
            return
        if not self._leaving:
            self._run(self._set_viewing(), "presence")

    # --- keys -------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Edit keys for reporters and admins only; resolve only while active."""
        if action in ("edit", "add_update", "resolve"):
            if not self.may_edit:
                return False
            if self.incident is None:
                return None
            if action == "resolve" and self.incident.get("status") == "resolved":
                return False
        return True

    def action_back(self) -> None:
        """Back to the list; the others stop seeing us here."""
        self._leaving = True
        call = self._call

        async def clear() -> None:
            try:
                await call("presence.clear", {})
            except FeedClientError:
                pass  # the daemon clears it when the connection ends anyway

        self.app.run_worker(clear(), group="presence-clear", exit_on_error=False)
        self.dismiss(None)

    def action_edit(self) -> None:
        """Edit the incident's fields."""
        if self.incident is None or not self.may_edit:
            return
        self.app.push_screen(
            IncidentEditScreen(self._call, self.incident, self._services(), **self._presence_now()),
            self._after_edit,
        )

    def action_add_update(self) -> None:
        """Add an update to the timeline."""
        if self.incident is None or not self.may_edit:
            return
        self.app.push_screen(
            IncidentUpdateScreen(self._call, self.incident, **self._presence_now()),
            self._after_edit,
        )

    def action_resolve(self) -> None:
        """Resolve the incident (root cause required)."""
        if self.incident is None or not self.may_edit:
            return
        self.app.push_screen(
            IncidentResolveScreen(self._call, self.incident, **self._presence_now()),
            self._after_edit,
        )

    def _presence_now(self) -> dict[str, Any]:
        """Who is here now, and which session is ours, for a form to start from."""
        board = self.query_one(PresenceLine).board
        return {"presence": list(board.entries.values()), "own_session": board.own_session}

    def _after_edit(self, incident: dict[str, Any] | None) -> None:
        if incident:
            self._run(self._load(), "incident")

    def action_reload(self) -> None:
        """Fetch the incident again now."""
        self.reload()
        self.notify("Refreshing…", timeout=1)
