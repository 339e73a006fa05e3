"""The audit log (admins): who changed what, newest first, from ``audit.list``.

Each row is one successful mutation: when, who, the method, its target and the params it
changed (the daemon writes passwords and tokens as ``***``). ``r`` reloads; Escape goes back.
"""

from __future__ import annotations

import json
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Static

from slamon_tui.client import FeedCallError, FeedClientError
from slamon_tui.messages import IdentityChanged
from slamon_tui.types import FeedCall
from slamon_tui.widgets.identity_badge import IdentityBadge
from slamon_tui.widgets.keys_footer import KeysFooter
from slamon_tui.widgets.record_table import RecordTable

AUDIT_LIMIT = 500
"""Entries fetched (the daemon allows up to 5,000)."""
COLUMNS = ("When (UTC)", "Who", "Method", "Target", "Changes")


def when_text(at: str | None) -> str:
    """ "2026-11-21 23:10:04" from an ISO time (as sent when it does not parse)."""
    if not at:
        return "—"
    text = str(at).replace("T", " ")
    return text[:19]


def changes_text(changes: Any) -> str:
    """``{"role": "admin", "password": "***"}`` as ``role=admin password=***``."""
    if not isinstance(changes, dict) or not changes:
        return ""
    parts = []
    for key, value in changes.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}={shown}")
    return " ".join(parts)


class AuditScreen(Screen[None]):
    """The audit log as a table, newest first."""

    BINDINGS = [
        Binding("escape", "back", "Back", key_display="Esc"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self, call: FeedCall) -> None:
        super().__init__()
        self._call = call
        self.entries: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        """Title line with who is logged in, the problem line, the table, the footer."""
        with Horizontal(classes="title-row"):
            yield Static("Audit log — newest first", id="audit-title", classes="screen-title")
            yield IdentityBadge(classes="identity-badge")
        yield Static("", id="audit-problem", classes="screen-problem")
        yield RecordTable(*COLUMNS, id="audit-table")
        yield KeysFooter()

    def on_mount(self) -> None:
        """Load the log."""
        self.query_one("#audit-problem").display = False
        self.query_one(RecordTable).focus()
        self.action_reload()

    def on_identity_changed(self, message: IdentityChanged) -> None:
        """Leave when the user is no longer an admin."""
        if not message.identity.allows("admin"):
            self.app.notify("The audit log is for admins only.", severity="warning")
            self.dismiss()

    def action_back(self) -> None:
        """Back to where the log was opened from."""
        self.dismiss()

    @work(exclusive=True, group="audit", exit_on_error=False)
    async def action_reload(self) -> None:
        """Fetch audit.list again."""
        problem = self.query_one("#audit-problem", Static)
        try:
            entries = await self._call("audit.list", {"limit": AUDIT_LIMIT})
        except (FeedCallError, FeedClientError) as exc:
            problem.update(f"✕ Cannot load the audit log: {getattr(exc, 'message', exc)}")
            problem.display = True
            return
        problem.display = False
        self.show_entries(entries if isinstance(entries, list) else [])

    def show_entries(self, entries: list[dict[str, Any]]) -> None:
        """Fill the table, newest first (the daemon sends them so; sorted again to be sure)."""
        self.entries = sorted(entries, key=lambda e: str(e.get("at") or ""), reverse=True)
        self.query_one("#audit-table", RecordTable).set_rows(
            [
                (
                    str(entry.get("id")),
                    [
                        when_text(entry.get("at")),
                        str(entry.get("actor") or ""),
                        str(entry.get("method") or ""),
                        str(entry.get("target") or ""),
                        changes_text(entry.get("changes")),
                    ],
                )
                for entry in self.entries
            ]
        )
        self.query_one("#audit-title", Static).update(
            f"Audit log — {len(self.entries)} entries, newest first"
        )
