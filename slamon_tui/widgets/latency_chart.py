"""The detail screen's latency chart: range tabs and legend, braille lines (see chart.py)
with a y axis in ms, an x axis marking failed buckets (✕) and gaps (·), and time labels."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from slamon_daemon.models import parse_ts
from slamon_tui.chart import SERIES, plot

RANGES = ("1h", "24h", "7d", "30d")
"""The ranges of service.series, in the order of keys 1-4."""
Y_GUTTER = 9  # "1500 ms ┤"
FAILED_MARK = "✕"
GAP_MARK = "·"
LINES = tuple(key.removesuffix("_ms") for key in SERIES)  # "p50", "p95", "p99"


def axis_label(ms: float) -> str:
    """A y-axis label: "0", "80 ms", "2.5 ms", "1.5 s"."""
    if ms == 0:
        return "0"
    if ms >= 1000:
        return f"{ms / 1000:g} s"
    return f"{ms:g} ms"


def time_labels(series: dict[str, Any]) -> tuple[str, str, str]:
    """The x axis' (start, middle, end) times, UTC: "22:11" over an hour, "Nov 20 23:15"
    at the ends of a day (whose two ends share a clock time), "Nov 14" beyond."""
    points = series.get("points") or []
    if not points:
        return "", "", ""
    start = parse_ts(str(points[0]["t"]))
    end = parse_ts(str(points[-1]["t"])) + timedelta(seconds=int(series.get("bucket_s") or 0))
    middle = start + (end - start) / 2
    span = end - start
    if span < timedelta(hours=12):
        ends = inner = "%H:%M"
    elif span <= timedelta(days=1):
        ends, inner = "%b %d %H:%M", "%H:%M"
    else:
        ends = inner = "%b %d"
    return start.strftime(ends), middle.strftime(inner), end.strftime(ends) + " UTC"


class LatencyChart(Widget):
    """p50/p95/p99 over the chosen range; ``show`` sets the data, ``set_range`` the tab."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "latency-chart--p50",
        "latency-chart--p95",
        "latency-chart--p99",
        "latency-chart--axis",
        "latency-chart--failed",
        "latency-chart--tab",
        "latency-chart--tab-selected",
    }

    DEFAULT_CSS = """
    LatencyChart { height: 12; text-wrap: nowrap; text-overflow: clip; }
    LatencyChart > .latency-chart--p50 { color: $text-primary; }
    LatencyChart > .latency-chart--p95 { color: $text-accent; }
    LatencyChart > .latency-chart--p99 { color: $text-error; }
    LatencyChart > .latency-chart--axis { color: $foreground-muted; }
    LatencyChart > .latency-chart--failed { color: $text-error; text-style: bold; }
    LatencyChart > .latency-chart--tab { color: $foreground-muted; }
    LatencyChart > .latency-chart--tab-selected { text-style: bold reverse; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.range = "24h"
        self.series: dict[str, Any] | None = None
        self.note = "Loading…"

    def set_range(self, rng: str) -> None:
        """Show ``rng`` as the chosen tab (the data follows with ``show``)."""
        self.range = rng
        self.refresh()

    def show(self, series: dict[str, Any] | None, note: str = "") -> None:
        """Draw a service.series result (None: nothing yet, ``note`` says why)."""
        self.series, self.note = series, note
        self.refresh()

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"latency-chart--{name}", partial=True)

    def title_line(self, width: int | None = None) -> Text:
        """ "Latency  1h [24h] 7d 30d   ⠤ p50 ⠤ p95 ⠤ p99  ✕ failed · no checks".

        Within ``width`` cells: the marks' words, then the marks, go first when short of room
        (the help explains them too).
        """
        for detail in (2, 1, 0):
            line = self._title(detail)
            if width is None or line.cell_len <= width:
                break
        return line

    def _title(self, detail: int) -> Text:
        line = Text("Latency ", style="bold", no_wrap=True, overflow="crop", end="")
        for rng in RANGES:
            if rng == self.range:
                line.append(f"[{rng}]", self._style("tab-selected"))
            else:
                line.append(f" {rng} ", self._style("tab"))
        line.append("  ")
        for name in LINES:
            line.append("⠤⠤", self._style(name))
            line.append(f" {name} ")
        if detail:
            line.append(f" {FAILED_MARK}", self._style("failed"))
            line.append(" failed " if detail > 1 else " ")
            line.append(GAP_MARK, self._style("axis"))
            line.append(" no checks" if detail > 1 else "")
        line.rstrip()
        return line

    def render(self) -> Text:
        """Title, chart rows with the y axis, the x axis and the time labels."""
        width = max(self.content_size.width - Y_GUTTER, 4)
        rows = max(self.content_size.height - 3, 2)
        out = self.title_line(self.content_size.width)
        points = (self.series or {}).get("points") or []
        if not any(int(p.get("checks") or 0) for p in points):
            note = self.note or "No checks in this range."
            out.append("\n" + "\n" * (rows // 2) + " " * Y_GUTTER + note)
            return out
        chart = plot(points, width, rows)
        axis = self._style("axis")
        labels = {0: axis_label(chart.top), rows // 2: axis_label(chart.top / 2)}
        labels[rows - 1] = "0"
        if not any(owner is not None for row in chart.owners for owner in row):
            # Checks, but none answered: no scale to show; the axis still marks the failures.
            note = "Every check in this range failed: no response times to draw."
            chart.rows[rows // 2] = note[:width].ljust(width)
            labels = {rows - 1: "0"}
        for r, (chars, owners) in enumerate(zip(chart.rows, chart.owners, strict=True)):
            label = labels.get(r)
            out.append("\n")
            out.append(f"{label:>{Y_GUTTER - 2}} ┤" if label else " " * (Y_GUTTER - 1) + "│", axis)
            for ch, owner in zip(chars, owners, strict=True):
                out.append(ch, self._style(LINES[owner]) if owner is not None else None)
        out.append("\n" + " " * (Y_GUTTER - 1) + "└", axis)
        for failed, empty in zip(chart.failed, chart.empty, strict=True):
            if failed:
                out.append(FAILED_MARK, self._style("failed"))
            else:
                out.append(GAP_MARK if empty else "─", axis)
        start, middle, end = time_labels(self.series or {})
        scale = [" "] * width
        for text, at in ((start, 0), (middle, (width - len(middle)) // 2), (end, width - len(end))):
            if width >= len(start) + len(middle) + len(end) + 4 or text is not middle:
                scale[max(at, 0) : max(at, 0) + len(text)] = text
        out.append("\n" + " " * Y_GUTTER + "".join(scale)[:width], axis)
        return out
