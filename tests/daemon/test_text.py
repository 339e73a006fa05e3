"""The one set of rules for durations, percentages and latencies (slamon_daemon/text.py),
checked against hand-written cases."""

from __future__ import annotations

import pytest

from slamon_daemon import text


@pytest.mark.parametrize(
    ("seconds", "written"),
    [
        (None, "—"),
        (-5, "0s"),
        (0, "0s"),
        (0.001, "<1s"),
        (0.9, "<1s"),  # it happened: not "0s", and not rounded up to "1s"
        (1, "1s"),
        (42, "42s"),
        (59.9, "59s"),  # cut, never rounded up
        (60, "1m 00s"),
        (432, "7m 12s"),
        (3599, "59m 59s"),
        (3600, "1h 00m"),
        (3 * 3600 + 4 * 60 + 59, "3h 04m"),
        (86399, "23h 59m"),
        (86400, "1d 00h"),
        (90061, "1d 01h"),
        (2 * 86400 + 3 * 3600 + 59 * 60, "2d 03h"),
        (1209300, "13d 23h"),
        (400 * 86400, "400d 00h"),
    ],
)
def test_durations(seconds: float | None, written: str) -> None:
    assert text.duration(seconds) == written


@pytest.mark.parametrize(
    ("seconds", "written"),
    [
        (None, "—"),
        (0, "0s"),
        (0.4, "<1s"),
        (5, "5s"),
        (59, "59s"),
        (60, "1m"),
        (600, "10m"),
        (3599, "59m"),
        (3 * 3600 + 300, "3h05m"),
        (2 * 86400 + 4 * 3600 + 59, "2d04h"),
    ],
)
def test_compact_durations_for_table_cells(seconds: float | None, written: str) -> None:
    assert text.duration(seconds, compact=True) == written


@pytest.mark.parametrize(
    ("value", "places", "written"),
    [
        (None, None, "—"),
        ("", None, "—"),
        ("—", None, "—"),
        ("99.95", None, "99.95%"),
        ("100.00", None, "100.00%"),  # the daemon's text, kept as sent
        ("99.999", 2, "99.999%"),  # text is never rounded, places or not
        (99.9, None, "99.9%"),
        (95.0, None, "95%"),
        (100, None, "100%"),
        (97.125, 2, "97.12%"),
        (90.0, 2, "90.00%"),
        (0.0, 1, "0.0%"),
    ],
)
def test_percentages(value: str | float | None, places: int | None, written: str) -> None:
    assert text.percent(value, places) == written


@pytest.mark.parametrize(
    ("ms", "written"),
    [
        (None, "—"),
        (0.0, "<1 ms"),
        (0.4, "<1 ms"),
        (1.0, "1 ms"),
        (42.4, "42 ms"),
        (123.0, "123 ms"),
        (1850.0, "1850 ms"),
        (9999.0, "9999 ms"),
        (10000.0, "10.0 s"),
        (12345.0, "12.3 s"),
    ],
)
def test_latencies(ms: float | None, written: str) -> None:
    assert text.latency(ms) == written


def test_latency_objectives() -> None:
    assert text.latency_objective(97.125, 1000.0, 95.0) == "97.12% ≤ 1000 ms (target 95%)"
    assert text.latency_objective(None, 500.0, 99.5) == "n/a ≤ 500 ms (target 99.5%)"
    assert "," not in text.latency_objective(12.5, 20000.0, 99.0)
