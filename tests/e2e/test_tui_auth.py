"""Logins in the TUI against a REAL daemon (no fake): argon2 hashes, JWTs, roles on the
daemon side, login throttling.

The daemon runs with ``anonymous_read = true`` and ``owner_is_admin = false``: without a
login the TUI is an anonymous viewer. The first admin is made the way ``slamon user add``
makes one (the store and ``hash_password``). Then, through the pilot only: the admin logs in
and creates a reporter in the Admin screen; a second app logs in as that reporter and is
offered reporter actions (a new incident) but no Admin; a viewer is offered neither; five
wrong passwords make the sixth attempt say "too many failed logins; retry in …".
"""

from __future__ import annotations

import asyncio
import shutil
import stat
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from textual.widgets import Select

from slamon_daemon.auth import hash_password
from slamon_daemon.config import Settings, load_settings
from slamon_daemon.daemon import Daemon
from slamon_daemon.models import Role
from slamon_daemon.targets import Target, respond
from slamon_tui.app import SlamonApp, make_app
from slamon_tui.screens.admin import AdminScreen
from slamon_tui.screens.admin_forms import UserAddDialog
from slamon_tui.screens.dashboard import DashboardScreen
from slamon_tui.screens.incidents import IncidentsScreen
from slamon_tui.screens.login import LoginScreen
from slamon_tui.token_cache import cache_file
from tests.tui.helpers import screen_text, wait_until
from tests.tui.login_helpers import submit_login, type_into

ADMIN_PW = "alice-Pa55word-1"
REPORTER_PW = "rita-Pa55word-22"
VIEWER_PW = "victor-Pa55word-3"
WAIT_S = 20.0  # argon2 takes ~0.2 s a login; the daemon's first snapshot can take a moment


@pytest.fixture
def folder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A short directory under /tmp (socket paths stay under ~100 bytes); logins cached in it."""
    path = Path(tempfile.mkdtemp(prefix="slamon-", dir="/tmp"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(path / "cache"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _settings(folder: Path, url: str) -> Settings:
    config = folder / "slamon.toml"
    config.write_text(
        "[daemon]\n"
        f'database_url = "sqlite:///{folder}/db.sqlite"\n'
        f'socket = "{folder}/s.sock"\n'
        f'spool_dir = "{folder}/spool"\n'
        f'secret_file = "{folder}/jwt.secret"\n'
        "anonymous_read = true\n"
        "owner_is_admin = false\n"
        'write_flush_interval = "100ms"\n'
        '\n[[service]]\nid = "api"\nname = "Public API"\n'
        f'url = "{url}"\ninterval = "1s"\ntimeout = "1s"\n',
        encoding="utf-8",
    )
    settings, _ = load_settings(config)
    return settings


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Daemon]:
    """A real daemon in this event loop, with its first admin (alice) in the store."""
    daemon = Daemon(settings)
    runner = asyncio.create_task(daemon.run())
    try:
        await asyncio.wait_for(daemon.started.wait(), WAIT_S)
        # As `slamon user add --role admin` does: there is no built-in password.
        await daemon.store.create_user(
            "alice", "alice@example.com", hash_password(ADMIN_PW), Role.ADMIN
        )
        yield daemon
    finally:
        daemon.request_stop()
        await asyncio.wait_for(runner, WAIT_S)


def _app(settings: Settings, user: str | None = None) -> SlamonApp:
    return make_app(settings.daemon.socket, retry_initial=0.05, retry_max=0.3, user=user)


async def _log_in(pilot, app: SlamonApp, name: str, password: str) -> None:  # type: ignore[no-untyped-def]
    """The login screen (L, or already open with --user), the fields, Enter."""
    await wait_until(pilot, lambda: app.session.client is not None, WAIT_S)
    if not isinstance(app.screen, LoginScreen):
        await pilot.press("L")
    await wait_until(pilot, lambda: isinstance(app.screen, LoginScreen), WAIT_S)
    await submit_login(pilot, name, password)
    await wait_until(pilot, lambda: app.identity.name == name, WAIT_S)
    await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), WAIT_S)


async def _offered_new_incident(pilot, app: SlamonApp) -> bool:  # type: ignore[no-untyped-def]
    """Open the incidents screen (I) and say whether it offers "new incident"; go back."""
    await pilot.press("I")
    await wait_until(pilot, lambda: isinstance(app.screen, IncidentsScreen), WAIT_S)
    await pilot.pause(0.2)
    offered = app.screen.check_action("new", ()) is True
    await pilot.press("escape")
    await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen), WAIT_S)
    return offered


async def test_admin_creates_a_reporter_who_gets_reporter_actions_but_no_admin(
    folder: Path,
) -> None:
    async with Target(respond(200)) as target:
        settings = _settings(folder, target.url)
        async with running(settings) as daemon:
            # 1. The admin logs in and adds a reporter in the Admin screen.
            admin_app = _app(settings)
            async with admin_app.run_test(size=(100, 30)) as pilot:
                await wait_until(pilot, lambda: "api" in admin_app.dashboard.rows, WAIT_S)
                assert admin_app.identity.name == "anonymous"
                assert admin_app.identity.role == "viewer"
                assert "anonymous · viewer" in screen_text(admin_app)
                assert admin_app.check_action("admin", ()) is False
                await _log_in(pilot, admin_app, "alice", ADMIN_PW)
                assert "alice · admin" in screen_text(admin_app)
                assert "A Admin" in screen_text(admin_app)
                await pilot.press("A")
                await wait_until(pilot, lambda: isinstance(admin_app.screen, AdminScreen))
                admin = admin_app.screen
                assert isinstance(admin, AdminScreen)
                await wait_until(
                    pilot, lambda: [u["username"] for u in admin.users] == ["alice"], WAIT_S
                )
                await pilot.press("n")
                await wait_until(pilot, lambda: isinstance(admin_app.screen, UserAddDialog))
                form = admin_app.screen
                assert isinstance(form, UserAddDialog)
                await pilot.press(*"rita", "tab", *"rita@example.com", "tab")
                assert admin_app.focused is form.query_one("#input-role", Select)
                await pilot.press("enter", "down", "enter")
                assert form.value("role") == "reporter"
                # A short password first: the daemon's problem shows next to the field.
                await type_into(pilot, "#input-password", "short")
                await type_into(pilot, "#input-repeat", "short")
                await pilot.press("enter")
                await wait_until(pilot, lambda: form.field("password").error_text != "", WAIT_S)
                assert "at least 10 characters" in form.field("password").error_text
                await type_into(pilot, "#input-password", REPORTER_PW)
                await type_into(pilot, "#input-repeat", REPORTER_PW)
                await pilot.press("enter")
                await wait_until(pilot, lambda: isinstance(admin_app.screen, AdminScreen), WAIT_S)
                await wait_until(
                    pilot, lambda: any(u["username"] == "rita" for u in admin.users), WAIT_S
                )
                rita_line = next(
                    line
                    for line in screen_text(admin_app).splitlines()
                    if line.lstrip().startswith("rita ")
                )
                assert "reporter" in rita_line and "active" in rita_line
                # Also a viewer, for step 3 (set up directly: this flow is shown above).
                await admin_app.session.call(
                    "user.add", {"username": "victor", "role": "viewer", "password": VIEWER_PW}
                )
            stored = await daemon.store.get_user("rita")
            assert stored is not None and stored.role is Role.REPORTER
            audit = await daemon.store.list_audit(limit=10)
            assert any(
                e.method == "user.add" and e.actor == "alice" and e.target == "rita" for e in audit
            )
            cached = cache_file(settings.daemon.socket)
            assert stat.S_IMODE(cached.stat().st_mode) == 0o600  # alice's login, cached

            # 2. A second app logs in as the reporter (--user: alice's cached login is ignored).
            reporter_app = _app(settings, user="rita")
            async with reporter_app.run_test(size=(100, 30)) as pilot:
                await wait_until(
                    pilot, lambda: isinstance(reporter_app.screen, LoginScreen), WAIT_S
                )
                assert reporter_app.identity.name == "anonymous"
                await _log_in(pilot, reporter_app, "rita", REPORTER_PW)
                assert reporter_app.identity.role == "reporter"
                text = screen_text(reporter_app)
                assert "rita · reporter" in text and "Admin" not in text
                assert reporter_app.check_action("admin", ()) is False
                await pilot.press("A")
                await pilot.pause(0.2)
                assert isinstance(reporter_app.screen, DashboardScreen)
                assert await _offered_new_incident(pilot, reporter_app)
                # The daemon agrees: admin methods are refused to her token.
                with pytest.raises(Exception, match="forbidden"):
                    await reporter_app.session.call("user.list", {})

            # 3. A viewer: neither admin nor incident actions.
            viewer_app = _app(settings, user="victor")
            async with viewer_app.run_test(size=(100, 30)) as pilot:
                await _log_in(pilot, viewer_app, "victor", VIEWER_PW)
                assert "victor · viewer" in screen_text(viewer_app)
                assert viewer_app.check_action("admin", ()) is False
                assert not await _offered_new_incident(pilot, viewer_app)

            # 4. Logging out ends the login on the daemon and deletes the cache.
            again = _app(settings, user="victor")
            async with again.run_test(size=(100, 30)) as pilot:
                await wait_until(pilot, lambda: again.identity.name == "victor", WAIT_S)
                assert not isinstance(again.screen, LoginScreen)  # the cached login, reused
                await pilot.press("ctrl+l")
                await wait_until(pilot, lambda: again.identity.name == "anonymous", WAIT_S)
            assert not cache_file(settings.daemon.socket).exists()


async def test_sixth_login_after_five_wrong_passwords_says_retry_in(folder: Path) -> None:
    async with Target(respond(200)) as target:
        settings = _settings(folder, target.url)
        async with running(settings):
            app = _app(settings, user="alice")
            async with app.run_test(size=(80, 24)) as pilot:
                await wait_until(pilot, lambda: isinstance(app.screen, LoginScreen), WAIT_S)
                screen = app.screen
                assert isinstance(screen, LoginScreen)
                for attempt in range(1, 6):
                    await submit_login(pilot, "alice", f"wrong-password-{attempt}")
                    await wait_until(
                        pilot, lambda: not screen.busy and screen.error_text != "", WAIT_S
                    )
                    assert screen.error_text == "wrong username or password", attempt
                await submit_login(pilot, "alice", ADMIN_PW)  # even the right one now
                await wait_until(pilot, lambda: "too many" in screen.error_text, WAIT_S)
                assert screen.error_text.startswith("too many failed logins; retry in ")
                assert screen.error_text.endswith(" s")
                assert "too many failed logins; retry in" in screen_text(app)
                assert isinstance(app.screen, LoginScreen)
                assert app.identity.logged_in is False
