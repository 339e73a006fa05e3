"""The dashboard through Textual's pilot, fed by a fake daemon on a real socket."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from slamon_tui.app import SlamonApp, make_app
from slamon_tui.client import FeedClient
from slamon_tui.formatting import DAILY_GLYPHS
from slamon_tui.screens.help import HelpScreen
from slamon_tui.widgets.column_header import ColumnHeader
from slamon_tui.widgets.service_table import ServiceTable
from slamon_tui.widgets.status_banner import StatusBanner

from .conftest import demo_snapshot
from .fake_daemon import FakeDaemon, make_check, make_service, make_snapshot
from .helpers import fast_app, screen_text, wait_until


def _line_of(app: SlamonApp, needle: str) -> str:
    return next(line for line in screen_text(app).splitlines() if needle in line)


@pytest.mark.parametrize(("size", "cells"), [((80, 24), 30), ((140, 40), 60), ((200, 50), 90)])
async def test_snapshot_renders_rows_and_bar_width(
    daemon: FakeDaemon, size: tuple[int, int], cells: int
) -> None:
    app = fast_app(daemon.path)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
        rows = app.dashboard.rows
        assert rows["api"].status_text == "● Operational"
        assert rows["slow"].status_text == "▲ Degraded"
        assert rows["flaky"].status_text.startswith("◆ Partial")
        assert rows["down"].status_text.startswith("✕ Major")
        assert rows["flaky"].latency_text == "timeout"
        assert rows["api"].latency_text == "42 ms"
        for row in rows.values():
            assert len(row.bar_cells) == cells
        assert rows["api"].uptime_text == {30: "99.95%", 60: "99.97%", 90: "99.98%"}[cells]
        header = app.screen.query_one(ColumnHeader)
        assert header.scale_text.startswith(f"{cells} days ago")
        assert header.scale_text.endswith("Today")
        banner = app.screen.query_one(StatusBanner)
        assert "Major Outage" in str(banner.content)
        assert banner.has_class("-major_outage")
        text = screen_text(app)
        assert "Demo: history before 23:01 UTC is generated demo data" in text
        # The flaky service's bar, drawn: its last `cells` days as glyphs, nothing more.
        flaky = next(line for line in text.splitlines() if "Flaky" in line)
        drawn = "".join(DAILY_GLYPHS[c] for c in rows["flaky"].bar_cells)
        assert f" {drawn} " in flaky
        assert len(drawn) == cells
        # Every row is on one screen line: name, status, uptime and latency together.
        for name, uptime, latency in [("Public", "99.9", "42 ms"), ("Flaky", "9", "timeout")]:
            assert any(
                name in line and uptime in line and latency in line for line in text.splitlines()
            )


async def test_check_event_updates_the_row_in_place(daemon: FakeDaemon) -> None:
    app = fast_app(daemon.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
        row = app.dashboard.rows["api"]
        before = len(row.service.latencies)
        at = datetime(2026, 11, 21, 23, 9, tzinfo=UTC)
        await daemon.push(
            "check",
            {
                "service_id": "api",
                "check": make_check("api", 777.0, at=at),
                "daily": "po",
                "uptime": {"30": "99.10", "60": "99.50", "90": "99.70"},
            },
        )
        await wait_until(pilot, lambda: row.latency_text == "777 ms")
        # Updated in place: the same service object, the row where it was (the list is one
        # virtual widget; only this row was repainted).
        assert app.dashboard.rows["api"].service is row.service
        assert app.dashboard.order[-1] == "api"  # operational: after the problems
        assert row.service.latencies[-1] == 777.0
        assert len(row.service.latencies) == min(before + 1, 60)
        assert row.bar_cells[-1] == "po"

        # On screen at the next repaint (rows checked within REPAINT_S are drawn together).
        def api_line() -> str:
            return next(line for line in screen_text(app).splitlines() if "Public API" in line)

        await wait_until(pilot, lambda: "777 ms" in api_line())
        assert "99.10%" in api_line()
        assert row.uptime_text == "99.10%"
        assert daemon.count("status.get") == 2  # the rows first, then the whole picture


async def test_status_events_change_the_word_and_the_banner(daemon: FakeDaemon) -> None:
    app = fast_app(daemon.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
        row = app.dashboard.rows["api"]
        await daemon.push(
            "status",
            {
                "kind": "service",
                "service_id": "api",
                "status": "major_outage",
                "previous": "operational",
                "at": "2026-11-21T23:09:00+00:00",
            },
        )
        await daemon.push(
            "status",
            {
                "kind": "overall",
                "status": "degraded",
                "previous": "major_outage",
                "at": "2026-11-21T23:09:00+00:00",
            },
        )
        await wait_until(pilot, lambda: row.status_text.startswith("✕ Major"))
        banner = app.screen.query_one(StatusBanner)
        await wait_until(pilot, lambda: "Degraded Performance" in str(banner.content))
        assert banner.has_class("-degraded") and not banner.has_class("-major_outage")


async def test_unknown_service_triggers_resync_and_rows_are_diffed(daemon: FakeDaemon) -> None:
    app = fast_app(daemon.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
        daemon.snapshot = make_snapshot(
            [
                make_service("new", "New one"),
                make_service("slow", "Slow service", status="operational"),
            ]
        )
        await daemon.push("check", {"service_id": "new", "check": make_check("new", 5.0)})
        await wait_until(pilot, lambda: set(app.dashboard.rows) == {"new", "slow"})
        assert daemon.count("status.get") == 3
        await wait_until(pilot, lambda: app.dashboard.rows["slow"].status_text == "● Operational")
        assert app.dashboard.order == ["new", "slow"]


async def test_resync_event_and_r_key_fetch_a_fresh_snapshot(daemon: FakeDaemon) -> None:
    app = fast_app(daemon.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
        await daemon.push("resync", {"reason": "queue overflow"})
        await wait_until(pilot, lambda: daemon.count("status.get") == 3)
        await pilot.press("r")
        await wait_until(pilot, lambda: daemon.count("status.get") == 4)


async def test_daemon_going_away_shows_reconnecting_and_resyncs(sock_path: Path) -> None:
    daemon = FakeDaemon(sock_path, demo_snapshot())
    await daemon.start()
    app = fast_app(sock_path)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
            table = app.dashboard.query_one(ServiceTable)
            row_width = table.size.width
            await daemon.stop(goodbye="restarting for an upgrade")
            connection = app.screen.query_one("#connection")
            await wait_until(pilot, lambda: "reconnecting…" in str(connection.content))
            assert "restarting for an upgrade" in str(connection.content)
            assert app.dashboard.has_class("-stale")
            assert "reconnecting…" in screen_text(app)
            # The old rows stay on screen, dimmed, while we wait; the banner says it is stale.
            assert len(app.dashboard.rows) == 4
            banner = app.screen.query_one(StatusBanner)
            assert "NOT LIVE — last known: ✕ Major Outage" in banner.plain
            assert banner.has_class("-stale") and not banner.has_class("-major_outage")
            # The "how to start" box above the rows must not squeeze them.
            await wait_until(pilot, lambda: app.screen.query_one("#no-daemon").display)
            assert table.size.width == row_width
            daemon.snapshot = make_snapshot([make_service("api", "API", status="degraded")])
            await daemon.start()
            await wait_until(pilot, lambda: set(app.dashboard.rows) == {"api"})
            assert app.dashboard.rows["api"].status_text == "▲ Degraded"
            assert "live" in str(connection.content)
            assert not app.dashboard.has_class("-stale")
            assert "NOT LIVE" not in app.screen.query_one(StatusBanner).plain
            # One subscribe and two status.get per connection (the rows, then the whole
            # picture): the reconnect resubscribed.
            assert daemon.count("subscribe") == 2
            assert daemon.count("status.get") == 4
    finally:
        await daemon.stop()


async def test_no_daemon_says_how_to_start_one_and_keeps_trying(sock_path: Path) -> None:
    app = fast_app(sock_path)
    async with app.run_test(size=(80, 24)) as pilot:
        hint = app.screen.query_one("#no-daemon")
        await wait_until(pilot, lambda: hint.display)
        text = screen_text(app)
        assert "No slamon daemon is running at" in text
        assert "slamond --config slamon.toml" in text
        assert "make run" in text
        assert "No daemon running" in str(app.screen.query_one(StatusBanner).content)
        async with FakeDaemon(sock_path, demo_snapshot()):
            await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
            assert not hint.display


async def test_keys_move_the_cursor_show_help_and_quit(daemon: FakeDaemon) -> None:
    app = fast_app(daemon.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.order) == 4)
        # Problems first: major, partial, degraded, then the operational one.
        assert app.dashboard.order == ["down", "flaky", "slow", "api"]
        assert app.dashboard.selected_id == "down"
        assert _line_of(app, "Legacy billing").startswith("▸ ")
        await pilot.press("j", "down")
        assert app.dashboard.selected_id == "slow"
        await pilot.press("k")
        assert app.dashboard.selected_id == "flaky"
        assert _line_of(app, "Legacy billing").startswith("  ")
        assert _line_of(app, "Flaky backend").startswith("▸ ")
        await pilot.press("G")
        assert app.dashboard.selected_id == "api"
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        assert "Keys here: Dashboard" in text  # the keys of the screen it was opened on
        assert "first / last line" in text
        assert "next / previous problem" in text
        assert "service detail" in text
        # At 80×24 the legend is below the fold of the help box: it scrolls by keys.
        await pilot.press("end")
        await pilot.pause()
        legend = " ".join(screen_text(app).replace("│", " ").split())
        assert "✕ a failed check, whose time to fail is not a response time" in legend
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.dashboard
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0
    assert not app.is_running


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    """Where screenshots go: $SLAMON_SCREENSHOTS to keep them, else a temp dir."""
    out = Path(os.environ.get("SLAMON_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.mark.parametrize("size", [(80, 24), (200, 50), (300, 60)])
async def test_screenshots(daemon: FakeDaemon, screenshot_dir: Path, size: tuple[int, int]) -> None:
    """Saves SVGs to look at (in $SLAMON_SCREENSHOTS if set) and checks nothing overflows."""
    app = fast_app(daemon.path)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
        app.save_screenshot(f"dashboard-{size[0]}x{size[1]}.svg", path=str(screenshot_dir))
        assert "Public&#160;API" in app.export_screenshot()
        table = app.dashboard.query_one(ServiceTable)
        assert table.region.right <= size[0]
        text = screen_text(app)
        for name in ("Public API", "Slow service", "Flaky backend", "Legacy billing"):
            # Each row fits on one line, its name whole (names get their width first).
            [line] = [line for line in text.splitlines() if name in line]
            assert len(line) <= size[0]
        assert "Major Outage" in text
        header = next(line for line in text.splitlines() if "Service" in line)
        for title in ("Status", "days ago", "Today", "Uptime", "Latency"):
            assert title in header
        if size[0] >= 200:  # wide: the sparkline has room after the columns
            assert "Trend" in header
            assert app.dashboard.columns.spark_width(table.size.width) >= 5


async def test_r_while_disconnected_retries_at_once(sock_path: Path) -> None:
    # A backoff far longer than the test: only `r` can make it connect in time.
    app = make_app(sock_path, retry_initial=60.0, retry_max=60.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.screen.query_one("#no-daemon").display)
        async with FakeDaemon(sock_path, demo_snapshot()):
            await pilot.press("r")
            await wait_until(pilot, lambda: len(app.dashboard.rows) == 4, within=3.0)


async def test_snapshot_diff_removes_reorders_and_inserts(daemon: FakeDaemon) -> None:
    daemon.snapshot = make_snapshot([make_service(s) for s in ("a", "b", "c", "d")])
    app = fast_app(daemon.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
        daemon.snapshot = make_snapshot(
            [make_service(s) for s in ("n1", "c", "n2", "n3", "a", "n4")]
        )
        await pilot.press("r")
        await wait_until(pilot, lambda: "n4" in app.dashboard.rows)
        await pilot.pause()
        # All operational: the daemon's order is kept.
        order = app.dashboard.order
        assert order == ["n1", "c", "n2", "n3", "a", "n4"]
        assert set(app.dashboard.rows) == set(order)
        assert [ln for ln in screen_text(app).splitlines() if ln[2:4] in ("N1", "C ", "A ")]


async def test_a_bug_in_the_feed_worker_is_reported_and_the_feed_restarts(
    daemon: FakeDaemon,
) -> None:
    calls: list[Path] = []

    def flaky_factory(path: Path) -> FeedClient:
        calls.append(path)
        if len(calls) == 1:
            raise RuntimeError("boom")  # not a FeedClientError: the worker dies
        return FeedClient(path)

    app = make_app(daemon.path, client_factory=flaky_factory, retry_initial=0.05, retry_max=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
        assert len(calls) == 2
        assert any("boom" in str(n.message) for n in app._notifications)


async def test_the_rows_come_first_and_the_sparklines_and_day_bars_right_after(
    daemon: FakeDaemon,
) -> None:
    """A connection asks for the statuses without the bulky keys (issue 14: first paint),
    then for the whole picture, which fills the sparklines and the 90-day bars."""
    app = fast_app(daemon.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: daemon.count("status.get") == 2)
        first, whole = [
            r.get("params") or {} for r in daemon.requests if r.get("method") == "status.get"
        ]
        assert first == {"omit": ["daily", "latencies", "outcomes"]}
        assert "omit" not in whole
        model = app.dashboard.model
        await wait_until(
            pilot, lambda: bool(model.services) and len(model.services["api"].latencies) == 60
        )
        assert model.services["api"].daily  # the day bar's cells came with the whole picture
