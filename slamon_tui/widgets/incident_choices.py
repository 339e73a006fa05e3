"""Form controls of the incident forms whose state reads without colour.

Textual's checkbox and selection list draw the same "X" ticked or not (only its colour
changes); here a ticked box shows "✓" and an empty one nothing, and a chosen service says
"affected" after its name.
"""

from __future__ import annotations

from textual import on
from textual.widgets import SelectionList

from slamon_tui.widgets.marked_checkbox import MarkedCheckbox

__all__ = ["MarkedCheckbox", "ServicePicker"]


class ServicePicker(SelectionList[str]):
    """The affected services: Space ticks one, and a ticked one says "✓ affected"."""

    def __init__(
        self, services: list[tuple[str, str]], chosen: set[str], *, id: str | None = None
    ) -> None:
        self.labels = {sid: (f"{name} ({sid})" if name != sid else sid) for sid, name in services}
        super().__init__(
            *[(self._prompt(sid, sid in chosen), sid, sid in chosen) for sid, _ in services],
            id=id,
            compact=True,
        )

    def _prompt(self, sid: str, chosen: bool) -> str:
        label = self.labels.get(sid, sid)
        return f"{label}  ✓ affected" if chosen else label

    @on(SelectionList.SelectedChanged)
    def _relabel(self) -> None:
        chosen = set(self.selected)
        for index in range(self.option_count):
            sid = self.get_option_at_index(index).value
            prompt = self._prompt(sid, sid in chosen)
            if str(self.get_option_at_index(index).prompt) != prompt:
                self.replace_option_prompt_at_index(index, prompt)
