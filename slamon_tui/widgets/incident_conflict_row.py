"""One field of a save conflict: theirs (the incident now) above yours, and the choice.

Focusable; ``t``/← keeps theirs, ``m``/→ uses yours, ``b`` keeps both texts (free-text
fields changed on both sides). A field only someone else changed is shown for information:
theirs is kept and there is nothing to choose.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static

from slamon_tui.models.incidents import ConflictField, merged_text, value_text

MAX_VALUE_LINES = 6
"""Long texts are cut to this many lines here (the editor keeps them whole)."""
CHOICE_WORDS = {
    "theirs": "keep theirs",
    "yours": "use mine",
    "both": "keep both (theirs, then mine)",
}


def clip(text: str, lines: int = MAX_VALUE_LINES) -> str:
    """At most ``lines`` lines, with a note of how many more there are."""
    parts = text.splitlines() or [""]
    if len(parts) <= lines:
        return "\n".join(parts)
    return "\n".join(parts[:lines]) + f"\n… {len(parts) - lines} more lines"


class ConflictChoice(Static, can_focus=True):
    """The comparison and choice for one field."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "conflict-choice--label",
        "conflict-choice--theirs",
        "conflict-choice--yours",
        "conflict-choice--chosen",
        "conflict-choice--missing",
        "conflict-choice--muted",
    }
    BINDINGS = [
        Binding("t,left,h", "choose('theirs')", "Keep theirs", key_display="t"),
        Binding("m,right,l", "choose('yours')", "Use mine", key_display="m"),
        Binding("b", "choose('both')", "Keep both"),
        Binding("up,k", "app.focus_previous", "Previous field", show=False),
        Binding("down,j", "app.focus_next", "Next field", show=False),
    ]

    class Chosen(Message):
        """The user chose for a field."""

        def __init__(self, row: ConflictChoice) -> None:
            super().__init__()
            self.row = row

    def __init__(self, field: ConflictField, names: dict[str, str]) -> None:
        super().__init__("", classes="conflict-choice")
        self.field = field
        self.names = names
        self.choice: str | None = "yours" if field.kind == "yours" else None
        self.can_focus = field.needs_choice

    def on_mount(self) -> None:
        """Draw."""
        self._redraw()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """ "keep both" only for free text changed on both sides."""
        if action == "choose":
            if not self.field.needs_choice:
                return False
            if parameters and parameters[0] == "both":
                return self.field.can_keep_both
        return True

    def action_choose(self, choice: str) -> None:
        """Keep theirs, use mine, or keep both."""
        if not self.field.needs_choice or (choice == "both" and not self.field.can_keep_both):
            return
        self.choice = choice
        self._redraw()
        self.post_message(self.Chosen(self))

    def on_focus(self) -> None:
        """Keep the focused field on screen; draw the cursor once focus is settled."""
        self.scroll_visible()
        self.call_after_refresh(self._redraw_if_shown)

    def on_blur(self) -> None:
        """Redraw without the cursor."""
        self.call_after_refresh(self._redraw_if_shown)

    def _redraw_if_shown(self) -> None:
        # The dialog may have closed between the focus change and this refresh.
        if self.is_attached and self.screen.is_active:
            self._redraw()

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"conflict-choice--{name}", partial=True)

    def _value(self, value: Any) -> str:
        return clip(value_text(self.field.name, value, self.names))

    def _redraw(self) -> None:
        f = self.field
        text = Text()
        cursor = "▸ " if self.has_focus else "  "
        text.append(cursor + f.label, self._style("label"))
        if f.kind == "both":
            text.append(" · changed by them and by you", self._style("muted"))
        elif f.kind == "yours":
            text.append(" · only you changed it", self._style("muted"))
        elif f.kind == "same":
            text.append(" · you both made the same change", self._style("muted"))
        if f.name == "updates":
            text.append(
                " · someone added to the timeline: kept (updates never overwrite anything)\n",
                self._style("muted"),
            )
            self.update(text)
            return
        if f.kind == "theirs":
            text.append(" · only they changed it: theirs is kept\n", self._style("muted"))
            text.append("    theirs: ", self._style("theirs"))
            text.append(self._value(f.theirs) + "\n")
            self.update(text)
            return
        text.append("\n    theirs: ", self._style("theirs"))
        text.append(self._indent(self._value(f.theirs)) + "\n")
        text.append("    yours:  ", self._style("yours"))
        text.append(self._indent(self._value(f.yours)) + "\n")
        if f.kind == "same":
            self.update(text)
            return
        text.append("    ")
        options = ["theirs", "yours"] + (["both"] if f.can_keep_both else [])
        for i, option in enumerate(options):
            chosen = self.choice == option
            mark = "●" if chosen else "○"
            key = {"theirs": "t", "yours": "m", "both": "b"}[option]
            text.append(
                f"{mark} {CHOICE_WORDS[option]} ({key})",
                self._style("chosen") if chosen else Style(),
            )
            if i < len(options) - 1:
                text.append("   ")
        if self.choice is None:
            text.append("   ← choose one", self._style("missing"))
        elif self.choice == "both":
            merged = clip(merged_text(f.theirs, f.yours), 3)
            text.append("\n    saves:  ", self._style("muted"))
            text.append(self._indent(merged))
        self.update(text)

    @staticmethod
    def _indent(value: str) -> str:
        return value.replace("\n", "\n            ")
