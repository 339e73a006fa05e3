"""Resolve an incident (``R``): root cause (required), resolution notes, an optional final
message for the timeline (Markdown, customer-visible or not).

It is sent with the version the detail screen loaded. When someone saved in between, the
conflict dialog compares their root cause and notes with these, and the resolve is sent
again against the new version; when someone resolved it meanwhile, the form stays open with
everything typed so nothing is lost.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Checkbox, Static, TextArea

from slamon_tui.client import FeedCallError, FeedClientError
from slamon_tui.models.incidents import FIELD_LABELS, conflict_fields, resolve_conflict
from slamon_tui.screens.base import EditingForm
from slamon_tui.screens.incident_conflict import ConflictScreen
from slamon_tui.types import FeedCall
from slamon_tui.widgets.incident_choices import MarkedCheckbox
from slamon_tui.widgets.incident_presence import PresenceLine
from slamon_tui.widgets.keys_footer import KeysFooter


class IncidentResolveScreen(EditingForm):
    """Resolve ``incident``; dismissed with the resolved incident, or None."""

    EDIT_FIELD = "root_cause"
    DISCARD_WHAT = "the resolution"
    KEPT_NOTE = "Your text is kept; resolve once connected."

    BINDINGS = [
        Binding("ctrl+s", "save", "Resolve", priority=True),
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
        self.base = dict(incident)
        self.saving = False

    def compose(self) -> ComposeResult:
        """Heading, presence, notice, the three texts."""
        yield Static(
            f"Resolve incident #{self.incident_id} · {self.base.get('title')}"
            " · Ctrl+S resolves · Esc cancels",
            id="editor-heading",
        )
        yield PresenceLine(self.incident_id, id="editor-presence")
        yield Static("", id="editor-notice", classes="problem-line")
        with VerticalScroll(id="editor-form"):
            yield Static("Root cause (required)", id="label-root_cause", classes="field-label")
            yield TextArea(
                str(self.base.get("root_cause") or ""),
                id="f-root-cause",
                soft_wrap=True,
                placeholder="Why it happened",
            )
            yield self._error("root_cause")
            yield Static("Resolution notes", id="label-resolution_notes", classes="field-label")
            yield TextArea(
                str(self.base.get("resolution_notes") or ""),
                id="f-resolution-notes",
                soft_wrap=True,
                placeholder="What was done; what follows up",
            )
            yield self._error("resolution_notes")
            yield Static(
                "Final update (optional, Markdown)", id="label-message", classes="field-label"
            )
            yield TextArea(
                "", id="f-message", soft_wrap=True, placeholder="This incident has been resolved …"
            )
            yield self._error("message")
            yield MarkedCheckbox("Customer-visible", True, id="f-customer-visible", compact=True)
        yield KeysFooter()

    @staticmethod
    def _error(name: str) -> Static:
        error = Static("", id=f"error-{name}", classes="field-error")
        error.display = False
        return error

    def on_mount(self) -> None:
        """Focus the root cause; say we are on it."""
        self.query_one("#editor-notice").display = False
        line = self.query_one(PresenceLine)
        line.board.own_session = self._own_session
        line.replace(self._presence)
        self.query_one("#f-root-cause").focus()
        self.run_worker(self._set_editing(), group="presence", exit_on_error=False)

    def values(self) -> dict[str, str]:
        """Root cause and notes as typed."""
        return {
            "root_cause": self.query_one("#f-root-cause", TextArea).text,
            "resolution_notes": self.query_one("#f-resolution-notes", TextArea).text,
        }

    @property
    def message(self) -> str:
        """The final update as typed."""
        return self.query_one("#f-message", TextArea).text

    # --- saving -------------------------------------------------------------------------------

    def action_save(self) -> None:
        """Resolve against the version loaded."""
        if self.saving:
            return
        for error in self.query(".field-error"):
            error.display = False
        values = self.values()
        if not values["root_cause"].strip():
            self._field_errors({"root_cause": "is required to resolve: say why it happened"})
            return
        params: dict[str, Any] = {
            "id": self.incident_id,
            "version": self.base.get("version"),
            "root_cause": values["root_cause"],
        }
        if values["resolution_notes"].strip():
            params["resolution_notes"] = values["resolution_notes"]
        if self.message.strip():
            params["message"] = self.message
            params["customer_visible"] = self.query_one("#f-customer-visible", Checkbox).value
        self.saving = True
        self._notice("Resolving…")
        self.run_worker(self._resolve(params), group="save", exclusive=True, exit_on_error=False)

    async def _resolve(self, params: dict[str, Any]) -> None:
        try:
            result = await self._call("incident.resolve", params)
        except FeedCallError as exc:
            self.saving = False
            self._refused(exc)
            return
        except FeedClientError as exc:
            self.saving = False
            self._notice(f"⚠ Not resolved: {exc}. Everything you typed is still here.")
            return
        self.saving = False
        self.notify(f"Incident #{self.incident_id} resolved.", timeout=4)
        self.dismiss(result)

    def _refused(self, exc: FeedCallError) -> None:
        current = exc.data.get("current")
        if exc.code == "conflict" and isinstance(current, dict):
            self._open_conflict(current, list(exc.data.get("changed_fields") or exc.fields))
            return
        if exc.fields:
            self._field_errors(exc.fields)
        self._notice(f"⚠ Not resolved: {exc.message}. Everything you typed is still here.")

    def _open_conflict(self, current: dict[str, Any], changed: list[str]) -> None:
        yours = self.values()
        base = dict(self.base)
        fields = conflict_fields(base, yours, current, changed)

        def settled(choices: dict[str, str] | None) -> None:
            if choices is None:
                self._notice(
                    "⚠ Not resolved: someone else changed this incident. Your text "
                    "is still here; Ctrl+S compares again."
                )
                return
            chosen = resolve_conflict(fields, choices, yours, base, current)
            self.query_one("#f-root-cause", TextArea).text = str(chosen.get("root_cause") or "")
            self.query_one("#f-resolution-notes", TextArea).text = str(
                chosen.get("resolution_notes") or ""
            )
            self.base = dict(current)
            self.action_save()

        self._notice("⚠ Not resolved yet: someone else saved this incident meanwhile.")
        self.app.push_screen(ConflictScreen(fields, current, {}), settled)

    def _field_errors(self, fields: dict[str, str]) -> None:
        for name, problem in fields.items():
            found = self.query(f"#error-{name}")
            if found:
                error = found.first(Static)
                error.update(f"✕ {FIELD_LABELS.get(name, name)} {problem}")
                error.display = True
        first = next(iter(fields), None)
        widget = self.query(f"#f-{first.replace('_', '-')}") if first else None
        if widget:
            widget.first().focus()

    def has_unsaved(self) -> bool:
        return bool(
            any(v.strip() != str(self.base.get(k) or "").strip() for k, v in self.values().items())
            or self.message.strip()
        )
