"""The TUI on a real daemon (no fake): local HTTP targets, a SQLite store, the feed socket.

One target is stopped and the dashboard must show that service's outage while the other
stays operational; the detail screen shows it too, with its outage episode. Then the daemon
goes away and a new one takes its socket: the TUI says "reconnecting…" and comes back live.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from slamon_daemon.config import Settings, load_settings
from slamon_daemon.daemon import Daemon
from slamon_daemon.targets import Target, respond
from slamon_tui.app import SlamonApp, make_app
from slamon_tui.screens.service import ServiceScreen
from slamon_tui.widgets.episode_list import EpisodeList
from slamon_tui.widgets.service_header import ServiceHeader
from slamon_tui.widgets.status_banner import StatusBanner
from tests.tui.helpers import screen_text, wait_until

OPERATIONAL = "● Operational"
LIVE_WAIT_S = 15.0  # generous: checks every 300 ms, two failures confirm an outage


@pytest.fixture
def folder() -> Iterator[Path]:
    """A short directory under /tmp: the socket path must stay under ~100 bytes."""
    path = Path(tempfile.mkdtemp(prefix="slamon-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _write_config(folder: Path, api_url: str, web_url: str) -> Path:
    services = "".join(
        f'\n[[service]]\nid = "{sid}"\nname = "{name}"\nurl = "{url}"\n'
        f'interval = "300ms"\ntimeout = "1s"\nconfirm_failures = 2\n'
        for sid, name, url in (("api", "Public API", api_url), ("web", "Website", web_url))
    )
    path = folder / "slamon.toml"
    path.write_text(
        f'[daemon]\ndatabase_url = "sqlite:///{folder}/db.sqlite"\nsocket = "{folder}/s.sock"\n'
        f'write_flush_interval = "100ms"\n{services}',
        encoding="utf-8",
    )
    return path


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Daemon]:
    """A daemon running in this event loop until the block ends (or it is stopped)."""
    daemon = Daemon(settings)
    runner = asyncio.create_task(daemon.run())
    try:
        await asyncio.wait_for(daemon.started.wait(), 20)
        yield daemon
    finally:
        daemon.request_stop()
        await asyncio.wait_for(runner, 20)


def _app(settings: Settings) -> SlamonApp:
    return make_app(settings.daemon.socket, retry_initial=0.05, retry_max=0.3)


async def test_dashboard_and_detail_follow_a_real_outage(folder: Path) -> None:
    async with Target(respond(200)) as api, Target(respond(200)) as web:
        settings, _ = load_settings(_write_config(folder, api.url, web.url))
        assert len(str(settings.daemon.socket)) < 100
        async with running(settings):
            app = _app(settings)
            async with app.run_test(size=(80, 24)) as pilot:
                rows = app.dashboard.rows
                await wait_until(pilot, lambda: set(rows) == {"api", "web"}, LIVE_WAIT_S)
                await wait_until(
                    pilot,
                    lambda: all(r.status_text == OPERATIONAL for r in rows.values()),
                    LIVE_WAIT_S,
                )
                text = screen_text(app)
                assert "All Systems Operational" in text
                assert sum(OPERATIONAL in line for line in text.splitlines()) == 2

                await web.stop()  # connections to it are now refused
                await wait_until(
                    pilot, lambda: rows["web"].service.status == "major_outage", LIVE_WAIT_S
                )
                await pilot.pause(0.2)
                web_line = next(ln for ln in screen_text(app).splitlines() if "Website" in ln)
                assert "✕ Major" in web_line and "conn err" in web_line
                assert rows["api"].status_text == OPERATIONAL
                banner = app.screen.query_one(StatusBanner)
                assert banner.status != "operational"

                # The failing row went first (problems first; the cursor stayed on api):
                # its detail, its status, and the episode under way.
                assert app.dashboard.order == ["web", "api"]  # type: ignore[attr-defined]
                await pilot.press("g")
                assert app.dashboard.selected_id == "web"  # type: ignore[attr-defined]
                await pilot.press("enter")
                await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen))
                screen = app.screen
                assert isinstance(screen, ServiceScreen) and screen.service_id == "web"
                header = screen.query_one(ServiceHeader)
                await wait_until(pilot, lambda: screen.detail is not None, LIVE_WAIT_S)
                assert "✕ Major outage" in header.plain
                assert "Uptime  24h" in header.plain
                episodes = screen.query_one(EpisodeList)
                # Episodes are written by the daemon's writer; the screen reloads on checks.
                await wait_until(
                    pilot,
                    lambda: bool((screen.detail or {}).get("episodes")),
                    LIVE_WAIT_S,
                )
                episode = screen.detail["episodes"][0]  # type: ignore[index]
                assert episode["ended_at"] is None and episode["cause"] == "connection_error"
                episodes.scroll_visible(animate=False)
                await pilot.pause(0.1)
                text = screen_text(app)
                assert "ongoing" in text and "✕ Major" in text

                await pilot.press("escape")
                await pilot.pause()
                assert app.screen is app.dashboard
                assert app.dashboard.selected_id == "web"  # type: ignore[attr-defined]
                assert rows["api"].status_text == OPERATIONAL


async def test_reconnects_to_a_new_daemon_on_the_same_socket(folder: Path) -> None:
    async with Target(respond(200)) as api, Target(respond(200)) as web:
        settings, _ = load_settings(_write_config(folder, api.url, web.url))
        app = _app(settings)
        async with app.run_test(size=(80, 24)) as pilot:
            rows = app.dashboard.rows
            connection = app.screen.query_one("#connection")
            async with running(settings):
                await wait_until(
                    pilot,
                    lambda: (
                        len(rows) == 2 and all(r.status_text == OPERATIONAL for r in rows.values())
                    ),
                    LIVE_WAIT_S,
                )
                assert "● live" in str(connection.content)
            # The daemon stopped (goodbye, socket removed): the TUI says so and retries.
            await wait_until(pilot, lambda: "reconnecting…" in str(connection.content))
            assert "reconnecting…" in screen_text(app)
            assert app.dashboard.has_class("-stale")
            before = rows["api"].service.last_check
            assert before is not None

            async with running(settings):
                await wait_until(pilot, lambda: "● live" in str(connection.content), LIVE_WAIT_S)
                # Live again: new checks from the new daemon reach the rows.
                await wait_until(
                    pilot,
                    lambda: (
                        (rows["api"].service.last_check or {}).get("started_at")
                        != before.get("started_at")
                    ),
                    LIVE_WAIT_S,
                )
                assert not app.dashboard.has_class("-stale")
                assert all(r.status_text == OPERATIONAL for r in rows.values())
                assert app.dashboard.selected_id is not None  # type: ignore[attr-defined]
                assert "NOT LIVE" not in app.screen.query_one(StatusBanner).plain
