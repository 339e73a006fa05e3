"""Who the app acts as, on one line ("alice · admin", "anonymous · viewer"), kept current."""

from __future__ import annotations

from textual.widgets import Static

from slamon_tui.identity import ROLES, Identity


class IdentityBadge(Static):
    """Follows ``app.identity`` (a reactive of SlamonApp); styled by role (-admin …)."""

    def on_mount(self) -> None:
        """Show the identity now and at every change."""
        self.watch(self.app, "identity", self.show_identity, init=True)

    def show_identity(self, identity: Identity) -> None:
        """Draw ``identity``."""
        self.update(identity.label)
        shown = identity.role if identity.role in ROLES else "anonymous"
        for name in ROLES:
            self.set_class(name == shown, f"-{name}")
        self.set_class(not identity.logged_in, "-guest")
