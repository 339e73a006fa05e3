"""A live latency sparkline: one column per check, the newest at the right edge.

A failed check's latency is how long it took to fail (a timeout, a refused connection), not
a response time, so it is drawn as FAILED_MARK and left out of the scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

BARS = "▁▂▃▄▅▆▇█"
FAILED_MARK = "✕"
MIN_SPAN_FRACTION = 0.2


def sparkline_text(
    values: Sequence[float],
    width: int,
    style: Style | None = None,
    *,
    failed: Sequence[bool] = (),
    failed_style: Style | None = None,
) -> Text:
    """The newest ``width`` values as block characters, right-aligned in ``width`` cells.

    ``failed`` is aligned with ``values`` (missing entries count as answered); failed
    points are drawn as FAILED_MARK in ``failed_style``. The answered points are scaled
    between the smallest and largest of them on show, over a span of at least a fifth of
    the largest (and 1 ms): a steady service draws a flat low line instead of blowing
    12 ms vs 13 ms up into full-height spikes.
    """
    n = min(len(values), max(width, 0))
    shown = list(values[len(values) - n :])
    flags = list(failed)[: len(values)]
    flags = (flags + [False] * (len(values) - len(flags)))[len(values) - n :]
    text = Text(" " * (max(width, 0) - n), no_wrap=True, overflow="crop")
    answered = [v for v, bad in zip(shown, flags, strict=True) if not bad]
    if not shown:
        return text
    low, high = (min(answered), max(answered)) if answered else (0.0, 0.0)
    span = max(high - low, high * MIN_SPAN_FRACTION, 1.0)
    top = len(BARS) - 1
    for v, bad in zip(shown, flags, strict=True):
        if bad:
            text.append(FAILED_MARK, failed_style)
        else:
            text.append(BARS[max(0, min(int((v - low) / span * top + 0.5), top))], style)
    return text


class LatencySparkline(Widget):
    """The last checks' latencies, newest at the right edge (see ``sparkline_text``)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "latency-sparkline--bar",
        "latency-sparkline--failed",
    }

    DEFAULT_CSS = """
    LatencySparkline { height: 1; width: 1fr; }
    LatencySparkline > .latency-sparkline--bar { color: $primary; }
    LatencySparkline > .latency-sparkline--failed { color: $text-error; text-style: bold; }
    """

    def __init__(
        self,
        values: Sequence[float] = (),
        failed: Sequence[bool] = (),
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._values: list[float] = list(values)
        self._failed: list[bool] = list(failed)

    @property
    def values(self) -> list[float]:
        """All latencies held, oldest first."""
        return list(self._values)

    def set_values(self, values: Sequence[float], failed: Sequence[bool] = ()) -> None:
        """Replace the latencies (oldest first) and which of them failed; repaints on change."""
        if list(values) != self._values or list(failed) != self._failed:
            self._values = list(values)
            self._failed = list(failed)
            self.refresh()

    def render(self) -> RenderResult:
        """The newest ``width`` values as block characters, right-aligned."""
        return sparkline_text(
            self._values,
            self.size.width,
            self.get_component_rich_style("latency-sparkline--bar"),
            failed=self._failed,
            failed_style=self.get_component_rich_style("latency-sparkline--failed"),
        )
