"""A live latency sparkline: one column per check, the newest at the right edge."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

BARS = "▁▂▃▄▅▆▇█"
MIN_SPAN_FRACTION = 0.2


def sparkline_text(values: Sequence[float], width: int, style: Style | None = None) -> Text:
    """The newest ``width`` values as block characters, right-aligned in ``width`` cells.

    Scaled between the smallest and largest value on show, over a span of at least a fifth
    of the largest (and 1 ms): a steady service draws a flat low line instead of blowing
    12 ms vs 13 ms up into full-height spikes.
    """
    shown = list(values[-width:]) if width > 0 else []
    text = Text(" " * (max(width, 0) - len(shown)), no_wrap=True, overflow="crop")
    if not shown:
        return text
    low, high = min(shown), max(shown)
    span = max(high - low, high * MIN_SPAN_FRACTION, 1.0)
    top = len(BARS) - 1
    text.append("".join(BARS[min(int((v - low) / span * top + 0.5), top)] for v in shown), style)
    return text


class LatencySparkline(Widget):
    """The last checks' latencies, newest at the right edge (see ``sparkline_text``)."""

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
        style = self.get_component_rich_style("latency-sparkline--bar")
        return sparkline_text(self._values, self.size.width, style)
