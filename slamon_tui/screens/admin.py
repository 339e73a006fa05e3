"""The admin screen (``A``, admins only): users, services and maintenance windows in tabs.

Keyboard first: 1/2/3 pick a tab, ↑/↓ a row, ``n`` adds, ``e`` (or Enter) edits, ``d``
disables/enables a user, ``p`` pauses/resumes a service, ``x`` cancels a window, ``v`` opens
the audit log, ``r`` reloads, Escape goes back. Keys only show where they apply: services
from slamon.toml are read-only here (the file owns them), so they offer no edit or pause.
Each change is confirmed with a notification; the daemon's refusals are shown in the form.
"""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from slamon_tui.client import FeedCallError, FeedClientError
from slamon_tui.messages import IdentityChanged
from slamon_tui.models.admin import (
    ServiceEntry,
    feed_services,
    last_login_text,
    service_entries,
    source_text,
)
from slamon_tui.screens.admin_forms import (
    MaintenanceDialog,
    ServiceDialog,
    UserAddDialog,
    UserEditDialog,
)
from slamon_tui.screens.audit import AuditScreen, when_text
from slamon_tui.screens.form_dialog import ConfirmDialog
from slamon_tui.screens.tabbed import TabbedTablesScreen
from slamon_tui.types import FeedCall
from slamon_tui.widgets.identity_badge import IdentityBadge
from slamon_tui.widgets.keys_footer import KeysFooter
from slamon_tui.widgets.record_table import RecordTable

OPTIONAL_SERVICE_FIELDS = frozenset({"depends_on"})
"""Service settings only some daemons have (alerts): the form shows them when status.get
carries them."""
AUDIT_SCAN = 5000
"""Audit entries read to find the services added over the feed (see models/admin.py)."""

TAB_ACTIONS = {
    "users": {"new_user", "edit_user", "disable_user", "enable_user"},
    "services": {"new_service", "edit_service", "pause_service", "resume_service"},
    "maintenance": {"new_window", "cancel_window"},
}


class AdminScreen(TabbedTablesScreen):
    """Users, services and maintenance windows; every change goes through the feed."""

    DEFAULT_TAB = "users"

    BINDINGS = [
        Binding("escape", "back", "Back", key_display="Esc"),
        Binding("1", "tab('users')", "Users", show=False),
        Binding("2", "tab('services')", "Services", show=False),
        Binding("3", "tab('maintenance')", "Maintenance", show=False),
        Binding("n", "new_user", "New user"),
        Binding("n", "new_service", "New service"),
        Binding("n", "new_window", "New window"),
        Binding("e", "edit_user", "Edit"),
        Binding("e", "edit_service", "Edit"),
        Binding("d", "disable_user", "Disable"),
        Binding("d", "enable_user", "Enable"),
        Binding("p", "pause_service", "Pause"),
        Binding("p", "resume_service", "Resume"),
        Binding("x", "cancel_window", "Cancel window"),
        Binding("v", "audit", "Audit log"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self, call: FeedCall, tab: str = "users") -> None:
        super().__init__()
        self._call = call
        self._initial_tab = tab
        self.users: list[dict[str, Any]] = []
        self.services: list[ServiceEntry] = []
        self.extra_service_fields: list[str] = []
        self.windows: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        """Title and who is logged in, the problem line, three tabs of tables, the footer."""
        with Horizontal(classes="title-row"):
            yield Static("Admin", classes="screen-title")
            yield IdentityBadge(classes="identity-badge")
        yield Static("", id="admin-problem", classes="screen-problem")
        with TabbedContent(initial=self._initial_tab, id="admin-tabs"):
            with TabPane("1 Users", id="users"):
                yield RecordTable(
                    "Username", "Role", "Active", "Email", "Last login", id="users-table"
                )
            with TabPane("2 Services", id="services"):
                yield RecordTable("Id", "Name", "Defined in", "State", "URL", id="services-table")
                yield Static(
                    "Services defined in slamon.toml are read-only here: change them in "
                    "the file. Paused services are not checked.",
                    classes="tab-note",
                )
            with TabPane("3 Maintenance", id="maintenance"):
                yield RecordTable(
                    "#",
                    "Title",
                    "Start (UTC)",
                    "End (UTC)",
                    "Services",
                    "By",
                    id="maintenance-table",
                )
        yield KeysFooter()

    def on_mount(self) -> None:
        """Load every tab; the cursor starts in the first one's table."""
        self.query_one("#admin-problem").display = False
        self._focus_table()
        self.action_reload()

    # --- tabs and selection -------------------------------------------------------------------

    def _selected_key(self, tab: str) -> str | None:
        return self.query_one(f"#{tab}-table", RecordTable).selected_key

    @property
    def selected_user(self) -> dict[str, Any] | None:
        """The user under the cursor."""
        key = self._selected_key("users")
        return next((u for u in self.users if u.get("username") == key), None)

    @property
    def selected_service(self) -> ServiceEntry | None:
        """The service under the cursor."""
        key = self._selected_key("services")
        return next((s for s in self.services if s.id == key), None)

    @property
    def selected_window(self) -> dict[str, Any] | None:
        """The maintenance window under the cursor."""
        key = self._selected_key("maintenance")
        return next((w for w in self.windows if str(w.get("id")) == key), None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer each key only on its tab, and edits only of what may be edited."""
        for tab, actions in TAB_ACTIONS.items():
            if action in actions and tab != self.tab:
                return False
        if action in ("edit_user", "disable_user", "enable_user"):
            user = self.selected_user
            if user is None:
                return False
            return action == "edit_user" or bool(user.get("active")) == (action == "disable_user")
        if action in ("edit_service", "pause_service", "resume_service"):
            service = self.selected_service
            if service is None or not service.editable:
                return False
            return action == "edit_service" or service.active == (action == "pause_service")
        if action == "cancel_window":
            return self.selected_window is not None
        return True

    def on_identity_changed(self, message: IdentityChanged) -> None:
        """Leave when the user is no longer an admin (logout, a new role)."""
        if not message.identity.allows("admin") and self.is_current:
            self.app.notify("The admin screen is for admins only.", severity="warning")
            self.dismiss()

    @on(DataTable.RowSelected)
    def _enter(self, event: DataTable.RowSelected) -> None:
        if self.tab == "users":
            self.action_edit_user()
        elif self.tab == "services":
            service = self.selected_service
            if service is not None and not service.editable:
                self.app.notify(
                    f"{service.id} is defined in slamon.toml: change it there.", timeout=4
                )
            else:
                self.action_edit_service()

    # --- loading ------------------------------------------------------------------------------

    def action_reload(self) -> None:
        """Fetch users, services and windows again."""
        self.load_users()
        self.load_services()
        self.load_windows()

    def _problem(self, text: str | None) -> None:
        line = self.query_one("#admin-problem", Static)
        line.update(f"✕ {text}" if text else "")
        line.display = bool(text)

    async def _fetch(self, method: str, params: dict[str, Any]) -> Any:
        try:
            return await self._call(method, params)
        except (FeedCallError, FeedClientError) as exc:
            self._problem(f"{method}: {getattr(exc, 'message', exc)}")
            return None

    @work(exclusive=True, group="admin-users", exit_on_error=False)
    async def load_users(self) -> None:
        """user.list into the Users tab."""
        users = await self._fetch("user.list", {})
        if isinstance(users, list):
            self.users = sorted(users, key=lambda u: str(u.get("username")))
            self.query_one("#users-table", RecordTable).set_rows(
                [
                    (
                        str(u.get("username")),
                        [
                            str(u.get("username")),
                            str(u.get("role")),
                            "● active" if u.get("active") else "○ disabled",
                            str(u.get("email") or ""),
                            last_login_text(u.get("last_login_at")),
                        ],
                    )
                    for u in self.users
                ]
            )
            self.refresh_bindings()

    @work(exclusive=True, group="admin-services", exit_on_error=False)
    async def load_services(self) -> None:
        """status.get's services, marked config or admin (audit log), into the Services tab."""
        status = await self._fetch("status.get", {})
        audit = await self._fetch("audit.list", {"limit": AUDIT_SCAN})
        if not isinstance(status, dict):
            return
        feed = feed_services(audit if isinstance(audit, list) else [])
        entries = list(status.get("services") or [])
        self.services = service_entries(entries, feed)
        # Settings the daemon has beyond the form's own (depends_on where alerts exist).
        self.extra_service_fields = sorted(
            {k for e in entries if isinstance(e, dict) for k in e} & OPTIONAL_SERVICE_FIELDS
        )
        self.query_one("#services-table", RecordTable).set_rows(
            [
                (s.id, [s.id, s.name, source_text(s), "active" if s.active else "⏸ paused", s.url])
                for s in self.services
            ]
        )
        self.refresh_bindings()

    @work(exclusive=True, group="admin-windows", exit_on_error=False)
    async def load_windows(self) -> None:
        """maintenance.list (windows not yet ended) into the Maintenance tab."""
        windows = await self._fetch("maintenance.list", {})
        if isinstance(windows, list):
            self.windows = sorted(windows, key=lambda w: str(w.get("starts_at")))
            self.query_one("#maintenance-table", RecordTable).set_rows(
                [
                    (
                        str(w.get("id")),
                        [
                            str(w.get("id")),
                            str(w.get("title")),
                            when_text(w.get("starts_at"))[:16],
                            when_text(w.get("ends_at"))[:16],
                            ", ".join(w.get("services") or []) or "all",
                            str(w.get("created_by") or ""),
                        ],
                    )
                    for w in self.windows
                ]
            )
            self.refresh_bindings()

    # --- users --------------------------------------------------------------------------------

    def action_new_user(self) -> None:
        """Add a user."""
        self.app.push_screen(UserAddDialog(self._call), self._user_added)

    def _user_added(self, user: dict[str, Any] | None) -> None:
        if user:
            self.app.notify(f"User {user.get('username')} added as {user.get('role')}.")
            self.load_users()

    def action_edit_user(self) -> None:
        """Change the role, the active state or the password of the user under the cursor."""
        user = self.selected_user
        if user is not None:
            self.app.push_screen(UserEditDialog(self._call, user), self._user_edited)

    def _user_edited(self, result: dict[str, Any] | None) -> None:
        if result and result.get("done"):
            name = (result.get("user") or {}).get("username")
            self.app.notify(f"User {name}: {', '.join(result['done'])}.")
            self.load_users()

    def action_enable_user(self) -> None:
        """Enable the (disabled) user under the cursor."""
        user = self.selected_user
        if user is not None and not user.get("active"):
            name = str(user.get("username"))
            self._run("user.enable", {"username": name}, f"User {name} enabled.", self.load_users)

    def action_disable_user(self) -> None:
        """Disable the user under the cursor, after a yes."""
        user = self.selected_user
        if user is None or not user.get("active"):
            return
        name = str(user.get("username"))

        def answered(yes: bool | None) -> None:
            if yes:
                self._run(
                    "user.disable", {"username": name}, f"User {name} disabled.", self.load_users
                )

        self.app.push_screen(
            ConfirmDialog(f"Disable {name}? Their logins end at once.", "Disable"), answered
        )

    # --- services -----------------------------------------------------------------------------

    def action_new_service(self) -> None:
        """Add a service over the feed."""
        self.app.push_screen(
            ServiceDialog(self._call, extra_fields=self.extra_service_fields),
            self._service_saved,
        )

    def action_edit_service(self) -> None:
        """Edit the service under the cursor (services added over the feed only)."""
        service = self.selected_service
        if service is not None and service.editable:
            existing = {
                "name": service.name,
                "url": service.url,
                **service.config,
                "id": service.id,
            }
            self.app.push_screen(
                ServiceDialog(self._call, existing, self.extra_service_fields),
                self._service_saved,
            )

    def _service_saved(self, result: dict[str, Any] | None) -> None:
        if result:
            self.app.notify(f"Service {result.get('id')} saved.")
            self.load_services()

    def action_resume_service(self) -> None:
        """Check the (paused) service under the cursor again."""
        service = self.selected_service
        if service is not None and service.editable and not service.active:
            self._run(
                "service.resume",
                {"id": service.id},
                f"Service {service.id} resumed.",
                self.load_services,
            )

    def action_pause_service(self) -> None:
        """Stop checking the service under the cursor, after a yes."""
        service = self.selected_service
        if service is None or not service.editable or not service.active:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._run(
                    "service.pause",
                    {"id": service.id},
                    f"Service {service.id} paused.",
                    self.load_services,
                )

        self.app.push_screen(
            ConfirmDialog(f"Pause {service.id}? It is not checked until resumed.", "Pause"),
            answered,
        )

    # --- maintenance --------------------------------------------------------------------------

    def action_new_window(self) -> None:
        """Schedule a maintenance window."""
        ids = [s.id for s in self.services if s.active]
        self.app.push_screen(MaintenanceDialog(self._call, ids), self._window_saved)

    def _window_saved(self, window: dict[str, Any] | None) -> None:
        if window:
            self.app.notify(f"Maintenance window “{window.get('title')}” scheduled.")
            self.load_windows()

    def action_cancel_window(self) -> None:
        """Cancel the window under the cursor (after a yes)."""
        window = self.selected_window
        if window is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._run(
                    "maintenance.cancel",
                    {"id": window.get("id")},
                    f"Maintenance window “{window.get('title')}” cancelled.",
                    self.load_windows,
                )

        self.app.push_screen(
            ConfirmDialog(f"Cancel “{window.get('title')}”?", "Cancel it"), answered
        )

    # --- the rest -----------------------------------------------------------------------------

    def action_audit(self) -> None:
        """Open the audit log."""
        self.app.push_screen(AuditScreen(self._call))

    def action_back(self) -> None:
        """Back to the dashboard."""
        self.dismiss()

    @work(group="admin-change", exit_on_error=False)
    async def _run(self, method: str, params: dict[str, Any], done: str, then: Any) -> None:
        """One change without a form: notify how it went, then reload the tab."""
        try:
            await self._call(method, params)
        except (FeedCallError, FeedClientError) as exc:
            self.app.notify(
                f"{method} failed: {getattr(exc, 'message', exc)}", severity="error", timeout=8
            )
            return
        self.app.notify(done)
        then()
