"""Issue 12, points 5 and 9 through the pilot at 80×24 and 300×80: "since" from the open
outage, tiny SLA budgets in seconds on the SLA screen, and a list of 2,000 services where a
check repaints only its own row, and only when that row is on screen."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from slamon_tui.screens.service import ServiceScreen
from slamon_tui.screens.sla import SlaScreen
from slamon_tui.widgets.service_header import ServiceHeader
from slamon_tui.widgets.service_table import ServiceTable

from .fake_daemon import FakeDaemon, make_check, make_service, make_snapshot
from .fake_incidents import make_sla_report
from .helpers import fast_app, screen_text, wait_until

SIZES = [(80, 24), (300, 80)]


@pytest.mark.parametrize("size", SIZES)
async def test_detail_dates_trouble_from_the_open_outage(
    daemon: FakeDaemon, size: tuple[int, int]
) -> None:
    app = fast_app(daemon.path)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.order) == 4)
        await pilot.press("enter")  # the red row: Legacy billing
        await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen))
        screen = app.screen
        await wait_until(pilot, lambda: screen.detail is not None)  # type: ignore[attr-defined]
        header = screen.query_one(ServiceHeader)
        episode = next(e for e in screen.detail["episodes"] if not e["ended_at"])  # type: ignore[attr-defined]
        assert header.failing_since == episode["started_at"]
        assert "failing since" in header.plain
        # The same moment as the episode list says (never a restart's).
        started = datetime.fromisoformat(episode["started_at"]).astimezone(UTC)
        assert f"{started:%H:%M}" in header.plain


@pytest.mark.parametrize("size", SIZES)
async def test_sla_screen_shows_tiny_budgets_in_seconds(
    daemon: FakeDaemon, size: tuple[int, int]
) -> None:
    report = make_sla_report(daemon.snapshot, "2026-11")
    row = report["services"][0]
    row.update(
        budget_min=0.001,
        budget_s=0.06,
        consumed_min=11.8,
        downtime_s=708.0,
        remaining_min=-11.799,
        remaining_s=-707.94,
        budget_used_pct=1180000.0,
        met=False,
    )
    daemon.results["sla.report"] = report
    app = fast_app(daemon.path)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.order) == 4)
        await pilot.press("S")
        await wait_until(
            pilot, lambda: isinstance(app.screen, SlaScreen) and app.screen.report is not None
        )
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "0.0 min" not in text
        assert "0.06 s" in text or "11.8 min over" in text


@pytest.mark.parametrize("size", SIZES)
async def test_only_visible_rows_are_drawn_again_on_events(
    daemon: FakeDaemon, size: tuple[int, int]
) -> None:
    n = 2000
    daemon.snapshot = make_snapshot([make_service(f"s{i:04d}", f"Svc {i:04d}") for i in range(n)])
    app = fast_app(daemon.path)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.order) == n, 30)
        await pilot.pause(0.3)
        table = app.dashboard.query_one(ServiceTable)
        # Virtual: the screen drew what fits, not 2,000 rows.
        assert table.lines_drawn < 4 * table.visible_height
        at = datetime(2026, 11, 21, 23, 30, tzinfo=UTC)
        before = table.lines_drawn
        for i in range(50):  # checks of services far below the screen
            check = make_check(f"s{1900 + i:04d}", 50.0, at=at)
            await daemon.push("check", {"service_id": check["service_id"], "check": check})
        await wait_until(pilot, lambda: app.dashboard.rows["s1949"].latency_text == "50 ms")
        await pilot.pause(0.2)
        assert table.lines_drawn == before  # nothing on screen changed: nothing drawn
        check = make_check("s0001", 77.0, at=at)  # a row on screen
        await daemon.push("check", {"service_id": "s0001", "check": check})
        await wait_until(pilot, lambda: "77 ms" in screen_text(app))
        assert 1 <= table.lines_drawn - before <= 2  # its line (once or twice), no other
