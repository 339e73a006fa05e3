"""The dashboard's column geometry, shared by the header and every service row.

Rows are drawn as one line of text each (one widget per service rather than one per cell:
a NOC screen with hundreds of services then stays cheap to lay out), so the widths live
here rather than in CSS. The bar grows from 30 to 60 to 90 days with the screen.
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
        """Cells left for the sparkline on a line ``line_width`` cells wide."""
        return max(0, min(line_width - self.fixed, MAX_SPARK))


def columns_for(width: int) -> Columns:
    """The columns for a screen ``width`` cells wide: a 30, 60 or 90-day bar."""
    if width >= WIDE_WIDTH:
        return Columns(window=90, name=24, status=16, short_words=False, spark_gap=2)
    if width >= MEDIUM_WIDTH:
        return Columns(window=60, name=20, status=16, short_words=False, spark_gap=2)
    return Columns()


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
