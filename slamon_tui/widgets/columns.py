"""The dashboard's column geometry, shared by the header and every service row.

Rows are drawn as one line of text each (one widget per service rather than one per cell:
a NOC screen with hundreds of services then stays cheap to lay out), so the widths live
here rather than in CSS. The bar grows from 30 to 60 to 90 days with the screen; the name
column takes the longest name's width before the sparkline gets what is left.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

CURSOR_WIDTH = 2  # "▸ " on the cursor row
UPTIME_WIDTH = 7  # "100.00%", as the daemon sends it
LATENCY_WIDTH = 9  # a space and up to 8 cells: "12345 ms", "HTTP 503", "conn err"
GAP = 1

# A 90-day row needs about 160 cells (name, status, bar, uptime, latency, some sparkline);
# a 60-day row about 125.
MEDIUM_WIDTH = 125
WIDE_WIDTH = 165
MAX_SPARK = 60  # status.get sends at most 60 latencies
MIN_SPARK = 5


@dataclass(frozen=True, slots=True)
class Columns:
    """Widths of the fixed columns; the sparkline takes what is left of the line."""

    window: int = 30
    name: int = 10
    status: int = 13
    short_words: bool = True
    spark_gap: int = 1

    @property
    def fixed(self) -> int:
        """Cells used before the sparkline, its leading gap included."""
        return (
            CURSOR_WIDTH
            + self.name
            + GAP
            + self.status
            + GAP
            + self.window
            + GAP
            + UPTIME_WIDTH
            + LATENCY_WIDTH
            + self.spark_gap
        )

    def spark_width(self, line_width: int) -> int:
        """Cells left for the sparkline on a line ``line_width`` cells wide (none when fewer
        than MIN_SPARK are left: a trend of two points says nothing)."""
        room = min(line_width - self.fixed, MAX_SPARK)
        return room if room >= MIN_SPARK else 0


MIN_NAME = 10
MAX_NAME = 40
"""The name column is as wide as the longest name, within these (issue 12: names get the
width they need before the sparkline gets any; one that still does not fit ends in "…")."""


def columns_for(width: int, name_need: int | None = None) -> Columns:
    """The columns for lines ``width`` cells wide: a 30, 60 or 90-day bar, and a name
    column ``name_need`` wide (the longest name) as far as the line allows."""
    if width >= WIDE_WIDTH:
        tier = Columns(window=90, name=0, status=16, short_words=False, spark_gap=2)
    elif width >= MEDIUM_WIDTH:
        tier = Columns(window=60, name=0, status=16, short_words=False, spark_gap=2)
    else:
        tier = Columns(name=0)
    if name_need is None:
        name_need = {90: 24, 60: 20}.get(tier.window, MIN_NAME)
    room = width - (tier.fixed - tier.spark_gap)  # no gap is drawn without a sparkline
    name = max(MIN_NAME, min(name_need, MAX_NAME, room))
    return Columns(
        window=tier.window,
        name=name,
        status=tier.status,
        short_words=tier.short_words,
        spark_gap=tier.spark_gap,
    )


def fit(text: str, width: int, *, right: bool = False) -> Text:
    """``text`` cut with "…" or padded to exactly ``width`` cells."""
    out = Text(text, no_wrap=True, overflow="ellipsis", end="")
    out.truncate(width, overflow="ellipsis")
    pad = width - out.cell_len
    if pad > 0:
        if right:
            out = Text(" " * pad, end="") + out
        else:
            out.append(" " * pad)
    return out
