"""Who the app acts as, on one line ("alice · admin", "anonymous · viewer"), kept current."""

from __future__ import annotations

from typing import Any

from textual.widgets import Static

from slamon_tui.identity import ROLES, identity_label


class IdentityBadge(Static):
    """Follows ``app.identity`` (a reactive of SlamonApp); styled by role (-admin …)."""

    def on_mount(self) -> None:
        """Show the identity now and at every change."""
        self.watch(self.app, "identity", self.show_identity, init=True)

    def show_identity(self, identity: dict[str, Any]) -> None:
        """Draw ``identity`` (the whoami dict)."""
        role = str(identity.get("role") or "anonymous")
        self.update(identity_label(identity))
        shown = role if role in ROLES else "anonymous"
        for name in ROLES:
            self.set_class(name == shown, f"-{name}")
        self.set_class(not identity.get("logged_in"), "-guest")
