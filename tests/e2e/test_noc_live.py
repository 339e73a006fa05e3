"""Issue 12: ``slamon --noc`` on a real daemon (SQLite, local targets, the socket) that is
restarted under it: every problem on screen without a key, NOT LIVE while the daemon is
away, live again by itself, with "since" kept across the restart."""

from __future__ import annotations

from pathlib import Path

from slamon_daemon.config import load_settings
from slamon_daemon.targets import Target, free_port, respond
from slamon_tui.app import make_app
from slamon_tui.screens.noc import NocScreen
from slamon_tui.widgets.status_banner import StatusBanner
from tests.tui.helpers import screen_text, wait_until

from .test_tui_live import LIVE_WAIT_S, folder, running  # noqa: F401


def _config(where: Path, up_url: str, down_urls: list[str], n_up: int) -> Path:
    services = []
    for i in range(n_up):
        services.append((f"up-{i:02d}", f"Healthy {i:02d}", up_url))
    for i, url in enumerate(down_urls):
        services.append((f"down-{i}", f"Broken {i}", url))
    body = "".join(
        f'\n[[service]]\nid = "{sid}"\nname = "{name}"\nurl = "{url}"\n'
        f'interval = "500ms"\ntimeout = "1s"\nconfirm_failures = 2\n'
        for sid, name, url in services
    )
    path = where / "slamon.toml"
    path.write_text(
        f'[daemon]\ndatabase_url = "sqlite:///{where}/db.sqlite"\nsocket = "{where}/s.sock"\n'
        f'write_flush_interval = "100ms"\nanonymous_read = true\n{body}',
        encoding="utf-8",
    )
    return path


async def test_noc_survives_a_daemon_restarted_under_it(folder: Path) -> None:  # noqa: F811
    async with Target(respond(200)) as up:
        refused = [f"http://127.0.0.1:{free_port()}/" for _ in range(3)]
        settings, _ = load_settings(_config(folder, up.url, refused, n_up=37))
        app = make_app(settings.daemon.socket, noc=True, retry_initial=0.05, retry_max=0.3)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.dashboard
            assert isinstance(screen, NocScreen)
            banner = app.screen.query_one(StatusBanner)
            async with running(settings):
                await wait_until(pilot, lambda: "3 down · 37 up" in banner.plain, LIVE_WAIT_S * 2)
                text = screen_text(app)
                for i in range(3):
                    line = next(ln for ln in text.splitlines() if f"Broken {i}" in ln)
                    assert "✕ Major" in line and "conn err" in line
                since = {
                    sid: s.trouble_since
                    for sid, s in screen.model.services.items()
                    if sid.startswith("down")
                }
            # The daemon stopped under it: NOT LIVE, neutral, still showing the last known.
            await wait_until(pilot, lambda: banner.has_class("-stale"), LIVE_WAIT_S)
            assert "NOT LIVE — last known" in screen_text(app)
            assert "Broken 0" in screen_text(app)
            async with running(settings):
                await wait_until(pilot, lambda: not banner.has_class("-stale"), LIVE_WAIT_S)
                await wait_until(pilot, lambda: "3 down · 37 up" in banner.plain, LIVE_WAIT_S)
                text = screen_text(app)
                for i in range(3):
                    assert f"Broken {i}" in text
                # "since" comes from the stored episode: the same after the restart.
                again = {
                    sid: s.trouble_since
                    for sid, s in screen.model.services.items()
                    if sid.startswith("down")
                }
                assert again == since
            assert app.screen is screen  # no key was ever needed, no dialog opened
