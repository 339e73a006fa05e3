"""A checkbox whose state reads without colour (issue 12: checkboxes by symbol).

Textual's checkbox draws the same "X" ticked or not (only its colour changes): under
NO_COLOR, or for someone who cannot tell the colours apart, every box looks ticked. This one
shows "✓" when ticked and an empty box when not.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Checkbox


class MarkedCheckbox(Checkbox):
    """A checkbox showing ✓ when ticked and an empty box when not."""

    @property
    def BUTTON_INNER(self) -> str:  # type: ignore[override]  # noqa: N802 - Textual reads it by name
        return "✓" if self.value else " "

    def render(self) -> Content:
        """The box alone when there is no label: Textual pads even an empty label with two
        spaces its width leaves out, which cut the box to "▐✓…" in the forms."""
        if not self.label:
            return self._button
        return super().render()
