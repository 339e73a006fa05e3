"""A one-question dialog: leave a form and lose what was typed? (y / n, Esc keeps editing)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmDiscardScreen(ModalScreen[bool]):
    """Dismissed with True to discard, False to keep editing."""

    BINDINGS = [
        Binding("y", "answer(True)", "Discard"),
        Binding("n,escape", "answer(False)", "Keep editing"),
    ]

    def __init__(self, what: str = "your changes") -> None:
        super().__init__()
        self.what = what

    def compose(self) -> ComposeResult:
        """The question and the keys."""
        with Vertical(id="discard-box") as box:
            box.border_title = "Leave without saving?"
            yield Static(f"Discard {self.what}?\n\ny  discard and leave\nn  keep editing (Esc)")

    def action_answer(self, discard: bool) -> None:
        """Close with the answer."""
        self.dismiss(discard)
