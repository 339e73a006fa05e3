"""Add an update to an incident's timeline (``u``): status, a Markdown message with its
preview (side by side from PREVIEW_SIDE_FROM columns, F2 toggles it), customer-visible.

Appending never conflicts on the daemon (it overwrites nothing), so this form has no
conflict dialog; a refused or failed post keeps the message as typed.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.timer import Timer
from textual.widgets import Checkbox, Markdown, Select, Static, TextArea

from slamon_tui.client import FeedCallError, FeedClientError
from slamon_tui.models.incidents import STATUSES
from slamon_tui.screens.base import EditingForm
from slamon_tui.types import FeedCall
from slamon_tui.widgets.incident_choices import MarkedCheckbox
from slamon_tui.widgets.incident_presence import PresenceLine
from slamon_tui.widgets.keys_footer import KeysFooter

PREVIEW_SIDE_FROM = 120
"""From this width the preview stands beside the message; below, F2 swaps them."""
PREVIEW_DELAY_S = 0.3


class IncidentUpdateScreen(EditingForm):
    """Post an update to ``incident``; dismissed with the incident after it, or None."""

    EDIT_FIELD = "message"
    DISCARD_WHAT = "this update"
    KEPT_NOTE = "Your message is kept; post it once connected."

    BINDINGS = [
        Binding("ctrl+s", "save", "Post update", priority=True),
        Binding("f2", "toggle_preview", "Preview"),
        Binding("escape", "cancel", "Cancel", key_display="Esc"),
    ]

    def __init__(
        self,
        call: FeedCall,
        incident: dict[str, Any],
        *,
        presence: list[dict[str, Any]] | None = None,
        own_session: Any = None,
    ) -> None:
        super().__init__(call, int(incident["id"]))
        self._presence = presence if presence is not None else incident.get("presence")
        self._own_session = own_session
        self.incident = incident
        self.preview_shown = True
        self._preview_timer: Timer | None = None
        self.saving = False

    def compose(self) -> ComposeResult:
        """Heading, presence, notice, status and visibility, message and preview."""
        yield Static(
            f"Update to incident #{self.incident_id} · {self.incident.get('title')}"
            " · Ctrl+S posts · Esc cancels",
            id="editor-heading",
        )
        yield PresenceLine(self.incident_id, id="editor-presence")
        yield Static("", id="editor-notice", classes="problem-line")
        with Horizontal(id="update-options"):
            yield Static("Status", classes="inline-label")
            yield Select(
                [(s, s) for s in STATUSES],
                value=self.incident.get("status") or "investigating",
                allow_blank=False,
                compact=True,
                id="f-status",
            )
            yield MarkedCheckbox("Customer-visible", True, id="f-customer-visible", compact=True)
        with Horizontal(id="update-panes"):
            with Vertical(id="update-write"):
                yield Static("Message (Markdown)", id="label-message", classes="field-label")
                yield TextArea(
                    "",
                    id="f-message",
                    soft_wrap=True,
                    placeholder="What changed, what is next, when the next update is",
                )
                error = Static("", id="error-message", classes="field-error")
                error.display = False
                yield error
            with Vertical(id="update-preview-pane"):
                yield Static("Preview", classes="field-label")
                with VerticalScroll(id="update-preview-scroll"):
                    yield Markdown("_Nothing to preview yet._", id="update-preview")
        yield KeysFooter()

    def on_mount(self) -> None:
        """Lay out for the width, focus the message, say we are writing an update."""
        self.query_one("#editor-notice").display = False
        line = self.query_one(PresenceLine)
        line.board.own_session = self._own_session
        line.replace(self._presence)
        self.on_resize()
        self.query_one("#f-message").focus()
        self.run_worker(self._set_editing(), group="presence", exit_on_error=False)

    def on_resize(self) -> None:
        """Side by side when wide; one pane at a time when narrow."""
        wide = self.size.width >= PREVIEW_SIDE_FROM
        self.set_class(wide, "-wide")
        self._apply_panes()

    def _apply_panes(self) -> None:
        wide = self.has_class("-wide")
        preview = self.query_one("#update-preview-pane")
        write = self.query_one("#update-write")
        if wide:
            preview.display = self.preview_shown
            write.display = True
        else:
            # Narrow: F2 swaps the message and its preview.
            preview.display = not self._writing
            write.display = self._writing

    @property
    def _writing(self) -> bool:
        return self.has_class("-wide") or not self.has_class("-previewing")

    def action_toggle_preview(self) -> None:
        """Show or hide the preview (narrow: swap message and preview)."""
        if self.has_class("-wide"):
            self.preview_shown = not self.preview_shown
        else:
            self.toggle_class("-previewing")
        self._update_preview()
        self._apply_panes()
        if self._writing:
            self.query_one("#f-message").focus()
        else:
            self.query_one("#update-preview-scroll").focus()

    @on(TextArea.Changed, "#f-message")
    def _typed(self) -> None:
        if self._preview_timer is not None:
            self._preview_timer.stop()
        self._preview_timer = self.set_timer(PREVIEW_DELAY_S, self._update_preview)

    def _update_preview(self) -> None:
        self._preview_timer = None
        text = self.query_one("#f-message", TextArea).text
        self.query_one("#update-preview", Markdown).update(text or "_Nothing to preview yet._")

    @property
    def message(self) -> str:
        """The message as typed."""
        return self.query_one("#f-message", TextArea).text

    # --- saving -------------------------------------------------------------------------------

    def action_save(self) -> None:
        """Post the update."""
        if self.saving:
            return
        error = self.query_one("#error-message", Static)
        if not self.message.strip():
            error.update("✕ The message may not be empty: say what changed")
            error.display = True
            self.query_one("#f-message").focus()
            return
        error.display = False
        params = {
            "id": self.incident_id,
            "message": self.message,
            "status": self.query_one("#f-status", Select).value,
            "customer_visible": self.query_one("#f-customer-visible", Checkbox).value,
        }
        self.saving = True
        self._notice("Posting…")
        self.run_worker(self._post(params), group="save", exclusive=True, exit_on_error=False)

    async def _post(self, params: dict[str, Any]) -> None:
        try:
            result = await self._call("incident.add_update", params)
        except FeedCallError as exc:
            self.saving = False
            if exc.fields:
                error = self.query_one("#error-message", Static)
                error.update("✕ " + "; ".join(f"{k} {v}" for k, v in exc.fields.items()))
                error.display = True
            self._notice(f"⚠ Not posted: {exc.message}. Your message is still here.")
            return
        except FeedClientError as exc:
            self.saving = False
            self._notice(
                f"⚠ Not posted: {exc}. Your message is still here; Ctrl+S again once connected."
            )
            return
        self.saving = False
        self.notify(f"Update posted to incident #{self.incident_id}.", timeout=4)
        self.dismiss(result)

    def has_unsaved(self) -> bool:
        return bool(self.message.strip())
