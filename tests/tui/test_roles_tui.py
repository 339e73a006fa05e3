"""What each role is offered: viewers and reporters see no admin key, admins do; the
identity is on screen and follows logins and role changes."""

from __future__ import annotations

import pytest
from textual.screen import Screen

from slamon_tui.app import SlamonApp
from slamon_tui.identity import Identity
from slamon_tui.messages import IdentityChanged
from slamon_tui.screens.admin import AdminScreen
from slamon_tui.screens.dashboard import DashboardScreen
from slamon_tui.widgets.keys_footer import KeysFooter

from .fake_daemon import FakeDaemon
from .helpers import fast_app, screen_text, wait_until
from .login_helpers import PASSWORDS, ROLES, log_in_with_keys


@pytest.fixture
def users(daemon: FakeDaemon) -> FakeDaemon:
    for name, password in PASSWORDS.items():
        daemon.auth.add_user(name, password, ROLES[name])
    return daemon


def _palette_titles(app: SlamonApp) -> set[str]:
    return {c.title for c in app.get_system_commands(app.screen)}


@pytest.mark.parametrize("who", ["victor", "rita"])
async def test_viewers_and_reporters_are_offered_no_admin(users: FakeDaemon, who: str) -> None:
    app = fast_app(users.path)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
        await log_in_with_keys(pilot, app, who)
        await pilot.pause()
        text = screen_text(app)
        assert f"{who} · {ROLES[who]}" in text
        assert "Admin" not in text
        assert app.check_action("admin", ()) is False
        assert app.check_action("audit", ()) is False
        assert not {"Admin", "Audit log"} & _palette_titles(app)
        assert "Log out" in _palette_titles(app)
        await pilot.press("A")  # the key does nothing for them
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)
        assert users.count("user.list") == 0


async def test_anonymous_viewer_is_offered_login_only(users: FakeDaemon) -> None:
    app = fast_app(users.path)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
        await pilot.pause()
        text = screen_text(app)
        assert "anonymous · viewer" in text
        assert "L Log in" in text and "Log out" not in text and "Admin" not in text
        assert {"Log in"} <= _palette_titles(app)
        assert not {"Log out", "Admin"} & _palette_titles(app)


async def test_admins_see_the_admin_key_and_it_opens(users: FakeDaemon) -> None:
    app = fast_app(users.path)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
        await log_in_with_keys(pilot, app, "alice")
        await pilot.pause()
        text = screen_text(app)
        assert "alice · admin" in text
        assert "A Admin" in text
        assert {"Admin", "Audit log", "Log out"} <= _palette_titles(app)
        await pilot.press("A")
        await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen))
        await wait_until(pilot, lambda: users.count("user.list") == 1)
        assert "alice · admin" in screen_text(app)  # the identity is on every screen


async def test_owner_admin_without_login(users: FakeDaemon) -> None:
    users.auth.owner_role = "admin"  # the daemon's owner_is_admin, for its own user
    app = fast_app(users.path)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
        await pilot.pause()
        assert app.identity == Identity("uid:1000", "admin", logged_in=False)
        text = screen_text(app)
        assert "uid:1000 · admin" in text and "A Admin" in text and "L Log in" in text


async def test_the_footer_is_composed_again_only_when_its_keys_change(users: FakeDaemon) -> None:
    app = fast_app(users.path)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
        await wait_until(pilot, lambda: "L Log in" in screen_text(app))
        footer = app.dashboard.query_one(KeysFooter)
        keys = list(footer.children)
        for _ in range(5):  # a focus change, a screen pushed …: the same keys
            app.dashboard.refresh_bindings()
        await pilot.pause(0.1)
        assert list(footer.children) == keys  # the same widgets: not composed again
        await log_in_with_keys(pilot, app, "alice")
        await wait_until(pilot, lambda: "A Admin" in screen_text(app))
        assert list(footer.children) != keys
        assert "L Log in" not in screen_text(app)


class Recorder(Screen[None]):
    """A screen that notes what it hears about the identity."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Identity] = []

    def on_identity_changed(self, message: IdentityChanged) -> None:
        self.messages.append(message.identity)


async def test_screens_hear_of_identity_changes(users: FakeDaemon) -> None:
    app = fast_app(users.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
        recorder = Recorder()
        await app.push_screen(recorder)
        await log_in_with_keys(pilot, app, "rita")
        await wait_until(pilot, lambda: any(m.name == "rita" for m in recorder.messages))
        await pilot.pause(0.1)
        # Told once, not once per way of telling.
        assert [m.name for m in recorder.messages].count("rita") == 1
        assert app.screen is recorder


async def test_admin_screen_closes_when_the_role_is_taken_away(users: FakeDaemon) -> None:
    app = fast_app(users.path)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
        await log_in_with_keys(pilot, app, "alice")
        await pilot.press("A")
        await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen))
        users.auth.users["alice"]["role"] = "viewer"  # another admin demoted her …
        await pilot.press("ctrl+l")  # … and she logs out: the screen goes with the role
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert not app.identity.allows("admin")


def test_role_order_and_labels() -> None:
    assert Identity("alice", "admin").allows("reporter")
    reporter = Identity("rita", "reporter")
    assert reporter.allows("viewer") and not reporter.allows("admin")
    assert not Identity("anonymous", "anonymous").allows("viewer")
    assert not Identity("x", "root").allows("viewer")  # an unknown role may do nothing
    assert Identity("alice", "admin").label == "alice · admin"
    assert Identity.from_whoami({}).label == "not logged in"
    assert Identity("anonymous", "viewer").label == "anonymous · viewer"
    assert Identity.from_whoami(
        {"name": "uid:1000", "role": "admin", "logged_in": False, "uid": 1000}
    ) == Identity("uid:1000", "admin", logged_in=False)
