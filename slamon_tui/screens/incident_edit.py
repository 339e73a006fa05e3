"""The incident editor (``n`` new, ``e`` edit): title, description, severity, priority,
status, affected services, impact (and, for a new incident, a first update).

Saving sends only the fields that differ from what the editor loaded, with the version it
loaded (incident.update). When someone else saved in between, the daemon refuses with the
incident as it is now; the conflict dialog then shows theirs and yours field by field, the
user chooses, and the editor saves again against the new version. Nothing the user typed is
lost on the way: a failed or cancelled save leaves every field as it was.

While editing, the others see which field has the focus (presence.set editing), and the
editor shows who else is here and which field they are on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import DescendantFocus
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Select, SelectionList, Static, TextArea

from slamon_tui.client import FeedCallError, FeedClientError
from slamon_tui.messages import IncidentEvent, PresenceEvent
from slamon_tui.models.incidents import (
    ACTIVE_STATUSES,
    FIELD_LABELS,
    PRIORITIES,
    RESPONSE_TARGETS,
    SEVERITY_LEVELS,
    STATUSES,
    changes_between,
    conflict_fields,
    resolve_conflict,
    same_value,
    when_text,
)
from slamon_tui.screens.base import LiveScreen
from slamon_tui.screens.confirm_discard import ConfirmDiscardScreen
from slamon_tui.screens.incident_conflict import ConflictScreen
from slamon_tui.types import FeedCall
from slamon_tui.widgets.incident_choices import MarkedCheckbox, ServicePicker
from slamon_tui.widgets.incident_presence import PresenceLine
from slamon_tui.widgets.keys_footer import KeysFooter

PRESENCE_DELAY_S = 0.3
"""Focus must rest on a field this long before the others are told (Tab-ing through is quiet)."""
FORM_FIELDS = (
    "title",
    "severity",
    "priority",
    "status",
    "services",
    "description",
    "impact",
    "root_cause",
    "resolution_notes",
)


def field_of(widget: Widget | None) -> str | None:
    """The incident field a form widget edits (its id is ``f-<field>``)."""
    while widget is not None:
        if widget.id and widget.id.startswith("f-"):
            return widget.id[2:].replace("-", "_")
        parent = widget.parent
        widget = parent if isinstance(parent, Widget) else None
    return None


class EditorForm(VerticalScroll):
    """The scrolling form."""


class IncidentEditScreen(LiveScreen[dict[str, Any] | None]):
    """Edit ``incident`` (an incident.get result), or a new one when it is None.

    Dismissed with the saved incident, or None when left without saving.
    """

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("escape", "cancel", "Cancel", key_display="Esc"),
    ]

    def __init__(
        self,
        call: FeedCall,
        incident: dict[str, Any] | None,
        services: list[tuple[str, str]],
        *,
        presence: list[dict[str, Any]] | None = None,
        own_session: Any = None,
        prefill: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(call)
        self.incident = incident
        self.prefill: dict[str, Any] = dict(prefill or {}) if incident is None else {}
        """A new incident's values from where it was opened (issue 12: models/
        incident_context.py): service, outage start (``started_at``), cause."""
        self.base: dict[str, Any] = dict(incident or {})
        """The incident the next save is made against (its ``version``)."""
        self.services = list(services)
        known = {sid for sid, _ in self.services}
        for sid in (incident or {}).get("services") or []:
            if sid not in known:
                self.services.append((str(sid), str(sid)))
        self._presence = presence or []
        self._own_session = own_session
        self._presence_timer: Timer | None = None
        self._presence_field: str | None = None
        self.saving = False

    @property
    def is_new(self) -> bool:
        """True for a new incident."""
        return self.incident is None

    @property
    def incident_id(self) -> int | None:
        """The id of the incident edited (None for a new one)."""
        return None if self.incident is None else int(self.incident["id"])

    # --- the form -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """Heading, presence, notices, then the fields, each with its error line."""
        inc = self.base or self.prefill
        yield Static(self._heading(), id="editor-heading")
        yield PresenceLine(self.incident_id or 0, id="editor-presence")
        yield Static("", id="editor-notice", classes="problem-line")
        with EditorForm(id="editor-form"):
            yield from self._field(
                "title",
                Input(
                    str(inc.get("title") or ""),
                    id="f-title",
                    placeholder="What is broken, in a few words",
                ),
            )
            with Horizontal(id="editor-choices"):
                with Vertical(classes="choice"):
                    yield from self._field(
                        "severity",
                        Select(
                            [(s, s) for s in SEVERITY_LEVELS],
                            value=inc.get("severity") or "high",
                            allow_blank=False,
                            compact=True,
                            id="f-severity",
                        ),
                    )
                with Vertical(classes="choice"):
                    yield from self._field(
                        "priority",
                        Select(
                            [(f"{p} ({RESPONSE_TARGETS[p]})", p) for p in PRIORITIES],
                            value=inc.get("priority") or "P2",
                            allow_blank=False,
                            compact=True,
                            id="f-priority",
                        ),
                    )
                with Vertical(classes="choice"):
                    yield from self._field(
                        "status",
                        Select(
                            [(s, s) for s in self._statuses()],
                            value=inc.get("status") or "investigating",
                            allow_blank=False,
                            compact=True,
                            id="f-status",
                        ),
                    )
            yield from self._field(
                "services",
                ServicePicker(self.services, set(inc.get("services") or []), id="f-services"),
            )
            yield from self._field(
                "description",
                TextArea(
                    str(inc.get("description") or ""),
                    id="f-description",
                    soft_wrap=True,
                    placeholder="What users see, what is known (Markdown)",
                ),
            )
            yield from self._field(
                "impact",
                TextArea(
                    str(inc.get("impact") or ""),
                    id="f-impact",
                    soft_wrap=True,
                    placeholder="Who is affected and how",
                ),
            )
            if self.has_resolution_fields:
                yield from self._field(
                    "root_cause",
                    TextArea(str(inc.get("root_cause") or ""), id="f-root-cause", soft_wrap=True),
                )
                yield from self._field(
                    "resolution_notes",
                    TextArea(
                        str(inc.get("resolution_notes") or ""),
                        id="f-resolution-notes",
                        soft_wrap=True,
                    ),
                )
            if self.is_new:
                yield Static(
                    "First update (optional, Markdown): posting one now keeps the"
                    " incident from going overdue",
                    classes="field-label",
                )
                yield TextArea(
                    "", id="new-message", soft_wrap=True, placeholder="We are investigating …"
                )
                yield MarkedCheckbox(
                    "Customer-visible (on the public status page)",
                    True,
                    id="new-visible",
                    compact=True,
                )
        yield KeysFooter()

    def _field(self, name: str, widget: Widget) -> ComposeResult:
        label = "Affected services (Space toggles)" if name == "services" else FIELD_LABELS[name]
        yield Static(label, id=f"label-{name}", classes="field-label")
        yield widget
        error = Static("", id=f"error-{name}", classes="field-error")
        error.display = False
        yield error

    def _heading(self) -> str:
        if self.is_new:
            started = self.prefill.get("started_at")
            since = f" · started {when_text(started, datetime.now(UTC))}" if started else ""
            return f"New incident{since} · Ctrl+S saves · Esc cancels"
        return (
            f"Editing incident #{self.incident_id} (version {self.base.get('version')})"
            " · Ctrl+S saves · Esc cancels"
        )

    def _statuses(self) -> tuple[str, ...]:
        # Resolving needs a root cause: that is the resolve form's job (R), not a status pick.
        if self.base.get("status") == "resolved":
            return STATUSES
        return ACTIVE_STATUSES

    @property
    def has_resolution_fields(self) -> bool:
        """Root cause and notes are edited here once the incident has them."""
        return bool(
            self.base.get("status") == "resolved"
            or self.base.get("root_cause")
            or self.base.get("resolution_notes")
        )

    def on_mount(self) -> None:
        """Focus the title; show the others already here; say we are editing."""
        self.query_one("#editor-notice").display = False
        line = self.query_one(PresenceLine)
        line.board.own_session = self._own_session
        line.replace(self._presence)
        self._mark_fields()
        self.query_one("#f-title").focus()

    # --- values -------------------------------------------------------------------------------

    def values(self) -> dict[str, Any]:
        """What the form holds, as the daemon takes it."""
        out: dict[str, Any] = {
            "title": self.query_one("#f-title", Input).value,
            "severity": self.query_one("#f-severity", Select).value,
            "priority": self.query_one("#f-priority", Select).value,
            "status": self.query_one("#f-status", Select).value,
            "services": list(self.query_one("#f-services", SelectionList).selected),
            "description": self.query_one("#f-description", TextArea).text,
            "impact": self.query_one("#f-impact", TextArea).text,
        }
        if self.has_resolution_fields:
            out["root_cause"] = self.query_one("#f-root-cause", TextArea).text
            out["resolution_notes"] = self.query_one("#f-resolution-notes", TextArea).text
        return out

    def set_values(self, values: dict[str, Any]) -> None:
        """Put ``values`` in the form (after a conflict is settled)."""
        for name, value in values.items():
            selector = f"#f-{name.replace('_', '-')}"
            widgets = self.query(selector)
            if not widgets:
                continue
            widget = widgets.first()
            if isinstance(widget, Input):
                widget.value = str(value or "")
            elif isinstance(widget, TextArea):
                if widget.text != str(value or ""):
                    widget.text = str(value or "")
            elif isinstance(widget, SelectionList):
                wanted = set(value or [])
                for sid, _name in self.services:
                    if sid in wanted:
                        widget.select(sid)
                    else:
                        widget.deselect(sid)
            elif isinstance(widget, Select):
                widget.value = value

    @property
    def dirty(self) -> bool:
        """Whether the form holds anything not saved."""
        if self.is_new:
            v = self.values()
            return bool(
                v["title"].strip()
                or v["description"].strip()
                or v["impact"].strip()
                or v["services"]
                or self.query_one("#new-message", TextArea).text.strip()
            )
        return bool(changes_between(self.base, self.values()))

    # --- saving -------------------------------------------------------------------------------

    def action_save(self) -> None:
        """Save (create, or update against the loaded version)."""
        if self.saving:
            return
        self._clear_errors()
        values = self.values()
        if not str(values["title"]).strip():
            self._field_errors({"title": "may not be empty: say what is broken"})
            return
        if self.is_new:
            params = {k: v for k, v in values.items() if k in FORM_FIELDS}
            if self.prefill.get("started_at"):
                params["started_at"] = self.prefill["started_at"]  # the outage's start
            message = self.query_one("#new-message", TextArea).text
            if message.strip():
                params["message"] = message
                params["customer_visible"] = self.query_one("#new-visible", Checkbox).value
            self._send("incident.create", params)
            return
        changes = changes_between(self.base, values)
        if not changes:
            self.notify("Nothing changed: nothing to save.", timeout=3)
            return
        self._send(
            "incident.update",
            {"id": self.incident_id, "version": self.base.get("version"), "changes": changes},
        )

    def _send(self, method: str, params: dict[str, Any]) -> None:
        self.saving = True
        self._notice("Saving…")
        self.run_worker(
            self._save(method, params), group="save", exclusive=True, exit_on_error=False
        )

    async def _save(self, method: str, params: dict[str, Any]) -> None:
        try:
            result = await self._call(method, params)
        except FeedCallError as exc:
            self.saving = False
            self._refused(exc)
            return
        except FeedClientError as exc:
            self.saving = False
            self._notice(
                f"⚠ Not saved: {exc}. Everything you typed is still here; "
                "Ctrl+S again once connected."
            )
            return
        self.saving = False
        what = "Created" if self.is_new else "Saved"
        self.notify(
            f"{what} incident #{result.get('id')} (version {result.get('version')}).", timeout=4
        )
        self.dismiss(result)

    def _refused(self, exc: FeedCallError) -> None:
        current = exc.data.get("current")
        if exc.code == "conflict" and isinstance(current, dict):
            self._notice(f"⚠ Not saved yet: {exc.message}")
            self._open_conflict(current, list(exc.data.get("changed_fields") or exc.fields))
            return
        if exc.fields:
            self._field_errors(exc.fields)
            self._notice(f"⚠ Not saved: {exc.message}")
            return
        if exc.code == "forbidden":
            self._notice(f"⚠ Not saved: {exc.message} (your role may not edit incidents)")
            return
        self._notice(f"⚠ Not saved: {exc.message}. Everything you typed is still here.")

    def _open_conflict(self, current: dict[str, Any], changed: list[str]) -> None:
        yours = self.values()
        fields = conflict_fields(self.base, yours, current, changed)
        base = dict(self.base)

        def settled(choices: dict[str, str] | None) -> None:
            if choices is None:
                self._notice(
                    "⚠ Not saved: someone else changed this incident. Your text is "
                    "still here; Ctrl+S compares again."
                )
                return
            # Fields the user did not touch follow theirs; the others as chosen.
            self.set_values(resolve_conflict(fields, choices, yours, base, current))
            self.base = dict(current)
            self.query_one("#editor-heading", Static).update(self._heading())
            if not changes_between(self.base, self.values()):
                self.notify("Nothing left to save: the incident keeps their version.", timeout=4)
                self.dismiss(current)
                return
            self.action_save()

        self.app.push_screen(ConflictScreen(fields, current, dict(self.services)), settled)

    def _clear_errors(self) -> None:
        for error in self.query(".field-error"):
            error.display = False

    def _field_errors(self, fields: dict[str, str]) -> None:
        unplaced = []
        for name, problem in fields.items():
            found = self.query(f"#error-{name}")
            if found:
                error = found.first(Static)
                error.update(f"✕ {FIELD_LABELS.get(name, name)} {problem}")
                error.display = True
            else:
                unplaced.append(f"{name}: {problem}")
        first = next((n for n in fields if self.query(f"#error-{n}")), None)
        if first is not None:
            widget = self.query(f"#f-{first.replace('_', '-')}")
            if widget:
                widget.first().focus()
        if unplaced:
            self._notice("⚠ " + "; ".join(unplaced))

    def _notice(self, text: str) -> None:
        line = self.query_one("#editor-notice", Static)
        line.update(text)
        line.display = bool(text)

    # --- leaving ------------------------------------------------------------------------------

    def action_cancel(self) -> None:
        """Leave; asks first when something typed would be lost."""
        if not self.dirty:
            self.dismiss(None)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(ConfirmDiscardScreen(), answered)

    # --- presence -------------------------------------------------------------------------------

    @on(DescendantFocus)
    def _focus_moved(self, event: DescendantFocus) -> None:
        name = field_of(event.widget)
        if self.is_new or name is None or name == self._presence_field:
            return
        self._presence_field = name
        if self._presence_timer is not None:
            self._presence_timer.stop()
        self._presence_timer = self.set_timer(PRESENCE_DELAY_S, self._say_editing)

    def _say_editing(self) -> None:
        self._presence_timer = None
        self.run_worker(
            self._set_editing(self._presence_field),
            group="presence",
            exclusive=True,
            exit_on_error=False,
        )

    async def _set_editing(self, name: str | None) -> None:
        if self.incident_id is None:
            return
        params: dict[str, Any] = {"incident_id": self.incident_id, "mode": "editing"}
        if name:
            params["field"] = name
        try:
            mine = await self._call("presence.set", params)
        except FeedClientError:
            return  # presence is a courtesy: editing works without it
        if isinstance(mine, dict):
            self.query_one(PresenceLine).set_own_session(mine.get("session"))
            self._mark_fields()

    @on(PresenceEvent)
    def _presence_changed(self, message: PresenceEvent) -> None:
        """Someone came, went or moved: the line and the field labels follow."""
        if self.query_one(PresenceLine).apply_event(message.data):
            self._mark_fields()

    def _mark_fields(self) -> None:
        board = self.query_one(PresenceLine).board
        for name in FORM_FIELDS:
            found = self.query(f"#label-{name}")
            if not found:
                continue
            label = (
                "Affected services (Space toggles)" if name == "services" else FIELD_LABELS[name]
            )
            editors = board.editors_of(name)
            if editors:
                label += (
                    f"   ✎ {', '.join(editors)} {'is' if len(editors) == 1 else 'are'} editing this"
                )
            found.first(Static).update(label)
            found.first(Static).set_class(bool(editors), "-others-editing")

    # --- live updates ---------------------------------------------------------------------------

    @on(IncidentEvent)
    def _incident_changed(self, message: IncidentEvent) -> None:
        """Someone saved this incident while we edit: say what changed (we keep our text)."""
        inc = message.data.get("incident") or {}
        if self.is_new or inc.get("id") != self.incident_id:
            return
        if int(inc.get("version") or 0) <= int(self.base.get("version") or 0) or self.saving:
            return
        changed = [
            FIELD_LABELS.get(f, f).lower()
            for f in FORM_FIELDS
            if f in inc and not same_value(inc.get(f), self.base.get(f))
        ]
        what = f": {', '.join(changed)} changed" if changed else " (a timeline update)"
        self._notice(
            f"⚠ Someone else saved this incident (version {inc.get('version')}){what}."
            " Keep typing: saving shows both versions so you can choose."
        )

    def reload(self) -> None:
        """Reconnected: say again that we are editing (the old connection's presence ended)."""
        if not self.is_new:
            self._say_editing()

    def feed_down(self, line: str) -> None:
        """Keep the form; say saving waits for the connection."""
        self._notice(f"{line}\nYour text is kept; save once connected.")
