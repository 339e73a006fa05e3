"""Daily status by month, a small grid per month like a contribution graph: one row per
weekday (Monday first), one column per week, one cell per day with the 90-day bar's glyphs
and colours; days after today ("future") and outside the month are blank."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from slamon_tui.formatting import DAILY_GLYPHS, DAILY_WORDS

WEEKDAYS = "MTWTFSS"
MONTH_WIDTH = 12  # six week columns of "g "
MONTH_GAP = "  "
LABEL_WIDTH = 2
_FUTURE = "future"
Cell = dict[str, Any] | None


def month_weeks(days: Sequence[dict[str, Any]]) -> list[list[Cell]]:
    """The month's days as week columns of 7 cells (Mon..Sun), None outside the month."""
    if not days:
        return []
    offset = date.fromisoformat(str(days[0]["day"])).weekday()
    cells: list[Cell] = [None] * offset + list(days)
    cells += [None] * (-len(cells) % 7)
    return [cells[i : i + 7] for i in range(0, len(cells), 7)]


def calendar_text(
    months: Sequence[dict[str, Any]], styles: Mapping[str, Style], width: int = 80
) -> Text:
    """The grids side by side with month titles above, and the legend below, its items
    packed into lines of at most ``width`` cells (never broken inside an item)."""
    text = Text(no_wrap=True, overflow="crop")
    text.append(" " * (LABEL_WIDTH + 1))
    grids = []
    for month in months:
        first = date.fromisoformat(f"{month['month']}-01")
        text.append(f"{first:%b %Y}".center(MONTH_WIDTH) + MONTH_GAP, style="bold")
        grids.append(month_weeks(month.get("days") or []))
    for weekday, label in enumerate(WEEKDAYS):
        text.append("\n" + label.ljust(LABEL_WIDTH) + " ", style="dim")
        for weeks in grids:
            for week in weeks:
                cell = week[weekday]
                status = str(cell["status"]) if cell else _FUTURE
                if status == _FUTURE:
                    text.append("  ")
                else:
                    key = status if status in DAILY_GLYPHS else "nd"
                    text.append(DAILY_GLYPHS[key], styles.get(key))
                    text.append(" ")
            text.append(" " * (MONTH_WIDTH - 2 * len(weeks)) + MONTH_GAP)
    used = width  # forces a new line before the first item
    for key, glyph in DAILY_GLYPHS.items():
        item = f"{glyph} {DAILY_WORDS[key]}"
        if used + 2 + len(item) > width:
            text.append("\n")
            used = -2
        else:
            text.append("  ")
        text.append(glyph, styles.get(key))
        text.append(f" {DAILY_WORDS[key]}", style="dim")
        used += 2 + len(item)
    return text


class StatusCalendar(Widget):
    """The calendar of service.calendar; ``show`` replaces the months."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {f"status-calendar--{key}" for key in DAILY_GLYPHS}

    DEFAULT_CSS = """
    StatusCalendar { height: auto; }
    StatusCalendar > .status-calendar--o { color: $success; }
    StatusCalendar > .status-calendar--degraded { color: $warning 70%; }
    StatusCalendar > .status-calendar--po { color: $warning; }
    StatusCalendar > .status-calendar--mo { color: $error; }
    StatusCalendar > .status-calendar--nd { color: $foreground-muted; }
    StatusCalendar > .status-calendar--maintenance { color: $primary; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.months: list[dict[str, Any]] | None = None

    def show(self, months: Sequence[dict[str, Any]]) -> None:
        """Show service.calendar's ``months`` (oldest first)."""
        self.months = list(months)
        self.refresh(layout=True)

    def render(self) -> Text:
        """The grids and the legend, laid out for the current width."""
        if self.months is None:
            return Text("Loading…", style="dim")
        styles = {
            key: self.get_component_rich_style(f"status-calendar--{key}") for key in DAILY_GLYPHS
        }
        return calendar_text(self.months, styles, self.content_size.width or 80)
