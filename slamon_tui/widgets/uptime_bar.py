"""The 90-day bar: one cell per UTC day, coloured and shaped by the day's status."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from slamon_tui.formatting import DAILY_GLYPHS

_NO_DATA = "nd"


def bar_cells(daily: Sequence[str], window: int) -> list[str]:
    """The last ``window`` daily statuses, oldest first, padded on the left with "nd"."""
    shown = list(daily[-window:]) if window > 0 else []
    return [_NO_DATA] * (window - len(shown)) + shown


_MARK = Style(reverse=True)


def bar_text(cells: Sequence[str], styles: Mapping[str, Style], *, mark: int | None = None) -> Text:
    """One glyph per day; ``styles`` maps a daily status (o, po, mo, nd, maintenance) to its style.

    The cell at index ``mark`` (the day cursor) is drawn in reverse video.
    """
    text = Text(no_wrap=True, overflow="crop")
    for i, cell in enumerate(cells):
        key = cell if cell in DAILY_GLYPHS else _NO_DATA
        style = styles.get(key)
        if i == mark:
            style = style + _MARK if style else _MARK
        text.append(DAILY_GLYPHS[key], style)
    return text


class UptimeBar(Widget):
    """The last ``window`` days of a service's daily statuses, oldest left, today right."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "uptime-bar--o",
        "uptime-bar--po",
        "uptime-bar--mo",
        "uptime-bar--nd",
        "uptime-bar--maintenance",
    }

    DEFAULT_CSS = """
    UptimeBar { height: 1; width: 30; }
    UptimeBar > .uptime-bar--o { color: $success; }
    UptimeBar > .uptime-bar--po { color: $warning; }
    UptimeBar > .uptime-bar--mo { color: $error; }
    UptimeBar > .uptime-bar--nd { color: $foreground-muted; }
    UptimeBar > .uptime-bar--maintenance { color: $primary; }
    """

    def __init__(
        self,
        daily: Sequence[str] = (),
        window: int = 30,
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._daily: list[str] = list(daily)
        self._window = window
        self.styles.width = window

    @property
    def window(self) -> int:
        """How many days the bar shows."""
        return self._window

    @property
    def cells(self) -> list[str]:
        """The daily statuses on show, oldest first, padded with "nd" to ``window``."""
        return bar_cells(self._daily, self._window)

    def set_window(self, window: int) -> None:
        """Show the last ``window`` days."""
        if window != self._window:
            self._window = window
            self.styles.width = window
            self.refresh()

    def set_daily(self, daily: Sequence[str]) -> None:
        """Replace the daily statuses (oldest first); repaints only when they changed."""
        if list(daily) != self._daily:
            self._daily = list(daily)
            self.refresh()

    def render(self) -> RenderResult:
        """One glyph per day, styled by the day's status."""
        styles = {key: self.get_component_rich_style(f"uptime-bar--{key}") for key in DAILY_GLYPHS}
        return bar_text(self.cells, styles)
