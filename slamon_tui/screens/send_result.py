"""What a test-send got back (issue 11, point 6): delivered or not, the status code, how
long it took, and the receiver's answer in full (the daemon masks it and keeps 500
characters), in a box that stays until closed: a toast would be gone before a long answer is
read."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static


def outcome_line(result: dict[str, Any]) -> str:
    """ "✓ delivered · code 200 · 12 ms" or "✕ NOT delivered · code 500 · 8 ms · HTTP 500"."""
    code = result.get("code")
    parts = [
        "✓ delivered" if result.get("ok") else "✕ NOT delivered",
        "no answer code" if code is None else f"code {code}",
        f"{float(result.get('latency_ms') or 0):.0f} ms",
    ]
    if not result.get("ok") and result.get("error"):
        parts.append(str(result["error"]))
    if result.get("retry_after_s"):
        parts.append(f"retry after {float(result['retry_after_s']):g} s")
    if result.get("permanent"):
        parts.append("refused for good: check the URL, key or token")
    return " · ".join(parts)


class SendResultDialog(ModalScreen[None]):
    """The result of ``alert.channel_test`` for one channel; Enter or Esc closes."""

    BINDINGS = [Binding("escape,enter", "close", "Close", key_display="Esc")]

    def __init__(self, channel_id: str, result: dict[str, Any]) -> None:
        super().__init__()
        self.channel_id = channel_id
        self.result = result

    @property
    def answer(self) -> str:
        """The receiver's answer as shown."""
        return str(self.result.get("answer") or "")

    def compose(self) -> ComposeResult:
        """The outcome, the answer, Close."""
        ok = bool(self.result.get("ok"))
        with Vertical(classes="form-box test-send-box" + ("" if ok else " -failed")) as box:
            box.border_title = f"Test-send through {self.channel_id}"
            box.border_subtitle = "Enter/Esc closes"
            yield Static(outcome_line(self.result), id="test-send-outcome")
            with VerticalScroll(classes="form-body"):
                yield Static(
                    "The receiver answered:" if self.answer else "The receiver sent no body.",
                    classes="form-note",
                )
                if self.answer:
                    yield Static(self.answer, id="test-send-answer", markup=False)
            with Horizontal(classes="form-buttons"):
                yield Button("Close", id="test-send-close", compact=True)

    def on_mount(self) -> None:
        """Close has the focus: Enter closes."""
        self.query_one("#test-send-close", Button).focus()

    @on(Button.Pressed, "#test-send-close")
    def action_close(self) -> None:
        """Back to the channels."""
        self.dismiss(None)
