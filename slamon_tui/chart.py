"""A braille line chart of latency percentiles, as plain text (no Textual, no I/O).

Each terminal cell holds 2×4 braille dots, so a chart ``width`` cells wide and ``height``
rows tall has 2·width columns and 4·height rows of dots. The y axis runs from 0 (honest
about scale) to a round ceiling above the highest value. Lines never cross a bucket
without checks: such a bucket (``checks`` 0, latencies null) is a gap, drawn as nothing,
never as 0. When more buckets than dot columns share a column, it shows their highest
value, so a spike is never averaged away; with fewer buckets, each spans several columns.

The series are ordered (p50 ≤ p95 ≤ p99 in every bucket), so without colour the lowest
line is p50 and the highest p99; where lines share a cell, the cell is the lower one's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SERIES = ("p50_ms", "p95_ms", "p99_ms")
"""The point keys drawn, lowest line first."""

# Bit of the braille dot at (row, column) inside a cell, rows top to bottom (Unicode order).
_DOT_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
_BRAILLE = 0x2800


@dataclass(frozen=True, slots=True)
class Chart:
    """The chart as text rows, with what colours each cell."""

    rows: list[str]
    """``height`` strings of ``width`` characters: braille, or a space where nothing is drawn."""
    owners: list[list[int | None]]
    """Per cell, the index in SERIES of the lowest line drawn there (None: empty cell)."""
    top: float
    """The value (ms) at the top edge; the bottom edge is 0."""
    failed: list[bool]
    """Per cell column: some bucket in it had failed checks."""
    empty: list[bool]
    """Per cell column: no bucket in it had any check (a gap)."""


NICE_STEPS = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


def nice_ceiling(value: float) -> float:
    """The smallest of NICE_STEPS × 10^k that is at least ``value`` (> 0): a short label
    for the top of the axis that wastes little of the chart's height."""
    exponent = math.floor(math.log10(value))
    for step in NICE_STEPS:
        ceiling = step * 10.0**exponent
        if ceiling >= value * (1 - 1e-9):
            return ceiling
    return 10.0 ** (exponent + 1)  # pragma: no cover - the loop always returns


def spread(count: int, slots: int) -> list[range]:
    """Which of ``count`` buckets fall in each of ``slots`` columns (at least one each)."""
    out = []
    for c in range(slots):
        lo = c * count // slots
        out.append(range(lo, max(lo + 1, (c + 1) * count // slots)))
    return out


def _highest(values: Sequence[float | None], which: range) -> float | None:
    shown = [v for v in (values[i] for i in which) if v is not None]
    return max(shown) if shown else None


def plot(points: Sequence[Mapping[str, Any]], width: int, height: int) -> Chart:
    """Draw the SERIES of service.series ``points`` into ``width`` × ``height`` cells."""
    width, height = max(width, 1), max(height, 1)
    dots_x, dots_y = 2 * width, 4 * height
    series = [[_number(p.get(key)) for p in points] for key in SERIES]
    highest = max((v for s in series for v in s if v is not None), default=0.0)
    top = nice_ceiling(highest) if highest > 0 else 1.0
    bits = [[[0] * width for _ in range(height)] for _ in SERIES]
    if points:
        columns = spread(len(points), dots_x)
        for s, values in enumerate(series):
            previous: int | None = None
            for x, which in enumerate(columns):
                value = _highest(values, which)
                if value is None:
                    previous = None  # a gap: the line stops here and starts afresh after
                    continue
                y = dots_y - 1 - round(min(value / top, 1.0) * (dots_y - 1))
                low, high = (y, y) if previous is None else sorted((previous, y))
                for dot_y in range(low, high + 1):
                    bits[s][dot_y // 4][x // 2] |= _DOT_BITS[dot_y % 4][x % 2]
                previous = y
    rows, owners = [], []
    for r in range(height):
        chars, owner_row = [], []
        for c in range(width):
            cell = 0
            owner = None
            for s in range(len(SERIES)):
                if bits[s][r][c]:
                    cell |= bits[s][r][c]
                    owner = s if owner is None else owner
            chars.append(chr(_BRAILLE + cell) if cell else " ")
            owner_row.append(owner)
        rows.append("".join(chars))
        owners.append(owner_row)
    cells = spread(len(points), width) if points else [range(0)] * width
    failed = [any(int(points[i].get("down") or 0) > 0 for i in which) for which in cells]
    empty = [all(int(points[i].get("checks") or 0) == 0 for i in which) for which in cells]
    return Chart(rows, owners, top, failed, empty)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)
