"""One field of a form: its label, the control, and the daemon's problem with it underneath.

The admin forms name each field after the feed parameter it fills (``url``, ``role`` …), so
an error reply's ``fields`` lands next to the right control.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Label, Static


def field_problem(name: str, message: str) -> str:
    """The daemon's problem without the parameter name it starts with (shown beside it)."""
    for prefix in (f'"{name}": ', f'"{name}" '):
        if message.startswith(prefix):
            rest = message[len(prefix) :]
            return rest if prefix.endswith(": ") else f"{name} {rest}"
    return message


class FormField(Vertical):
    """``label`` and ``control`` on one line; a problem line under them when there is one."""

    def __init__(self, key: str, label: str, control: Widget, *, hint: str = "") -> None:
        super().__init__(classes="form-field", id=f"field-{key}")
        self.key = key
        self.label = label
        self.control = control
        self.hint = hint

    def compose(self) -> ComposeResult:
        """Label, control, then the hint and the (hidden) problem line."""
        with Horizontal(classes="form-row"):
            yield Label(self.label, classes="form-label")
            yield self.control
        if self.hint:
            yield Static(self.hint, classes="form-hint")
        error = Static("", classes="form-error")
        error.display = False
        yield error

    @property
    def error_text(self) -> str:
        """The problem shown ("" when none)."""
        line = self.query_one(".form-error", Static)
        return str(line.content).removeprefix("✕ ") if line.display else ""

    def show_error(self, problem: str | None) -> None:
        """Show ``problem`` under the field (None or "" hides it)."""
        line = self.query_one(".form-error", Static)
        line.update(f"✕ {problem}" if problem else "")
        line.display = bool(problem)
        self.set_class(bool(problem), "-invalid")
