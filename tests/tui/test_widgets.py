"""What a dashboard row draws, on its own: the uptime bar and the latency sparkline."""

from __future__ import annotations

from slamon_tui.formatting import DAILY_GLYPHS
from slamon_tui.widgets.latency_sparkline import sparkline_text
from slamon_tui.widgets.uptime_bar import bar_cells, bar_text


def test_bar_cells_pad_old_days_with_no_data() -> None:
    assert bar_cells(["o", "mo"], 4) == ["nd", "nd", "o", "mo"]
    assert bar_cells(["po"] * 100, 30) == ["po"] * 30


def test_sparkline_text_scales_and_right_aligns() -> None:
    assert sparkline_text([], 4).plain == "    "
    # A steady service is a flat low line, not noise blown up to full height.
    assert sparkline_text([100.0, 101.0, 100.0], 5).plain == "  ▁▁▁"
    spike = sparkline_text([10.0, 10.0, 500.0], 3).plain
    assert spike == "▁▁█"
    ramp = sparkline_text([10.0 * i for i in range(1, 11)], 10).plain
    assert ramp[0] == "▁" and ramp[-1] == "█"
    # Only the newest values that fit are drawn: 90..99 ms is a 10 % wobble, drawn low.
    assert sparkline_text([float(i) for i in range(100)], 10).plain == "▁▁▂▂▂▃▃▃▄▄"


def test_sparkline_marks_failed_checks_and_leaves_them_out_of_the_scale() -> None:
    # The 10 s timeout is a time to fail, not a response time: it must not squash the
    # answered points into the floor, and it is drawn as its own mark.
    values = [10.0, 50.0, 10_000.0, 10.0]
    plain = sparkline_text(values, 4, failed=[False, False, True, False]).plain
    assert plain == "▁█✕▁"
    assert sparkline_text(values, 4).plain == "▁▁█▁"
    # Only failures: all marks, no crash on an empty scale.
    assert sparkline_text([5.0, 6.0], 3, failed=[True, True]).plain == " ✕✕"
    # The flags stay aligned when only the newest values fit.
    assert sparkline_text([1.0, 2.0, 3.0], 2, failed=[True, False, True]).plain[-1] == "✕"


def test_uptime_bar_draws_one_glyph_per_day_for_the_window() -> None:
    daily = ["nd"] * 50 + ["o", "po", "mo", "maintenance"] * 10
    bar = bar_text(bar_cells(daily, 30), {})
    assert bar.plain == "".join(DAILY_GLYPHS[c] for c in daily[-30:])
    assert len(bar_text(bar_cells(daily, 60), {}).plain) == 60


def test_latency_sparkline_shows_newest_at_the_right() -> None:
    assert sparkline_text([5.0, 5.0, 80.0], 20).plain.endswith("▁▁█")
    assert sparkline_text([80.0, 5.0], 20).plain.endswith("█▁")
    assert sparkline_text([80.0, 5.0], 20, failed=[False, True]).plain.endswith("▁✕")


async def test_the_banners_since_keeps_counting_between_snapshots() -> None:
    """ "since 18:50 UTC (12s)" must not freeze at 12s while no new snapshot arrives."""
    from datetime import UTC, datetime, timedelta

    from textual.app import App, ComposeResult

    from slamon_tui.widgets.status_banner import StatusBanner
    from tests.tui.helpers import wait_until

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield StatusBanner()

    since = (datetime.now(UTC) - timedelta(seconds=58)).isoformat()
    app = Host()
    async with app.run_test() as pilot:
        banner = app.query_one(StatusBanner)
        banner.set_status("major_outage", since, "1 down")
        assert "(58s)" in banner.plain or "(59s)" in banner.plain
        await wait_until(pilot, lambda: "(1m 0" in banner.plain, 10)
