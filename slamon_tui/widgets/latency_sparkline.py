"""A live latency sparkline: one column per check, the newest at the right edge."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

BARS = "▁▂▃▄▅▆▇█"
MIN_SPAN_FRACTION = 0.2


class LatencySparkline(Widget):
    """The last checks' latencies, scaled between the smallest and largest on show.

    The scale spans at least a fifth of the largest value (and 1 ms), so a steady service
    draws a flat low line instead of blowing 12 ms vs 13 ms up into full-height spikes.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"latency-sparkline--bar"}

    DEFAULT_CSS = """
    LatencySparkline { height: 1; width: 1fr; }
    LatencySparkline > .latency-sparkline--bar { color: $primary; }
    """

    def __init__(
        self, values: Sequence[float] = (), *, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._values: list[float] = list(values)

    @property
    def values(self) -> list[float]:
        """All latencies held, oldest first."""
        return list(self._values)

    def set_values(self, values: Sequence[float]) -> None:
        """Replace the latencies (oldest first); repaints only when they changed."""
        if list(values) != self._values:
            self._values = list(values)
            self.refresh()

    def render(self) -> RenderResult:
        """The newest ``width`` values as block characters, right-aligned."""
        width = self.size.width
        shown = self._values[-width:] if width > 0 else []
        text = Text(" " * (width - len(shown)), no_wrap=True, overflow="crop")
        if not shown:
            return text
        low, high = min(shown), max(shown)
        span = max(high - low, high * MIN_SPAN_FRACTION, 1.0)
        style = self.get_component_rich_style("latency-sparkline--bar")
        top = len(BARS) - 1
        bars = "".join(BARS[min(int((v - low) / span * top + 0.5), top)] for v in shown)
        text.append(bars, style)
        return text
