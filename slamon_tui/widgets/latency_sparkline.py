"""The latency sparkline of a dashboard row: one column per check, the newest at the right.

A failed check's latency is how long it took to fail (a timeout, a refused connection), not
a response time, so it is drawn as FAILED_MARK and left out of the scale.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.style import Style
from rich.text import Text

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
    run: list[str] = []
    run_failed = False
    for v, bad in zip(shown, flags, strict=True):
        if run and bad != run_failed:  # one segment per run, not one per point
            text.append("".join(run), failed_style if run_failed else style)
            run = []
        run_failed = bad
        run.append(
            FAILED_MARK if bad else BARS[max(0, min(int((v - low) / span * top + 0.5), top))]
        )
    if run:
        text.append("".join(run), failed_style if run_failed else style)
    return text
