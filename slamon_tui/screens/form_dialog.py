"""Dialogs of the admin screen: a form that saves over the feed, and a yes/no question.

A form is keyboard first: Tab moves through the fields in order, Enter in any text field
saves, Escape cancels (asking first when something typed would be lost). Problems come back from the daemon as the error's ``fields`` and are
shown under each field; anything not tied to a field goes to the line above the buttons.
A saved form is dismissed with the daemon's result.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Select, Static, Switch

from slamon_tui.client import FeedCallError, FeedClientError
from slamon_tui.screens.confirm_discard import ConfirmDiscardScreen
from slamon_tui.types import FeedCall
from slamon_tui.widgets.form_field import FormField, field_problem


class FormInvalid(Exception):
    """Raised by ``FormDialog.save`` after it showed a problem found before asking."""


class FormDialog(ModalScreen[Any]):
    """Base of the admin forms: subclasses give ``form_fields()`` and ``save()``."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", key_display="Esc"),
        Binding("ctrl+s", "save", "Save", key_display="^s"),
    ]
    save_label = "Save"
    conflict_field: str | None = None
    """Where a ``conflict`` error is shown (e.g. a username that exists)."""
    dense = False
    """No blank line between fields (long forms at 24 lines)."""
    CHROME_LINES = 6
    """Lines of the box that are not the fields: borders, problem line, buttons."""
    read_only = False
    """Only shown (e.g. what the config file defines): no Save, Esc closes, the body takes
    the focus so ↑/↓ scroll it. Subclasses disable their controls."""

    def __init__(self, call: FeedCall, title: str) -> None:
        super().__init__()
        self._call = call
        self._title = title
        self.busy = False

    # --- what subclasses give ------------------------------------------------------------------

    def form_fields(self) -> Iterable[Widget]:
        """The FormFields (and any notes) in tab order."""
        raise NotImplementedError

    async def save(self) -> Any:
        """Check the values, call the daemon, return the result (FormInvalid: shown already)."""
        raise NotImplementedError

    # --- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """The fields, the general problem line, Save / Cancel and the keys."""
        with Vertical(classes="form-box -dense" if self.dense else "form-box") as box:
            box.border_title = self._title
            box.border_subtitle = "Esc closes" if self.read_only else "Enter saves · Esc cancels"
            with VerticalScroll(classes="form-body"):
                yield from self.form_fields()
            error = Static("", id="form-error")
            error.display = False
            yield error
            with Horizontal(classes="form-buttons"):
                save = Button(self.save_label, variant="primary", id="form-save", compact=True)
                save.display = not self.read_only
                yield save
                yield Button(
                    "Close" if self.read_only else "Cancel", id="form-cancel", compact=True
                )

    def on_resize(self) -> None:
        """The fields scroll when the box would not fit: the buttons stay on screen."""
        body = self.query_one(".form-body", VerticalScroll)
        body.styles.max_height = max(3, self.size.height - self.CHROME_LINES)

    def on_mount(self) -> None:
        """Start in the first field that takes input; remember what the fields hold."""
        if self.read_only:
            self.query_one(".form-body", VerticalScroll).focus()
        for field in self.query(FormField):
            if field.control.focusable and not field.control.disabled:
                field.control.focus()
                break
        self._opened_with = self._values()

    def _values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field in self.query(FormField):
            try:
                out[field.key] = self.value(field.key)
            except TypeError:
                continue  # a control without a value
        return out

    @property
    def dirty(self) -> bool:
        """Whether a field holds something other than what the form opened with."""
        return self._values() != getattr(self, "_opened_with", {})

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Nothing to save in a form that is only shown."""
        return not (action == "save" and self.read_only)

    # --- values and problems -----------------------------------------------------------------

    def field(self, key: str) -> FormField:
        """The field filling the parameter ``key``."""
        return self.query_one(f"#field-{key}", FormField)

    def value(self, key: str) -> Any:
        """The value of a field: stripped text, the chosen option, or a checkbox's state."""
        control = self.field(key).control
        if isinstance(control, Input):
            return control.value.strip()
        if isinstance(control, Select):
            return None if control.value is Select.NULL else control.value
        if isinstance(control, Checkbox | Switch):
            return control.value
        raise TypeError(f"no value for {type(control).__name__}")

    def problem(self, key: str, text: str) -> FormInvalid:
        """Show ``text`` under the field ``key``; return FormInvalid to raise."""
        self.field(key).show_error(text)
        return FormInvalid(text)

    @property
    def error_text(self) -> str:
        """The general problem line ("" when hidden)."""
        line = self.query_one("#form-error", Static)
        return str(line.content).removeprefix("✕ ") if line.display else ""

    def show_general(self, text: str | None) -> None:
        """Show (or hide) the problem that belongs to no field."""
        line = self.query_one("#form-error", Static)
        line.update(f"✕ {text}" if text else "")
        line.display = bool(text)

    def clear_problems(self) -> None:
        """Hide every problem line."""
        for field in self.query(FormField):
            field.show_error(None)
        self.show_general(None)

    def show_call_error(self, exc: FeedCallError) -> None:
        """Put the daemon's per-field problems under their fields, the rest above the buttons."""
        keys = {f.key for f in self.query(FormField)}
        rest: list[str] = []
        first: FormField | None = None
        for name, message in exc.fields.items():
            key = name.split(".")[0]
            if key in keys:
                field = self.field(key)
                field.show_error(field_problem(key, message))
                first = first or field
            else:
                rest.append(f"{name}: {field_problem(name, message)}")
        if not exc.fields and exc.code == "conflict" and self.conflict_field in keys:
            first = self.field(str(self.conflict_field))
            first.show_error(exc.message)
        elif not exc.fields:
            rest.append(exc.message)
        self.show_general("; ".join(rest) if rest else None)
        if first is not None and first.control.focusable:
            first.control.focus()

    # --- saving ------------------------------------------------------------------------------

    @on(Input.Submitted)
    def _enter(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    @on(Button.Pressed, "#form-save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#form-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_cancel(self) -> None:
        """Close without saving; asks first when something typed would be lost (issue 12)."""
        if not self.dirty:
            self.dismiss(None)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(ConfirmDiscardScreen("what you typed in this form"), answered)

    @work(exclusive=True, group="form", exit_on_error=False)
    async def action_save(self) -> None:
        """Save: local checks, then the daemon; close on success, show problems otherwise."""
        if self.busy or self.read_only:
            return
        self.busy = True
        button = self.query_one("#form-save", Button)
        button.disabled = True
        self.clear_problems()
        try:
            result = await self.save()
        except FormInvalid:
            return
        except FeedCallError as exc:
            self.show_call_error(exc)
            return
        except FeedClientError as exc:
            self.show_general(f"cannot reach the daemon: {exc}")
            return
        finally:
            self.busy = False
            button.disabled = False
        self.dismiss(result)


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question: y or Enter on Yes confirms, n or Escape declines."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No", key_display="n/Esc"),
    ]

    def __init__(self, question: str, yes: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        """The question and two buttons."""
        with Vertical(classes="confirm-box") as box:
            box.border_title = "Confirm"
            box.border_subtitle = "y yes · n/Esc no"
            yield Static(self.question, classes="confirm-question")
            with Horizontal(classes="form-buttons"):
                yield Button(self.yes, variant="error", id="confirm-yes", compact=True)
                yield Button("No", id="confirm-no", compact=True)

    def on_mount(self) -> None:
        """No is the safe default."""
        self.query_one("#confirm-no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, yes: bool) -> None:
        """Close with the answer."""
        self.dismiss(yes)
