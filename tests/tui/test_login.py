"""The login screen, the identity line and the token cache, against the fake daemon."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from textual.widgets import Button, Input

from slamon_tui.app import make_app
from slamon_tui.client import Login
from slamon_tui.screens.dashboard import DashboardScreen
from slamon_tui.screens.login import LoginScreen
from slamon_tui.token_cache import TokenCache, cache_file

from .fake_daemon import FakeDaemon
from .helpers import FAST_RETRY, fast_app, screen_text, wait_until
from .login_helpers import PASSWORDS, ROLES, log_in_with_keys, submit_login


@pytest.fixture
def users(daemon: FakeDaemon) -> FakeDaemon:
    """The demo daemon with alice (admin), rita (reporter) and victor (viewer)."""
    for name, password in PASSWORDS.items():
        daemon.auth.add_user(name, password, ROLES[name], f"{name}@example.com")
    return daemon


def _cache(daemon: FakeDaemon, xdg: Path) -> Path:
    return cache_file(daemon.path, xdg / "slamon")


def _login_of(
    daemon: FakeDaemon, name: str, *, expires_in: timedelta = timedelta(hours=1)
) -> Login:
    """A login the fake daemon knows, as if made by an earlier run."""
    result = daemon.auth._issue(name)
    result["expires_at"] = (datetime.now(UTC) + expires_in).isoformat()
    return Login.from_result(result)


async def test_login_shows_identity_and_caches_the_token_0600(
    users: FakeDaemon, _token_cache_in_tmp: Path
) -> None:
    app = fast_app(users.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
        assert "anonymous · viewer" in screen_text(app)
        assert "L Log in" in screen_text(app)
        await log_in_with_keys(pilot, app, "alice")
        assert app.identity.role == "admin" and app.identity.logged_in is True
        await pilot.pause()
        text = screen_text(app)
        assert "alice · admin" in text
        assert "L Log in" not in text  # logged in: no login key
        assert isinstance(app.screen, DashboardScreen)
    path = _cache(users, _token_cache_in_tmp)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    cached = json.loads(path.read_text())
    assert set(cached) == {"access_token", "refresh_token", "expires_at", "user"}
    assert cached["user"]["username"] == "alice"
    assert cached["access_token"] in users.auth.tokens_of("alice")


async def test_wrong_password_is_said_inline_and_the_password_cleared(users: FakeDaemon) -> None:
    app = fast_app(users.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.session.client is not None)
        await pilot.press("L")
        await wait_until(pilot, lambda: isinstance(app.screen, LoginScreen))
        screen = await submit_login(pilot, "alice", "not-her-password")
        await wait_until(pilot, lambda: screen.error_text != "")
        assert "wrong username or password" in screen.error_text
        assert "wrong username or password" in screen_text(app)
        assert screen.query_one("#login-password", Input).value == ""
        assert screen.query_one("#login-username", Input).value == "alice"
        assert app.focused is screen.query_one("#login-password", Input)
        assert app.identity.logged_in is False
        # Empty fields are caught before asking the daemon.
        logins = users.count("auth.login")
        await pilot.press("enter")
        await pilot.pause()
        assert "enter the password" in screen.error_text
        assert users.count("auth.login") == logins


async def test_sixth_attempt_after_five_failures_says_retry_in(users: FakeDaemon) -> None:
    app = fast_app(users.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.session.client is not None)
        await pilot.press("L")
        await wait_until(pilot, lambda: isinstance(app.screen, LoginScreen))
        screen = app.screen
        assert isinstance(screen, LoginScreen)
        for attempt in range(1, 7):
            await submit_login(pilot, "rita", f"wrong-{attempt}")
            await wait_until(pilot, lambda n=attempt: users.count("auth.login") == n)
            await wait_until(pilot, lambda: not screen.busy)
        assert screen.error_text == "too many failed logins; retry in 900 s"
        assert "too many failed logins; retry in 900 s" in screen_text(app)
        # Even the right password is refused now; the screen stays.
        await submit_login(pilot, "rita", PASSWORDS["rita"])
        await wait_until(pilot, lambda: users.count("auth.login") == 7)
        await wait_until(pilot, lambda: not screen.busy)
        assert "too many failed logins" in screen.error_text
        assert isinstance(app.screen, LoginScreen)


async def test_continue_without_login_when_the_daemon_allows_it(users: FakeDaemon) -> None:
    app = fast_app(users.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.session.client is not None)
        await pilot.press("L")
        await wait_until(pilot, lambda: isinstance(app.screen, LoginScreen))
        assert app.screen.query_one("#login-skip", Button).display
        assert "Continue without login" in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert app.identity.name == "anonymous" and app.identity.role == "viewer"


async def test_no_anonymous_reads_opens_on_the_login_screen(users: FakeDaemon) -> None:
    users.auth.anonymous_read = False
    app = fast_app(users.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, LoginScreen))
        screen = app.screen
        assert isinstance(screen, LoginScreen)
        assert not screen.anonymous_allowed
        assert not screen.query_one("#login-skip", Button).display
        assert "needs a login" in screen_text(app)
        assert users.count("status.get") == 0  # nothing is read before the login
        await pilot.press("escape")  # no way around it
        await pilot.pause()
        assert app.screen is screen
        await submit_login(pilot, "victor", PASSWORDS["victor"])
        await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
        assert isinstance(app.screen, DashboardScreen)
        assert "victor · viewer" in screen_text(app)


async def test_cached_login_is_reused_at_start(
    users: FakeDaemon, _token_cache_in_tmp: Path
) -> None:
    login = _login_of(users, "rita")
    TokenCache(_cache(users, _token_cache_in_tmp)).save(login)
    users.auth.anonymous_read = False  # a reused login needs no login screen even here
    app = fast_app(users.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
        assert app.identity.name == "rita" and app.identity.role == "reporter"
        assert isinstance(app.screen, DashboardScreen)
        assert "rita · reporter" in screen_text(app)
    assert users.count("auth.login") == 0
    sent = {r.get("token") for r in users.requests if r["method"] == "status.get"}
    assert sent == {login.access_token}


async def test_expired_cache_is_not_used_and_removed(
    users: FakeDaemon, _token_cache_in_tmp: Path
) -> None:
    path = _cache(users, _token_cache_in_tmp)
    TokenCache(path).save(_login_of(users, "rita", expires_in=timedelta(seconds=-5)))
    app = fast_app(users.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
        assert app.identity.logged_in is False
    assert not path.exists()
    assert all("token" not in r for r in users.requests)


async def test_user_option_preselects_the_name_and_ignores_another_users_cache(
    users: FakeDaemon, _token_cache_in_tmp: Path
) -> None:
    path = _cache(users, _token_cache_in_tmp)
    TokenCache(path).save(_login_of(users, "rita"))
    app = make_app(users.path, user="victor", **FAST_RETRY)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, LoginScreen))
        screen = app.screen
        assert isinstance(screen, LoginScreen)
        assert screen.query_one("#login-username", Input).value == "victor"
        assert app.focused is screen.query_one("#login-password", Input)
        assert app.identity.name == "anonymous"  # rita's cached login was not used
        await pilot.press(*PASSWORDS["victor"], "enter")
        await wait_until(pilot, lambda: app.identity.name == "victor")
    assert json.loads(path.read_text())["user"]["username"] == "victor"


async def test_logout_ends_the_login_and_clears_the_cache(
    users: FakeDaemon, _token_cache_in_tmp: Path
) -> None:
    app = fast_app(users.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
        await log_in_with_keys(pilot, app, "rita")
        path = _cache(users, _token_cache_in_tmp)
        assert path.exists()
        refresh = json.loads(path.read_text())["refresh_token"]
        assert app.check_action("logout", ()) is True
        assert "Log out" in {c.title for c in app.get_system_commands(app.screen)}
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: app.identity.name == "anonymous")
        assert not path.exists()
        assert users.count("auth.logout") == 1
        assert refresh not in users.auth.refresh_tokens  # revoked on the daemon
        text = screen_text(app)
        assert "anonymous · viewer" in text and "L Log in" in text
        assert isinstance(app.screen, DashboardScreen)


async def test_logout_without_anonymous_reads_returns_to_the_login_screen(
    users: FakeDaemon,
) -> None:
    users.auth.anonymous_read = False
    app = fast_app(users.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, LoginScreen))
        await submit_login(pilot, "victor", PASSWORDS["victor"])
        await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: isinstance(app.screen, LoginScreen))
        assert not app.screen.anonymous_allowed  # type: ignore[attr-defined]
        assert app.identity.role == "anonymous"


async def test_an_expired_token_is_refreshed_once_and_the_call_made_again(
    users: FakeDaemon, _token_cache_in_tmp: Path
) -> None:
    app = fast_app(users.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
        await log_in_with_keys(pilot, app, "alice")
        old = app.session.credentials.token
        assert old is not None
        users.auth.expire(old)
        gets = users.count("status.get")
        await pilot.press("r")
        await wait_until(pilot, lambda: users.count("status.get") == gets + 2)
        await pilot.pause(0.1)
        assert users.count("auth.refresh") == 1
        new = app.session.credentials.token
        assert new not in (None, old)
        tokens = [r.get("token") for r in users.requests if r["method"] == "status.get"]
        assert tokens[-2:] == [old, new]  # refused, then made again with the new token
        assert app.identity.name == "alice"
        assert isinstance(app.screen, DashboardScreen)
        cached = json.loads(_cache(users, _token_cache_in_tmp).read_text())
        assert cached["access_token"] == new


async def test_a_login_that_cannot_be_refreshed_goes_to_the_login_screen(
    users: FakeDaemon, _token_cache_in_tmp: Path
) -> None:
    app = fast_app(users.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
        await log_in_with_keys(pilot, app, "rita")
        users.auth.revoke("rita")  # as a role change or a password reset does
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, LoginScreen))
        screen = app.screen
        assert isinstance(screen, LoginScreen)
        assert "login ended" in screen_text(app)
        assert app.session.credentials.login is None
        assert not _cache(users, _token_cache_in_tmp).exists()
        assert app.identity.name == "anonymous"
        await submit_login(pilot, "rita", PASSWORDS["rita"])
        await wait_until(pilot, lambda: app.identity.name == "rita")
