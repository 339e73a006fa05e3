"""The service detail screen through the pilot, fed by the fake daemon."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from slamon_tui.app import SlamonApp
from slamon_tui.screens import service as service_module
from slamon_tui.screens.service import ServiceScreen
from slamon_tui.widgets.latency_chart import LatencyChart
from slamon_tui.widgets.service_header import ServiceHeader

from .conftest import demo_snapshot
from .fake_daemon import FakeDaemon, make_check
from .helpers import fast_app, screen_text, wait_until


def _asked(daemon: FakeDaemon, method: str) -> list[dict[str, object]]:
    return [r["params"] for r in daemon.requests if r["method"] == method]


async def _open(app: SlamonApp, pilot: object, *keys: str) -> ServiceScreen:
    """Open the detail of the row the ``keys`` lead to (default: "api", the last row:
    the operational service comes after the problems)."""
    await wait_until(pilot, lambda: len(app.dashboard.order) == 4)  # type: ignore[arg-type]
    await pilot.press(*(keys or ("G",)), "enter")  # type: ignore[attr-defined]
    await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen))  # type: ignore[arg-type]
    screen = app.screen
    assert isinstance(screen, ServiceScreen)
    await wait_until(pilot, lambda: screen.detail is not None and "24h" in screen.series)  # type: ignore[arg-type]
    return screen


async def test_enter_opens_the_detail_and_escape_returns_to_the_same_row(
    daemon: FakeDaemon,
) -> None:
    app = fast_app(daemon.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.order) == 4)
        screen = await _open(app, pilot, "j", "left")  # the flaky row, the day a day back
        assert screen.service_id == "flaky"
        assert _asked(daemon, "service.get") == [{"id": "flaky"}]
        assert _asked(daemon, "service.series") == [{"id": "flaky", "range": "24h"}]
        assert _asked(daemon, "service.calendar") == [{"id": "flaky", "months": 3}]
        text = screen_text(app)
        # The most important first, on the first screen at 80×24: status, uptimes, chart.
        lines = text.splitlines()
        # Issue 12: in trouble, dated from its open outage (as the episode list below says).
        assert lines[0].startswith(" Flaky backend  ◆ Partial outage  failing since")
        assert "SLA target 99.9%" in text and "certificate expires in" in text
        assert "Uptime  24h 99.93% · 7d 99.95% · 30d 100.00% · 90d 99.99%" in text
        assert "Latency  1h [24h] 7d  30d" in text
        assert "80 ms ┤" in text  # the chart's scale: the fake's p99 peaks at 72.7 ms
        assert any("✕" in line and "·" in line and "└" in line for line in lines)
        # Further down: figures, errors, the calendar, episodes (one ongoing), checks.
        body = screen.query_one("#detail")
        body.scroll_end(animate=False)
        await pilot.pause()
        bottom = screen_text(app)
        assert "✕ down" in bottom and "conn err" in bottom
        body.scroll_home(animate=False)
        await pilot.pause()
        for _ in range(40):
            if "ongoing" in screen_text(app):
                break
            await pilot.press("pagedown")
        assert "ongoing" in screen_text(app)

        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.dashboard
        assert app.dashboard.selected_id == "flaky"
        assert app.dashboard.days_back == 1
        assert app.dashboard.rows["flaky"].day_cursor == 28


async def test_range_keys_switch_the_chart_and_the_marked_figures(daemon: FakeDaemon) -> None:
    app = fast_app(daemon.path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(app, pilot)
        chart = screen.query_one(LatencyChart)
        await pilot.press("1")
        await wait_until(pilot, lambda: "1h" in screen.series)
        assert chart.range == "1h" and screen.range == "1h"
        assert "Latency [1h] 24h  7d  30d" in screen_text(app)
        assert "22:11" in screen_text(app) and "23:11 UTC" in screen_text(app)
        assert "▸ 1h" in screen_text(app)
        await pilot.press("left")  # already the shortest: stays
        assert screen.range == "1h"
        await pilot.press("right", "right")
        assert screen.range == "7d"
        await pilot.press("4")
        await wait_until(pilot, lambda: "30d" in screen.series)
        assert "Nov 22 UTC" in screen_text(app)
        await pilot.press("l")
        assert screen.range == "30d"
        ranges = [p["range"] for p in _asked(daemon, "service.series")]
        assert ranges == ["24h", "1h", "24h", "7d", "30d"]
        # A range seen before is drawn at once from what was fetched (then refreshed).
        daemon.delays["service.series"] = 1.0
        await pilot.press("2")
        assert chart.series is screen.series["24h"]


async def test_check_events_reload_at_most_every_interval(
    daemon: FakeDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Long enough that ten pushed events fit inside it even on a loaded CI machine.
    monkeypatch.setattr(service_module, "REFRESH_MIN_INTERVAL_S", 1.5)
    app = fast_app(daemon.path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(app, pilot)
        await pilot.press("r")  # a load now: the interval starts again from here
        await wait_until(pilot, lambda: daemon.count("service.get") == 2)
        for i in range(10):
            check = make_check("api", 10.0 + i)
            check["started_at"] = f"2026-11-21T23:30:{i:02d}+00:00"
            await daemon.push("check", {"service_id": "api", "check": check, "daily": "o"})
        await pilot.pause(0.3)
        # Ten checks within the interval after the last load: not one reload yet...
        assert daemon.count("service.get") == 2
        # ...then exactly one, when the interval is up.
        await wait_until(pilot, lambda: daemon.count("service.get") == 3)
        await pilot.pause(0.8)
        assert daemon.count("service.get") == 3
        assert daemon.count("service.series") == 3 and daemon.count("service.calendar") == 3
        # Checks of another service change nothing here.
        other = make_check("down", 1.0)
        other["started_at"] = "2026-11-21T23:31:00+00:00"
        await daemon.push("check", {"service_id": "down", "check": other, "daily": "mo"})
        await pilot.pause(0.8)
        assert daemon.count("service.get") == 3
        assert screen.service_id == "api"
        # Long after the last load, a check reloads at once.
        await pilot.pause(0.3)
        check = make_check("api", 99.0)
        check["started_at"] = "2026-11-21T23:32:00+00:00"
        await daemon.push("check", {"service_id": "api", "check": check, "daily": "o"})
        await wait_until(pilot, lambda: daemon.count("service.get") == 4, within=1.0)


async def test_status_event_changes_the_header_at_once_and_r_reloads(daemon: FakeDaemon) -> None:
    app = fast_app(daemon.path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(app, pilot)
        header = screen.query_one(ServiceHeader)
        assert "● Operational" in header.plain
        await daemon.push(
            "status",
            {
                "kind": "service",
                "service_id": "api",
                "status": "major_outage",
                "previous": "operational",
                "at": "2026-11-21T23:20:00+00:00",
            },
        )
        await wait_until(pilot, lambda: "✕ Major outage" in header.plain)
        assert "since 23:20 UTC" in header.plain or "since Nov 21 23:20 UTC" in header.plain
        await pilot.press("r")
        await wait_until(pilot, lambda: daemon.count("service.get") == 2)


async def test_a_service_gone_from_the_daemon_is_said_so(daemon: FakeDaemon) -> None:
    app = fast_app(daemon.path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(app, pilot)
        daemon.snapshot = {**daemon.snapshot, "services": daemon.snapshot["services"][1:]}
        await pilot.press("r")
        problem = screen.query_one("#detail-problem")
        await wait_until(pilot, lambda: problem.display)
        assert "no longer monitors 'api'" in screen_text(app)
        # What was fetched before stays on show.
        assert "99.93%" in screen_text(app)


async def test_detail_says_reconnecting_and_reloads_when_back(sock_path: Path) -> None:
    daemon = FakeDaemon(sock_path, demo_snapshot())
    await daemon.start()
    app = fast_app(sock_path)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await _open(app, pilot)
            await daemon.stop(goodbye="upgrade")
            problem = screen.query_one("#detail-problem")
            await wait_until(pilot, lambda: problem.display)
            assert "reconnecting…" in screen_text(app) and "upgrade" in screen_text(app)
            assert app.screen is screen  # the detail stays open, last known figures kept
            await daemon.start()
            await wait_until(
                pilot, lambda: daemon.count("service.get") >= 1 and not problem.display
            )
            assert _asked(daemon, "service.get")[-1] == {"id": "api"}
    finally:
        await daemon.stop()


async def test_help_lists_the_detail_keys(daemon: FakeDaemon) -> None:
    app = fast_app(daemon.path)
    async with app.run_test(size=(100, 50)) as pilot:
        await _open(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        text = screen_text(app)
        assert "Keys here: Service detail" in text
        assert "chart range 1h / 24h / 7d / 30d" in text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ServiceScreen)


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    """Where screenshots go: $SLAMON_SCREENSHOTS to keep them, else a temp dir."""
    out = Path(os.environ.get("SLAMON_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.mark.parametrize("size", [(80, 24), (200, 50)])
async def test_detail_screenshots(
    daemon: FakeDaemon, screenshot_dir: Path, size: tuple[int, int]
) -> None:
    """Saves SVGs to look at; checks the layout: one column at 80, two at 200, no overflow."""
    app = fast_app(daemon.path)
    async with app.run_test(size=size) as pilot:
        screen = await _open(app, pilot, "j")
        await wait_until(pilot, lambda: "Sep 2026" in screen_text(app) or size[0] < 120)
        app.save_screenshot(f"detail-{size[0]}x{size[1]}.svg", path=str(screenshot_dir))
        left, right = screen.query_one("#detail-left"), screen.query_one("#detail-right")
        for widget in screen.query("#detail *"):
            assert widget.region.right <= size[0], widget
        if size[0] >= service_module.WIDE_WIDTH:
            assert screen.has_class("-wide")
            assert right.region.x > left.region.right  # side by side
            text = screen_text(app)
            # All of it on one screen: calendar, episodes and checks beside the chart.
            for needle in ("Nov 2026", "ongoing", "Recent checks", "Errors by kind", "Latency"):
                assert needle in text
        else:
            assert not screen.has_class("-wide")
            assert right.region.y > left.region.y  # stacked
            assert screen.query_one(LatencyChart).region.bottom <= size[1] - 1  # chart visible


@pytest.mark.parametrize("size", [(80, 24), (200, 50)])
async def test_day_cursor_screenshots(
    daemon: FakeDaemon, screenshot_dir: Path, size: tuple[int, int]
) -> None:
    app = fast_app(daemon.path)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.order) == 4)
        await pilot.press("j", "left", "left")
        await wait_until(pilot, lambda: "80.00%" in screen_text(app))
        app.save_screenshot(f"day-cursor-{size[0]}x{size[1]}.svg", path=str(screenshot_dir))
        assert "Thu 19 Nov 2026" in screen_text(app)
