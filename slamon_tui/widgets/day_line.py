"""The line under the dashboard's list: the day under the bar's day cursor, for the row
with the cursor (date, status, uptime, downtime, outage episodes from ``service.day``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from slamon_daemon.text import duration, percent
from slamon_tui.formatting import DAILY_GLYPHS, day_word


@dataclass(frozen=True, slots=True)
class DayView:
    """What the line is about: ``cell`` is the bar's status of ``day``; ``detail`` the
    service.day answer once it came, ``problem`` why it could not be had."""

    day: str
    days_back: int
    cell: str
    detail: dict[str, Any] | None = None
    problem: str | None = None


def day_line_text(
    view: DayView, *, compact: bool = False, styles: Mapping[str, Style] | None = None
) -> Text:
    """The line for ``view``; ``compact`` leaves out "(2 days ago)" and shortens words.

    The status is the bar's cell, so the line always agrees with the marked cell (and is
    drawn in its ``styles``, keyed by daily status like the bar's).
    """
    try:
        when = date.fromisoformat(view.day).strftime("%a %d %b %Y")
    except ValueError:
        when = view.day
    back = view.days_back
    ago = "today" if back == 0 else "yesterday" if back == 1 else f"{back} days ago"
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    text.append(when if compact and back else f"{when} ({ago})", style="bold")
    text.append(" · ")
    text.append(day_word(view.cell), (styles or {}).get(view.cell))
    detail = view.detail
    if detail is not None:
        down = duration(float(detail.get("downtime_s") or 0))
        episodes = len(detail.get("episodes") or [])
        outages = {0: "no outages", 1: "1 outage"}.get(episodes, f"{episodes} outages")
        text.append(f" · uptime {percent(detail.get('uptime'))}")
        text.append(f" · {'down' if compact else 'downtime'} {down} · {outages}")
    elif view.problem:
        text.append(f" · {view.problem}", style="italic")
    else:
        text.append(" · uptime …", style="dim")
    return text


class DayLine(Widget):
    """One line about the day under the day cursor; ``show`` replaces what it is about."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {f"day-line--{key}" for key in DAILY_GLYPHS}

    DEFAULT_CSS = """
    DayLine { height: 1; padding: 0 1; }
    DayLine > .day-line--o { color: $success; }
    DayLine > .day-line--degraded { color: $warning 70%; }
    DayLine > .day-line--po { color: $warning; }
    DayLine > .day-line--mo { color: $error; }
    DayLine > .day-line--nd { color: $foreground-muted; }
    DayLine > .day-line--maintenance { color: $primary; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view: DayView | None = None

    def show(self, view: DayView) -> None:
        """Show ``view``; repaints only when it changed."""
        if view != self.view:
            self.view = view
            self.refresh()

    @property
    def plain(self) -> str:
        """The line as drawn at the current width, as plain text."""
        return self.render().plain

    def render(self) -> Text:
        """The full line, or the compact one when the full one does not fit."""
        if self.view is None:
            return Text()
        styles = {key: self.get_component_rich_style(f"day-line--{key}") for key in DAILY_GLYPHS}
        text = day_line_text(self.view, styles=styles)
        if text.cell_len > self.content_size.width:
            text = day_line_text(self.view, compact=True, styles=styles)
        return text
