"""The braille latency chart as text (slamon_tui/chart.py) and its axis labels."""

from __future__ import annotations

from typing import Any

import pytest
from textual.app import App, ComposeResult

from slamon_tui.chart import SERIES, nice_ceiling, plot, spread
from slamon_tui.widgets.latency_chart import LatencyChart, axis_label, time_labels

from .fake_daemon import make_series


def point(
    p50: float | None,
    p95: float | None = None,
    p99: float | None = None,
    *,
    checks: int = 4,
    down: int = 0,
) -> dict[str, Any]:
    if p50 is None:
        checks = 0
    return {
        "t": "2026-11-21T22:00:00+00:00",
        "checks": checks,
        "down": down,
        "p50_ms": p50,
        "p95_ms": p95 if p95 is not None else p50,
        "p99_ms": p99 if p99 is not None else p95 if p95 is not None else p50,
    }


def gap() -> dict[str, Any]:
    return {
        "t": "2026-11-21T22:00:00+00:00",
        "checks": 0,
        "down": 0,
        "p50_ms": None,
        "p95_ms": None,
        "p99_ms": None,
        "avg_ms": None,
        "min_ms": None,
        "max_ms": None,
    }


def column(chart_rows: list[str], c: int) -> str:
    return "".join(row[c] for row in chart_rows)


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [
        (0.3, 0.3),
        (0.31, 0.4),
        (1.0, 1.0),
        (1.01, 1.5),
        (7.0, 8.0),
        (26.0, 30.0),
        (72.7, 80.0),
        (120.0, 150.0),
        (999.0, 1000.0),
        (1001.0, 1500.0),
    ],
)
def test_nice_ceiling(value: float, ceiling: float) -> None:
    assert nice_ceiling(value) == pytest.approx(ceiling)


def test_spread_covers_every_bucket_once_or_repeats_when_short() -> None:
    assert [list(r) for r in spread(6, 3)] == [[0, 1], [2, 3], [4, 5]]
    assert [list(r) for r in spread(2, 4)] == [[0], [0], [1], [1]]


def test_gaps_are_drawn_as_nothing_not_as_zero() -> None:
    points = [point(50.0)] * 4 + [gap()] * 4 + [point(50.0)] * 4
    chart = plot(points, 12, 4)
    for c in range(4, 8):
        assert column(chart.rows, c) == "    "  # no dot at any height, the bottom included
    assert chart.empty == [False] * 4 + [True] * 4 + [False] * 4
    # Had the gap been sent as zeros, it would sit on the bottom row: that is what must not be.
    zeros = plot([point(50.0)] * 4 + [point(0.0)] * 4 + [point(50.0)] * 4, 12, 4)
    assert all(zeros.rows[-1][c] != " " for c in range(4, 8))


def test_lines_are_ordered_p50_lowest_and_own_their_cells() -> None:
    chart = plot([point(10.0, 50.0, 100.0)] * 8, 8, 10)

    def top_row(series: int) -> int:
        return min(r for r, owners in enumerate(chart.owners) if series in owners)

    assert top_row(2) < top_row(1) < top_row(0)  # p99 above p95 above p50
    assert chart.top == 100.0
    assert top_row(2) == 0  # the highest value reaches the top row
    assert len(SERIES) == 3


def test_a_spike_among_many_buckets_is_not_averaged_away() -> None:
    points = [point(10.0)] * 500 + [point(1000.0)] + [point(10.0)] * 499
    chart = plot(points, 10, 5)
    assert chart.top == 1000.0
    assert column(chart.rows, 5)[0] != " "  # bucket 500 lands in column 5, at the top
    assert sum(1 for c in range(10) if chart.rows[0][c] != " ") == 1


def test_few_buckets_stretch_and_failures_are_flagged_per_column() -> None:
    chart = plot([point(10.0), point(20.0, down=1)], 10, 3)
    assert chart.failed == [False] * 5 + [True] * 5
    assert all(column(chart.rows, c).strip() for c in range(10))  # no hole between them


def test_empty_series_draws_nothing() -> None:
    chart = plot([], 5, 2)
    assert chart.rows == ["     ", "     "]
    assert chart.empty == [True] * 5
    assert plot([gap(), gap()], 4, 2).rows == ["    ", "    "]


def test_axis_and_time_labels() -> None:
    assert [axis_label(v) for v in (0, 2.5, 80, 1500)] == ["0", "2.5 ms", "80 ms", "1.5 s"]
    assert time_labels(make_series("api", "1h")) == ("22:11", "22:41", "23:11 UTC")
    assert time_labels(make_series("api", "24h")) == ("Nov 20 23:15", "11:15", "Nov 21 23:15 UTC")
    assert time_labels(make_series("api", "30d")) == ("Oct 23", "Nov 07", "Nov 22 UTC")
    assert time_labels({"points": []}) == ("", "", "")


async def test_chart_title_drops_the_marks_words_before_it_overflows() -> None:
    chart = LatencyChart()
    async with _Host(chart).run_test(size=(100, 14)) as pilot:
        await pilot.pause()
        _check_titles(chart)
        # Drawn at 50 cells, the title line is cut to fit, never wrapped onto the chart.
        chart.show(make_series("api", "24h"))
        chart.styles.width = 50
        await pilot.pause()
        lines = chart.render().plain.splitlines()
        assert lines[0].rstrip().endswith("p99") and "80 ms ┤" in lines[1]


async def test_a_range_where_every_check_failed_says_so() -> None:
    chart = LatencyChart()
    async with _Host(chart).run_test(size=(100, 14)) as pilot:
        failed = {"checks": 3, "down": 3, "p50_ms": None, "p95_ms": None, "p99_ms": None}
        chart.show(
            {
                "range": "1h",
                "bucket_s": 60,
                "points": [{"t": "2026-11-21T22:00:00+00:00", **failed}] * 10,
            }
        )
        await pilot.pause()
        text = chart.render().plain
        assert "Every check in this range failed" in text
        assert " ms ┤" not in text  # no scale without response times
        assert text.splitlines()[-2].count("✕") == chart.content_size.width - 9


class _Host(App[None]):
    def __init__(self, widget: LatencyChart) -> None:
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget


def _check_titles(chart: LatencyChart) -> None:
    full = chart.title_line().plain
    assert full.endswith("✕ failed · no checks")
    assert chart.title_line(len(full)).plain == full
    short = chart.title_line(len(full) - 1).plain
    assert short.endswith("p99  ✕ ·") and len(short) < len(full)
    assert chart.title_line(40).plain.rstrip().endswith("p99")
