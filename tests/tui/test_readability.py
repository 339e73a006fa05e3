"""Issue 12, points 5 and 6: times and numbers one can trust, and reading without truncation:
names before the trend, slow days that say "slow", future times "in 14m", small budgets in
seconds, themes (high contrast, NO_COLOR) kept between runs, help for the screen you are on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from slamon_daemon import text
from slamon_tui.formatting import DAILY_GLYPHS, DAILY_WORDS
from slamon_tui.models.incidents import when_text
from slamon_tui.screens.help import HelpScreen
from slamon_tui.ui_state import UiState
from slamon_tui.widgets.columns import columns_for
from slamon_tui.widgets.sla_table import budget_text, remaining_text

from .fake_daemon import FakeDaemon, make_service, make_snapshot
from .helpers import fast_app, screen_text, wait_until

SIZES = [(80, 24), (300, 80)]
NOW = datetime(2026, 11, 21, 14, 13, tzinfo=UTC)


def test_future_times_read_in_not_ago() -> None:
    due = NOW + timedelta(minutes=14)
    assert when_text(due.isoformat(), NOW) == "14:27 UTC (in 14m)"
    assert when_text((NOW - timedelta(minutes=3)).isoformat(), NOW) == "14:10 UTC (3m ago)"
    assert text.relative(NOW + timedelta(hours=2, minutes=5), NOW) == "in 2h05m"


def test_small_budgets_read_in_seconds() -> None:
    # A service checked for a minute against 99.9 %: a 0.06 s budget, 11.8 min used.
    row = {"budget_min": 0.001, "budget_s": 0.06, "downtime_s": 708.0, "remaining_s": -707.94}
    assert budget_text(row) == "11.8 min of 0.06 s"
    assert remaining_text(row) == "11.8 min over"
    assert budget_text({"budget_min": 43.2, "consumed_min": 21.6}) == "21.6 of 43.2 min"
    assert budget_text({"budget_s": 4.3, "downtime_s": 2.0}) == "2.0 s of 4.3 s"
    assert text.budget(0) == "0.0 s" and text.budget(3600) == "60.0 min"


def test_slow_days_have_their_own_glyph_and_word() -> None:
    assert DAILY_WORDS["degraded"] == "slow (degraded)"
    assert DAILY_GLYPHS["degraded"] not in (DAILY_GLYPHS["po"], DAILY_GLYPHS["o"])
    assert "partial" not in DAILY_WORDS["degraded"]


@pytest.mark.parametrize(("width", "name_width"), [(79, 15), (119, 27), (299, 27)])
def test_names_get_their_width_before_the_trend(width: int, name_width: int) -> None:
    c = columns_for(width, 27)  # "TLS with a self-signed cert" (a row's width: 80 − 1 …)
    # All the room there is at 80 (the bar, status, uptime and latency take the rest), the
    # whole name from 120 on; the trend gets only what is left after it.
    assert c.name == name_width
    spark = c.spark_width(width)
    used = c.fixed + spark if spark else c.fixed - c.spark_gap
    assert used <= width


@pytest.mark.parametrize("size", SIZES)
async def test_long_names_are_whole_and_slow_days_say_slow(
    daemon: FakeDaemon, size: tuple[int, int]
) -> None:
    names = ["TLS with a self-signed cert", "TLS self-signed, expired"]
    daemon.snapshot = make_snapshot(
        [
            make_service("tls-a", names[0], daily=["o"] * 85 + ["degraded"] * 5),
            make_service("tls-b", names[1]),
        ]
    )
    app = fast_app(daemon.path)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.order) == 2)
        shown = screen_text(app)
        room = app.dashboard.columns.name
        assert room >= 15
        cut = [n if len(n) <= room else n[: room - 1] for n in names]
        assert cut[0] != cut[1]  # the two can be told apart (whole from 120 columns on)
        for name in cut:
            assert name in shown
        if size[0] >= 120:
            assert all(name in shown for name in names)
        row = next(line for line in shown.splitlines() if cut[0] in line)
        assert DAILY_GLYPHS["degraded"] * 5 in row
        await pilot.press("question_mark")
        await pilot.pause()
        await pilot.press("end")
        await pilot.pause()
        legend = screen_text(app)
        assert f"{DAILY_GLYPHS['degraded'] * 3} slow (degraded)" in legend


@pytest.mark.parametrize("size", SIZES)
async def test_help_scrolls_and_starts_with_the_keys_of_this_screen(
    daemon: FakeDaemon, size: tuple[int, int]
) -> None:
    app = fast_app(daemon.path)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.order) == 4)
        await pilot.press("I")  # the incidents screen
        await pilot.pause(0.2)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert "Keys here: Incidents" in screen_text(app)
        box = app.screen.query_one("#help-box")
        if size == (80, 24):
            assert box.max_scroll_y > 0  # more than fits: it scrolls…
            await pilot.press("pagedown", "pagedown", "end")
            assert box.scroll_y == box.max_scroll_y  # …by keys, to the very end
        assert "Trend:" in screen_text(app)


async def test_the_high_contrast_theme_is_kept_between_runs(
    daemon: FakeDaemon, tmp_path: Path
) -> None:
    app = fast_app(daemon.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.order) == 4)
        assert "slamon-high-contrast" in app.available_themes
        app.theme = "slamon-high-contrast"
        await pilot.pause()
    assert UiState.load().theme == "slamon-high-contrast"
    again = fast_app(daemon.path)
    async with again.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(again.dashboard.order) == 4)
        assert again.theme == "slamon-high-contrast"
        assert "Major Outage" in screen_text(again)


async def test_no_color_keeps_every_meaning_in_words_and_symbols(
    daemon: FakeDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = fast_app(daemon.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.order) == 4)
        assert app.no_color
        shown = screen_text(app)
        for words in ("✕ Major", "◆ Partial", "▲ Degraded", "● Operational", "1 down · 1 partial"):
            assert words in shown
        svg = app.export_screenshot()
        # Monochrome: no status colour is drawn (greys only).
        colours = {c.lower() for c in _fills(svg)}
        assert all(_grey(c) for c in colours), colours


def _fills(svg: str) -> list[str]:
    import re

    return re.findall(r"fill: (#[0-9a-fA-F]{6})", svg)


def _grey(colour: str) -> bool:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return max(r, g, b) - min(r, g, b) <= 8
