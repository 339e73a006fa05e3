"""The daemon's own troubles on the dashboard (issue 10): the line under the connection line
says the database is unreachable, the journal fails, checks run late; hidden when all is well
(or when the daemon does not answer daemon.stats)."""

from __future__ import annotations

from typing import Any

from slamon_tui.client import DaemonUnreachable, FeedClient
from slamon_tui.widgets.daemon_health import DaemonHealth, health_lines

from .fake_daemon import FakeDaemon
from .helpers import fast_app, screen_text, wait_until

HEALTHY: dict[str, Any] = {
    "write_pending": 0,
    "store_ok": True,
    "database": {"state": "connected", "error": None, "unreachable_for_s": None},
    "journal": {"ok": True, "error": None, "held": 0, "lost": 0},
    "write_error": None,
    "overload": {"active": False, "text": None},
}

TROUBLED: dict[str, Any] = {
    **HEALTHY,
    "write_pending": 1234,
    "store_ok": False,
    "database": {"state": "unreachable", "error": "refused", "unreachable_for_s": 150.0},
    "journal": {"ok": False, "error": "No space left on device", "held": 56, "lost": 0},
    "overload": {"active": True, "text": "checks running late: p99 7 s, 75 % skipped"},
}


def test_health_lines_name_each_trouble() -> None:
    assert health_lines(HEALTHY) == []
    assert health_lines({}) == []
    assert health_lines(TROUBLED) == [
        "⚠ database unreachable for 2 min: probing goes on, 1,234 records wait in the journal",
        "⚠ journal failing (No space left on device): 56 records held in memory",
        "⚠ checks running late: p99 7 s, 75 % skipped",
    ]
    lost = {**HEALTHY, "database": {"state": "lost", "error": "the file was deleted"}}
    assert health_lines(lost) == ["⚠ database: the file was deleted"]


async def test_the_dashboard_shows_the_daemons_troubles(daemon: FakeDaemon) -> None:
    daemon.results["daemon.stats"] = TROUBLED
    app = fast_app(daemon.path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
        health = app.screen.query_one(DaemonHealth)
        await wait_until(pilot, lambda: health.display)
        text = screen_text(app)
        assert "database unreachable for 2 min" in text
        assert "checks running late: p99 7 s, 75 % skipped" in text
        daemon.results["daemon.stats"] = HEALTHY
        health.poll()
        await wait_until(pilot, lambda: not health.display)
        assert "running late" not in screen_text(app)


async def test_no_daemon_stats_no_line(daemon: FakeDaemon) -> None:
    app = fast_app(daemon.path)  # the fake answers daemon.stats with unknown_method
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
        await wait_until(pilot, lambda: daemon.count("daemon.stats") >= 1)
        await pilot.pause()
        assert not app.screen.query_one(DaemonHealth).display


async def test_a_connection_over_the_limit_is_told_why(daemon: FakeDaemon) -> None:
    daemon.hello = {"id": None, "error": {"code": "rate_limited", "message": "too many"}}
    try:
        async with FeedClient(daemon.path):
            raise AssertionError("connected")
    except DaemonUnreachable as exc:
        assert "refused the connection: too many" in str(exc)
