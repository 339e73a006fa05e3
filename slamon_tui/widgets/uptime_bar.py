"""The 90-day bar of a dashboard row: one cell per UTC day, shaped (and, with the row's
styles, coloured) by the day's status."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.style import Style
from rich.text import Text

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
    # Runs of one status are appended at once: a 90-day bar is a few segments, not 90
    # (the dashboard draws thousands of these lines).
    run_key: str | None = None
    run = 0
    for i, cell in enumerate(cells):
        key = cell if cell in DAILY_GLYPHS else _NO_DATA
        if i == mark:
            if run:
                text.append(DAILY_GLYPHS[run_key or _NO_DATA] * run, styles.get(run_key or ""))
                run = 0
            style = styles.get(key)
            text.append(DAILY_GLYPHS[key], style + _MARK if style else _MARK)
            run_key = None
            continue
        if key != run_key and run:
            text.append(DAILY_GLYPHS[run_key or _NO_DATA] * run, styles.get(run_key or ""))
            run = 0
        run_key = key
        run += 1
    if run:
        text.append(DAILY_GLYPHS[run_key or _NO_DATA] * run, styles.get(run_key or ""))
    return text
