"""The Alerts screen (issue 11): firing alerts with their ack and silence state, channels with
test-send (admins), the rules each channel gets, silences, and the delivery log with failures
first. Keys act on the row under the cursor: ``a`` acknowledges, ``m`` silences the alert's
service, ``u`` ends a silence; ``r`` reloads. On the channels tab admins add (``n``), edit
(``e`` or Enter), delete (``d``, after a yes) and test-send (``t``) channels; channels the
config file names open read-only (the file owns them), for everyone with Enter.

Also here: ``SilenceDialog``, the form behind ``m`` (here and on the dashboard).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import DataTable, Input, Static, TabbedContent, TabPane

from slamon_tui.client import FeedCallError, FeedClientError
from slamon_tui.identity import Identity
from slamon_tui.messages import IdentityChanged
from slamon_tui.screens.channel_form import ChannelDialog, ChannelKindDialog
from slamon_tui.screens.form_dialog import ConfirmDialog, FormDialog
from slamon_tui.screens.send_result import SendResultDialog
from slamon_tui.screens.tabbed import TabbedTablesScreen
from slamon_tui.types import FeedCall
from slamon_tui.widgets.form_field import FormField
from slamon_tui.widgets.identity_badge import IdentityBadge
from slamon_tui.widgets.keys_footer import KeysFooter
from slamon_tui.widgets.record_table import RecordTable

TABS = ("firing", "channels", "rules", "silences", "deliveries")
TAB_ACTIONS = {
    "firing": {"ack", "silence"},
    "channels": {"test", "new_channel", "edit_channel", "delete_channel"},
    "silences": {"unsilence"},
}


def when(at: Any) -> str:
    return str(at or "—").replace("T", " ")[:19]


def alert_state_text(a: dict[str, Any]) -> str:
    """ "acked by rita" / "silenced" / "held by core-db" / "maintenance" / "open"."""
    parts = []
    if a.get("acked_by"):
        parts.append(f"acked by {a['acked_by']}")
    sup = str(a.get("suppressed_by") or "")
    if sup.startswith("silence:"):
        parts.append(f"silenced (#{sup.split(':', 1)[1]})")
    elif sup:
        parts.append(sup)
    if a.get("held_by"):
        parts.append(f"held by {a['held_by']}")
    if not a.get("open", True):
        parts.append("resolved")
    return ", ".join(parts) or ("waiting for its group" if a.get("status") == "pending" else "open")


class SilenceDialog(FormDialog):
    """alert.silence: services (ids or globs), reason, duration."""

    save_label = "Silence"

    def __init__(self, call: FeedCall, services: str = "") -> None:
        super().__init__(call, "Silence alerts")
        self.services = services

    def form_fields(self) -> Iterable[Widget]:
        yield FormField(
            "services",
            "Services",
            Input(self.services, placeholder="empty: all", compact=True, id="input-services"),
            hint="ids or globs, comma-separated (api-*)",
        )
        yield FormField(
            "reason",
            "Reason",
            Input("", placeholder="e.g. deploy in progress", compact=True, id="input-reason"),
        )
        yield FormField(
            "duration", "For", Input("1h", compact=True, id="input-duration"), hint="e.g. 30m, 2h"
        )

    async def save(self) -> Any:
        services = [s.strip() for s in str(self.value("services")).split(",") if s.strip()]
        if not self.value("reason"):
            raise self.problem("reason", "say why (it is shown with the silence)")
        return await self._call(
            "alert.silence",
            {
                "services": services,
                "reason": self.value("reason"),
                "duration": self.value("duration") or "1h",
            },
        )


class AlertsScreen(TabbedTablesScreen):
    """Alerts, channels, rules, silences and deliveries, in tabs."""

    DEFAULT_TAB = "firing"
    HELP_TITLE = "Alerts"
    KEYS_HELP = [
        ("1 2 3 4 5", "tabs: firing, channels, rules, silences, deliveries"),
        ("a  m", "firing: acknowledge; silence its service (reporters and up)"),
        ("u", "silences: end the one under the cursor (reporters and up)"),
        ("n", "channels: add one: pick its kind, fill its form (admins)"),
        ("e  Enter", "channels: edit (admins); the config file's open read-only"),
        ("d", "channels: delete, after a yes (admins)"),
        ("t", "channels: send a test, see the receiver's answer (admins)"),
        ("Ctrl+S  Esc", "in a form: save; leave (asks if unsaved)"),
        ("r  Esc", "reload; back"),
    ]

    BINDINGS = [
        Binding("escape", "back", "Back", key_display="Esc"),
        Binding("1", "tab('firing')", "Firing", show=False),
        Binding("2", "tab('channels')", "Channels", show=False),
        Binding("3", "tab('rules')", "Rules", show=False),
        Binding("4", "tab('silences')", "Silences", show=False),
        Binding("5", "tab('deliveries')", "Deliveries", show=False),
        Binding("a", "ack", "Acknowledge"),
        Binding("m", "silence", "Silence"),
        Binding("n", "new_channel", "New channel"),
        Binding("e", "edit_channel", "Edit"),
        Binding("d", "delete_channel", "Delete"),
        Binding("t", "test", "Test-send"),
        Binding("u", "unsilence", "End silence"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self, call: FeedCall, identity: Identity | None = None) -> None:
        super().__init__()
        self._call = call
        self.identity = identity or Identity()
        self.alerts: list[dict[str, Any]] = []
        self.channels: list[dict[str, Any]] = []
        self.silences: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []
        self.show_channel: str | None = None
        """A channel just saved: the cursor goes to it once the list has it."""

    def compose(self) -> ComposeResult:
        with Horizontal(classes="title-row"):
            yield Static("Alerts", id="alerts-title", classes="screen-title")
            yield IdentityBadge(classes="identity-badge")
        yield Static("", id="alerts-problem", classes="screen-problem")
        with TabbedContent(initial="firing", id="alerts-tabs"):
            with TabPane("1 Firing", id="firing"):
                yield RecordTable(
                    "Severity", "Rule", "Service", "Since (UTC)", "State", id="firing-table"
                )
            with TabPane("2 Channels", id="channels"):
                yield RecordTable(
                    "Id", "Type", "From", "Health", "Queue", "Target", id="channels-table"
                )
            with TabPane("3 Rules", id="rules"):
                yield RecordTable(
                    "Channel", "Rules", "Services", "Min severity", "Recovery", id="rules-table"
                )
            with TabPane("4 Silences", id="silences"):
                yield RecordTable(
                    "#", "Services", "Rules", "Until (UTC)", "Reason", "By", id="silences-table"
                )
            with TabPane("5 Deliveries", id="deliveries"):
                yield RecordTable(
                    "Result",
                    "At (UTC)",
                    "Channel",
                    "Code",
                    "ms",
                    "What",
                    "Error",
                    id="deliveries-table",
                )
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#alerts-problem").display = False
        self._focus_table()
        self.action_reload()

    # --- tabs and selection ------------------------------------------------------------------

    def _selected(self, tab: str, rows: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
        selected = self.query_one(f"#{tab}-table", RecordTable).selected_key
        return next((r for r in rows if str(r.get(key)) == selected), None)

    @property
    def selected_alert(self) -> dict[str, Any] | None:
        return self._selected("firing", self.alerts, "alert_id")

    @property
    def selected_channel(self) -> dict[str, Any] | None:
        return self._selected("channels", self.channels, "id")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Each key on its tab, for the roles that may use it."""
        for tab, actions in TAB_ACTIONS.items():
            if action in actions and tab != self.tab:
                return False
        if action in ("ack", "silence", "unsilence"):
            return self.identity.allows("reporter")
        if action in ("test", "new_channel"):
            return self.identity.allows("admin")
        if action in ("edit_channel", "delete_channel"):
            c = self.selected_channel
            return self.identity.allows("admin") and c is not None and c.get("source") != "config"
        return True

    def on_identity_changed(self, message: IdentityChanged) -> None:
        self.identity = message.identity
        self.refresh_bindings()

    def action_back(self) -> None:
        self.dismiss()

    # --- loading -----------------------------------------------------------------------------

    def _problem(self, text: str | None) -> None:
        line = self.query_one("#alerts-problem", Static)
        line.update(f"✕ {text}" if text else "")
        line.display = bool(text)

    @work(exclusive=True, group="alerts", exit_on_error=False)
    async def action_reload(self) -> None:
        """Fetch alert.list, alert.channels and alert.deliveries."""
        try:
            listed = await self._call("alert.list", {})
            self.channels = list(await self._call("alert.channels", {}))
            log = await self._call("alert.deliveries", {"limit": 200})
        except (FeedCallError, FeedClientError) as exc:
            self._problem(f"Cannot load the alerts: {getattr(exc, 'message', exc)}")
            return
        self._problem(None)
        self.alerts = list(listed.get("alerts") or [])
        self.silences = list(listed.get("silences") or [])
        self.deliveries = list(log.get("deliveries") or [])
        self.show()

    def show(self) -> None:
        firing = [a for a in self.alerts if a.get("open")]
        self.query_one("#firing-table", RecordTable).set_rows(
            [
                (
                    str(a["alert_id"]),
                    [
                        str(a.get("severity")),
                        str(a.get("rule")),
                        str(a.get("service_id")),
                        when(a.get("opened_at")),
                        alert_state_text(a),
                    ],
                )
                for a in firing
            ]
        )
        self.query_one("#channels-table", RecordTable).set_rows(
            [
                (
                    str(c["id"]),
                    [
                        str(c["id"]),
                        str(c.get("type")),
                        "config file" if c.get("source") == "config" else "admin",
                        f"FAILING: {c.get('last_error')}" if c.get("failing") else "ok",
                        str(c.get("pending", 0)),
                        str(c.get("target")),
                    ],
                )
                for c in self.channels
            ]
        )
        ids = [str(c["id"]) for c in self.channels]
        if self.show_channel in ids:
            self.query_one("#channels-table", RecordTable).move_cursor(
                row=ids.index(self.show_channel)
            )
            self.show_channel = None
        self.query_one("#rules-table", RecordTable).set_rows(
            [
                (
                    str(c["id"]),
                    [
                        str(c["id"]),
                        ", ".join(c.get("rules") or []),
                        ", ".join(c.get("services") or []),
                        str(c.get("min_severity")),
                        "yes" if c.get("send_recovery") else "no",
                    ],
                )
                for c in self.channels
            ]
        )
        self.query_one("#silences-table", RecordTable).set_rows(
            [
                (
                    str(s["id"]),
                    [
                        str(s["id"]),
                        ", ".join(s.get("services") or []) or "all",
                        ", ".join(s.get("rules") or []) or "all",
                        when(s.get("expires_at")),
                        str(s.get("reason")),
                        str(s.get("created_by")),
                    ],
                )
                for s in self.silences
            ]
        )
        # The daemon sends failures first; kept so.
        self.query_one("#deliveries-table", RecordTable).set_rows(
            [
                (
                    str(d["id"]),
                    [
                        "ok" if d.get("ok") else "FAILED",
                        when(d.get("at")),
                        str(d.get("channel")),
                        "—" if d.get("code") is None else str(d.get("code")),
                        f"{float(d.get('latency_ms') or 0):.0f}",
                        f"{d.get('event')}: {d.get('title')}",
                        str(d.get("error") or ""),
                    ],
                )
                for d in self.deliveries
            ]
        )
        failing = [c["id"] for c in self.channels if c.get("failing")]
        title = f"Alerts — {len(firing)} firing, {len(self.silences)} silences"
        if failing:
            title += f" · channel failing: {', '.join(failing)}"
        self.query_one("#alerts-title", Static).update(title)
        self.refresh_bindings()

    # --- actions -----------------------------------------------------------------------------

    @work(group="alert-action", exit_on_error=False)
    async def action_ack(self) -> None:
        a = self.selected_alert
        if a is None:
            return
        try:
            await self._call("alert.ack", {"id": a["alert_id"]})
        except (FeedCallError, FeedClientError) as exc:
            self.notify(f"Not acknowledged: {getattr(exc, 'message', exc)}", severity="error")
            return
        self.notify(f"Acknowledged the alert of {a.get('service_id')}.", timeout=3)
        self.action_reload()

    def action_silence(self) -> None:
        a = self.selected_alert
        services = str(a.get("service_id")) if a else ""

        def done(result: Any) -> None:
            if result:
                self.notify(f"Silence #{result.get('id')} until {when(result.get('expires_at'))}.")
                self.action_reload()

        self.app.push_screen(SilenceDialog(self._call, services), done)

    @work(group="alert-action", exit_on_error=False)
    async def action_unsilence(self) -> None:
        s = self._selected("silences", self.silences, "id")
        if s is None:
            return
        try:
            await self._call("alert.unsilence", {"id": int(s["id"])})
        except (FeedCallError, FeedClientError) as exc:
            self.notify(f"Not ended: {getattr(exc, 'message', exc)}", severity="error")
            return
        self.notify(f"Silence #{s['id']} ended.", timeout=3)
        self.action_reload()

    @work(group="alert-action", exit_on_error=False)
    async def action_test(self) -> None:
        c = self._selected("channels", self.channels, "id")
        if c is None:
            return
        self.notify(f"Sending a test through {c['id']} …", timeout=2)
        try:
            r = await self._call("alert.channel_test", {"id": c["id"]})
        except (FeedCallError, FeedClientError) as exc:
            self.notify(f"Test not sent: {getattr(exc, 'message', exc)}", severity="error")
            return
        self.app.push_screen(SendResultDialog(str(c["id"]), r))
        self.action_reload()

    # --- channels (admins) ---------------------------------------------------------------------

    @on(DataTable.RowSelected, "#channels-table")
    def _channel_enter(self) -> None:
        """Enter: edit a channel the feed added (admins); otherwise show it read-only."""
        c = self.selected_channel
        if c is None:
            return
        if self.check_action("edit_channel", ()):
            self.action_edit_channel()
        else:
            self.app.push_screen(ChannelDialog(self._call, str(c.get("type")), c, read_only=True))

    def action_new_channel(self) -> None:
        """Pick a kind, then fill its form."""

        def picked(kind: str | None) -> None:
            if kind:
                self.app.push_screen(ChannelDialog(self._call, kind), self._channel_saved)

        self.app.push_screen(ChannelKindDialog(), picked)

    def action_edit_channel(self) -> None:
        """Edit the channel under the cursor (one the feed added)."""
        c = self.selected_channel
        if c is not None and c.get("source") != "config":
            self.app.push_screen(
                ChannelDialog(self._call, str(c.get("type")), c), self._channel_saved
            )

    def _channel_saved(self, saved: dict[str, Any] | None) -> None:
        if saved:
            self.notify(f"Alert channel {saved.get('id')} saved.", timeout=4)
            self.show_channel = str(saved.get("id"))
            self.action_reload()

    def action_delete_channel(self) -> None:
        """Delete the channel under the cursor, after a yes."""
        c = self.selected_channel
        if c is None or c.get("source") == "config":
            return
        cid = str(c["id"])

        def answered(yes: bool | None) -> None:
            if yes:
                self._delete_channel(cid)

        question = f"Delete the alert channel {cid}? It gets no more alerts."
        if c.get("pending"):
            question += (
                f" Its {c['pending']} queued message(s) wait for a channel of that id until"
                " they are given up."
            )
        self.app.push_screen(ConfirmDialog(question, "Delete"), answered)

    @work(group="alert-action", exit_on_error=False)
    async def _delete_channel(self, cid: str) -> None:
        try:
            await self._call("alert.channel_delete", {"id": cid})
        except (FeedCallError, FeedClientError) as exc:
            self.notify(f"Not deleted: {getattr(exc, 'message', exc)}", severity="error")
            return
        self.notify(f"Alert channel {cid} deleted.", timeout=4)
        self.action_reload()
