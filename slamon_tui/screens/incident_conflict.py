"""The conflict dialog: someone saved the incident after the editor loaded it.

Nothing was saved. For every field either side changed it shows theirs (the incident as the
daemon has it now) and yours; for each field you changed the user picks keep theirs, use
mine or (free text changed on both sides) keep both. A field changed on both sides has no
default: Ctrl+S saves only once each has a choice. Esc goes back to the editor with
everything typed still there.

Dismissed with {field: "theirs" | "yours" | "both"}, or None (back to the editor).
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from slamon_tui.models.incidents import ConflictField
from slamon_tui.widgets.incident_conflict_row import ConflictChoice


class ConflictScreen(ModalScreen[dict[str, str] | None]):
    """Theirs against yours, field by field."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save with these choices", priority=True),
        Binding("escape", "back", "Back to the editor", key_display="Esc"),
        Binding("T", "all('theirs')", "All theirs", key_display="T"),
        Binding("M", "all('yours')", "All mine", key_display="M"),
    ]

    def __init__(
        self, fields: list[ConflictField], current: dict[str, Any], names: dict[str, str]
    ) -> None:
        super().__init__()
        self.fields = fields
        self.current = current
        self.names = names

    def compose(self) -> ComposeResult:
        """Explanation, one row per field, the buttons."""
        with Vertical(id="conflict-box") as box:
            box.border_title = "Someone else saved this incident meanwhile"
            box.border_subtitle = "t theirs · m mine · b both · Ctrl+S save · Esc back"
            yield Static(self._intro(), id="conflict-intro")
            with VerticalScroll(id="conflict-fields"):
                for f in self.fields:
                    yield ConflictChoice(f, self.names)
            yield Static("", id="conflict-missing")
            with Horizontal(id="conflict-buttons"):
                yield Button(
                    "Save with these choices", id="conflict-save", variant="primary", compact=True
                )
                yield Button("Back to the editor", id="conflict-back", compact=True)

    def _intro(self) -> str:
        version = self.current.get("version")
        choose = sum(1 for f in self.fields if f.kind == "both")
        text = (
            f"Nothing was saved: the incident is now at version {version}. "
            "Theirs is what it holds now; yours is what you typed."
        )
        if choose:
            text += f" Choose for the {choose} field{'s' if choose > 1 else ''} you both changed."
        return text

    def on_mount(self) -> None:
        """Focus the first field that needs a choice."""
        rows = [r for r in self.query(ConflictChoice) if r.can_focus]
        first = next((r for r in rows if r.choice is None), rows[0] if rows else None)
        if first is not None:
            first.focus()
        else:
            self.query_one("#conflict-save").focus()
        self._show_missing()

    @property
    def choices(self) -> dict[str, str]:
        """The choices made so far."""
        return {r.field.name: r.choice for r in self.query(ConflictChoice) if r.choice}

    @property
    def missing(self) -> list[ConflictField]:
        """Fields that still need a choice."""
        return [
            r.field for r in self.query(ConflictChoice) if r.field.needs_choice and r.choice is None
        ]

    def _show_missing(self) -> None:
        line = self.query_one("#conflict-missing", Static)
        missing = self.missing
        line.update(
            f"Still to choose: {', '.join(f.label for f in missing)}"
            if missing
            else "Ready: Ctrl+S saves against the new version."
        )
        line.set_class(bool(missing), "-missing")

    @on(ConflictChoice.Chosen)
    def _chosen(self) -> None:
        self._show_missing()

    def action_all(self, choice: str) -> None:
        """Keep theirs (T) or use mine (M) for every field."""
        for row in self.query(ConflictChoice):
            row.action_choose(choice)
        self._show_missing()

    def action_save(self) -> None:
        """Dismiss with the choices, once every field that needs one has one."""
        missing = self.missing
        if missing:
            self.notify(
                f"Choose theirs or mine for: {', '.join(f.label for f in missing)}",
                severity="warning",
                timeout=4,
            )
            row = next(r for r in self.query(ConflictChoice) if r.field is missing[0])
            row.focus()
            return
        self.dismiss(self.choices)

    def action_back(self) -> None:
        """Back to the editor, nothing saved, nothing lost."""
        self.dismiss(None)

    @on(Button.Pressed, "#conflict-save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#conflict-back")
    def _back_pressed(self) -> None:
        self.action_back()
