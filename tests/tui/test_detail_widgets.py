"""The service detail's widgets as text: header, figures, errors, episodes, checks, calendar."""

from __future__ import annotations

import io
from datetime import timedelta

from rich.console import Console, RenderableType

from slamon_tui.widgets.episode_list import episodes_table
from slamon_tui.widgets.figures_table import errors_table, figures_table, series_summary
from slamon_tui.widgets.recent_checks import checks_table
from slamon_tui.widgets.service_header import cert_text, header_text
from slamon_tui.widgets.status_calendar import calendar_text, month_weeks

from .fake_daemon import NOW, make_check, make_detail, make_episode, make_series, make_service


def as_text(renderable: RenderableType, width: int = 80) -> str:
    console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_header_shows_the_daemons_uptime_text_exactly() -> None:
    detail = make_detail(make_service("api", "Public API", status="major_outage"))
    detail["uptime"] = {"24h": "99.999", "7d": "100.00", "30d": "—", "90d": "0.00"}
    text = header_text(detail, "Public API", "major_outage", "2026-11-21T23:01:00+00:00", NOW)
    lines = text.plain.splitlines()
    assert lines[0] == "Public API  ✕ Major outage  since 23:01 UTC (9m 00s)"
    assert lines[1] == "http://127.0.0.1:9/api  GET every 1m 00s, timeout 10s"
    assert lines[2] == "SLA target 99.9% · certificate expires in 41 days (2027-01-02)"
    assert lines[3] == "Uptime  24h 99.999% · 7d 100.00% · 30d — · 90d 0.00%"
    # Before service.get answers: the name and the status the dashboard knew.
    assert header_text(None, "Public API", "degraded", None, NOW).plain == "Public API  ▲ Degraded"


def test_certificate_expiry_levels() -> None:
    soon = (NOW + timedelta(days=3, hours=1)).isoformat()
    assert cert_text(soon, NOW) == ("certificate expires in 3 days (2026-11-25)", "warning")
    gone = (NOW - timedelta(days=2, hours=1)).isoformat()
    assert cert_text(gone, NOW) == ("certificate EXPIRED 2 days ago (2026-11-19)", "error")
    assert cert_text(None, NOW) == ("", "")


def test_series_summary_sums_buckets_and_leaves_percentiles_out() -> None:
    series = {
        "range": "1h",
        "points": [
            {"checks": 4, "down": 1, "avg_ms": 10.0, "min_ms": 5.0, "max_ms": 20.0},
            {"checks": 0, "down": 0, "avg_ms": None, "min_ms": None, "max_ms": None},
            {"checks": 2, "down": 0, "avg_ms": 40.0, "min_ms": 30.0, "max_ms": 50.0},
        ],
    }
    s = series_summary(series)
    assert (s["checks"], s["down"]) == (6, 1)
    assert (s["latency_min_ms"], s["latency_max_ms"]) == (5.0, 50.0)
    assert s["latency_avg_ms"] == (10.0 * 3 + 40.0 * 2) / 5  # weighted by answered checks
    assert s["p50_ms"] is None and s["p99_ms"] is None
    # A daemon that sends a summary for the range is believed as is.
    assert series_summary({"summary": {"p50_ms": 12.0}, "points": []}) == {"p50_ms": 12.0}


def test_figures_table_marks_the_charts_range() -> None:
    windows = make_detail(make_service("api"))["windows"]
    series = make_series("api", "1h")
    del series["summary"]  # as from a daemon without one: the row is summed from the buckets
    rows = {"1h": series_summary(series), **windows}
    text = as_text(figures_table(rows, "1h"))
    lines = text.splitlines()
    assert lines[0].split() == [
        "Window",
        "Checks",
        "Down",
        "p50",
        "p95",
        "p99",
        "min",
        "avg",
        "max",
    ]
    assert lines[1].split()[:5] == ["▸", "1h", "220", "1", "—"]
    assert lines[2].split()[:3] == ["24h", "1440", "1"]
    assert "20 ms" in lines[2] and "812 ms" in lines[2]
    assert "▸" not in "".join(lines[2:])


def test_errors_table_by_kind_and_window() -> None:
    windows = make_detail(make_service("api"))["windows"]
    lines = as_text(errors_table(windows)).splitlines()
    assert lines[0].split() == ["Errors", "by", "kind", "24h", "7d", "30d", "90d"]
    assert lines[1].split() == ["timeout", "1", "4", "0", "13"]
    assert lines[2].split() == ["HTTP", "err", "0", "1", "0", "0"]
    assert "No failed checks" in as_text(errors_table({"24h": {"errors": {}}}))


def test_episodes_table_ongoing_and_ended() -> None:
    episodes = [
        make_episode("api", NOW - timedelta(minutes=9), None, failed=18),
        make_episode(
            "api",
            NOW - timedelta(days=2),
            NOW - timedelta(days=2) + timedelta(minutes=12),
            worst="partial_outage",
            cause="timeout",
        ),
    ]
    lines = as_text(episodes_table(episodes, NOW), width=100).splitlines()
    assert lines[0].split() == ["Started", "Ended", "Lasted", "Worst", "Cause"]
    assert "23:01" in lines[1] and "ongoing" in lines[1] and "9m 00s" in lines[1]
    assert "✕ Major" in lines[1] and "conn err: connection_error happened" in lines[1]
    assert "Nov 19 23:10" in lines[2] and "Nov 19 23:22" in lines[2] and "12m 00s" in lines[2]
    assert "◆ Partial" in lines[2] and "timeout" in lines[2]
    assert "No outage episodes" in as_text(episodes_table([], NOW))


def test_recent_checks_table() -> None:
    checks = [
        make_check(
            "api",
            10_000.0,
            outcome="down",
            error_kind="timeout",
            status_code=None,
            at=NOW - timedelta(seconds=5),
        ),
        make_check("api", 42.0, at=NOW - timedelta(minutes=1)),
    ]
    lines = as_text(checks_table(checks, NOW)).splitlines()
    assert lines[0].split() == ["Time", "Outcome", "Code", "Latency", "Error"]
    assert lines[1].split()[:5] == ["23:09:55", "✕", "down", "—", "10.0"]
    assert "timeout: timeout happened" in lines[1]
    assert lines[2].split() == ["23:09:00", "●", "up", "200", "42", "ms"]


def test_calendar_grid_per_month() -> None:
    days = [
        {
            "day": f"2026-11-{d:02d}",
            "status": "o" if d < 21 else "mo" if d == 21 else "future",
            "uptime": "100.00",
            "downtime_s": 0,
        }
        for d in range(1, 31)
    ]
    weeks = month_weeks(days)
    assert len(weeks) == 6  # Sunday 1 Nov alone in the first week, Monday 30 in the last
    assert weeks[0][:6] == [None] * 6 and weeks[0][6]["day"] == "2026-11-01"
    lines = calendar_text([{"month": "2026-11", "days": days}], {}).plain.splitlines()
    assert lines[0].strip() == "Nov 2026"
    assert lines[1].rstrip() == "M    █ █ █"  # Mondays 2, 9, 16; 23 and 30 are future: blank
    assert lines[6].rstrip() == "S    █ █ ▃"  # Saturdays 7, 14 and today, the 21st (major)
    assert lines[7].rstrip() == "S  █ █ █"  # Sundays 1, 8, 15; the 22nd is future
    assert lines[8].startswith("█ operational")


def test_calendar_legend_wraps_between_items_only() -> None:
    days = [{"day": f"2026-11-{d:02d}", "status": "o"} for d in range(1, 31)]
    text = calendar_text([{"month": "2026-11", "days": days}], {}, width=46)
    lines = as_text(text, width=46).splitlines()
    legend = [line.strip() for line in lines[8:]]
    assert len(legend) in (2, 3)  # too long for 46 cells: more lines...
    assert all(line[0] in "█▓▆▃▒·" for line in legend)  # ...each starting with an item
    assert "major outage" in " ".join(legend)
    assert "▓ slow (degraded)" in " ".join(legend)  # issue 12: slow days are not outages


def test_long_causes_are_cut_not_wrapped_at_80_columns() -> None:
    episode = make_episode("api", NOW - timedelta(minutes=9), None)
    episode["error"] = "x" * 200
    lines = as_text(episodes_table([episode], NOW), width=80).splitlines()
    assert len(lines) == 2 and lines[1].rstrip().endswith("…")
