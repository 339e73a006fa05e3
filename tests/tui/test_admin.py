"""The admin screen through the pilot, against the fake daemon (which checks roles by token)."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Select

from slamon_tui.app import SlamonApp
from slamon_tui.screens.admin import AdminScreen
from slamon_tui.screens.admin_forms import (
    MaintenanceDialog,
    ServiceDialog,
    UserAddDialog,
    UserEditDialog,
    parse_time,
    status_list,
)
from slamon_tui.screens.audit import AuditScreen
from slamon_tui.screens.confirm_discard import ConfirmDiscardScreen
from slamon_tui.screens.form_dialog import ConfirmDialog, FormDialog
from slamon_tui.widgets.record_table import RecordTable

from .fake_daemon import FakeDaemon
from .helpers import fast_app, screen_text, wait_until
from .login_helpers import PASSWORDS, ROLES, log_in_with_keys, type_into


def notes(app: SlamonApp) -> list[str]:
    """The notifications on show (toasts are drawn on their own layer)."""
    return [n.message for n in app._notifications]


@pytest.fixture
def users(daemon: FakeDaemon) -> FakeDaemon:
    for name, password in PASSWORDS.items():
        daemon.auth.add_user(name, password, ROLES[name], f"{name}@example.com")
    return daemon


async def _open_admin(pilot, app: SlamonApp, tab: str = "1") -> AdminScreen:  # type: ignore[no-untyped-def]
    await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
    await log_in_with_keys(pilot, app, "alice")
    await pilot.press("A")
    await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen))
    screen = app.screen
    assert isinstance(screen, AdminScreen)
    await wait_until(pilot, lambda: len(screen.users) == 3 and len(screen.services) == 4)
    await pilot.press(tab)
    await pilot.pause()
    return screen


async def _dialog(pilot, app: SlamonApp, kind: type[FormDialog]) -> FormDialog:  # type: ignore[no-untyped-def]
    await wait_until(pilot, lambda: isinstance(app.screen, kind))
    dialog = app.screen
    assert isinstance(dialog, FormDialog)
    return dialog


async def test_admin_adds_a_user_and_sees_it_listed(users: FakeDaemon) -> None:
    app = fast_app(users.path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_admin(pilot, app)
        assert "alice · admin" in screen_text(app)
        await pilot.press("n")
        dialog = await _dialog(pilot, app, UserAddDialog)
        # Keyboard only: the fields in tab order, the role by its select, Enter saves.
        assert app.focused is dialog.query_one("#input-username", Input)
        await pilot.press(*"bob", "tab", *"bob@example.com", "tab")
        assert app.focused is dialog.query_one("#input-role", Select)
        await pilot.press("enter", "down", "enter")  # viewer → reporter
        assert dialog.value("role") == "reporter"
        await pilot.press("tab", *"bob-Pa55word", "tab", *"bob-Pa55word", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen))
        await wait_until(pilot, lambda: any(u["username"] == "bob" for u in screen.users))
        assert users.auth.users["bob"]["role"] == "reporter"
        assert users.auth.passwords["bob"] == "bob-Pa55word"
        await pilot.pause()
        text = screen_text(app)
        bob = next(line for line in text.splitlines() if line.lstrip().startswith("bob "))
        assert "reporter" in bob and "active" in bob and "never" in bob
        assert "User bob added as reporter." in notes(app)
        add = users.requests[-3:]
        assert any(r["method"] == "user.add" and r.get("token") for r in add)


async def test_field_errors_are_shown_next_to_their_fields(users: FakeDaemon) -> None:
    app = fast_app(users.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_admin(pilot, app)
        await pilot.press("n")
        dialog = await _dialog(pilot, app, UserAddDialog)
        await type_into(pilot, "#input-username", "carol")
        await type_into(pilot, "#input-password", "short")
        await type_into(pilot, "#input-repeat", "short")
        await pilot.press("enter")
        await wait_until(pilot, lambda: dialog.field("password").error_text != "")
        assert dialog.field("password").error_text == "a password needs at least 10 characters"
        assert dialog.field("username").error_text == ""
        assert app.focused is dialog.query_one("#input-password", Input)
        text = screen_text(app)
        lines = text.splitlines()
        at = next(i for i, line in enumerate(lines) if "Password" in line)
        assert "a password needs at least 10 characters" in lines[at + 1]  # right under it
        # A bad username: the daemon names that field.
        await type_into(pilot, "#input-username", "carol smith")
        await type_into(pilot, "#input-password", "carol-Pa55word")
        await type_into(pilot, "#input-repeat", "carol-Pa55word")
        await pilot.press("enter")
        await wait_until(pilot, lambda: dialog.field("username").error_text != "")
        assert "letters, digits" in dialog.field("username").error_text
        assert dialog.field("password").error_text == ""
        # Two passwords that differ are caught here, next to the repeat.
        await type_into(pilot, "#input-username", "carol")
        await type_into(pilot, "#input-repeat", "carol-Pa55wort")
        calls = users.count("user.add")
        await pilot.press("enter")
        await wait_until(pilot, lambda: dialog.field("repeat").error_text != "")
        assert dialog.field("repeat").error_text == "the two passwords differ"
        assert users.count("user.add") == calls
        # An existing name: the conflict goes next to the username.
        await type_into(pilot, "#input-username", "rita")
        await type_into(pilot, "#input-repeat", "carol-Pa55word")
        await pilot.press("enter")
        await wait_until(pilot, lambda: dialog.field("username").error_text != "")
        assert "already exists" in dialog.field("username").error_text
        # Issue 12: leaving a form with something typed asks first (n keeps editing).
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDiscardScreen))
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is dialog)
        assert dialog.query_one("#input-username", Input).value == "rita"
        await pilot.press("escape", "y")
        await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen))
        assert "carol" not in users.auth.users


async def test_edit_user_changes_role_and_password_and_disable_asks_first(
    users: FakeDaemon,
) -> None:
    app = fast_app(users.path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_admin(pilot, app)
        await pilot.press("down")  # rita
        assert screen.selected_user is not None and screen.selected_user["username"] == "rita"
        assert app.screen.check_action("disable_user", ()) is True
        assert app.screen.check_action("enable_user", ()) is False
        await pilot.press("e")
        dialog = await _dialog(pilot, app, UserEditDialog)
        assert dialog.value("role") == "reporter"
        dialog.query_one("#input-role", Select).value = "admin"
        await type_into(pilot, "#input-password", "rita-New-Pa55")
        await type_into(pilot, "#input-repeat", "rita-New-Pa55")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen))
        assert users.auth.users["rita"]["role"] == "admin"
        assert users.auth.passwords["rita"] == "rita-New-Pa55"
        await wait_until(pilot, lambda: "User rita: role admin, password reset." in notes(app))
        # d asks before disabling; n keeps her.
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "logins end at once" in screen_text(app)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen))
        assert users.auth.users["rita"]["active"] is True
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: users.auth.users["rita"]["active"] is False)
        await wait_until(
            pilot,
            lambda: screen.selected_user is not None and screen.selected_user["active"] is False,
        )
        assert screen.check_action("enable_user", ()) is True
        await pilot.press("d")  # now "d Enable", no question
        await wait_until(pilot, lambda: users.auth.users["rita"]["active"] is True)


async def test_services_tab_marks_config_read_only_and_admin_services_editable(
    users: FakeDaemon,
) -> None:
    app = fast_app(users.path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open_admin(pilot, app, "2")
        assert screen.tab == "services"
        assert [s.source for s in screen.services] == ["config"] * 4
        assert screen.check_action("edit_service", ()) is False  # slamon.toml's: no edit key
        assert screen.check_action("pause_service", ()) is False
        assert "slamon.toml" in screen_text(app)
        assert "e Edit" not in screen_text(app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: any("change it there" in n for n in notes(app)))
        assert isinstance(app.screen, AdminScreen)
        # Add one; a bad URL comes back next to the URL field.
        await pilot.press("n")
        dialog = await _dialog(pilot, app, ServiceDialog)
        for key, text in [
            ("id", "search"),
            ("name", "Search"),
            ("url", "ftp://x"),
            ("interval", "30s"),
            ("expect_status", "200, 301-302"),
            ("confirm_failures", "3"),
        ]:
            await type_into(pilot, f"#input-{key}", text)
        await pilot.press("enter")
        await wait_until(pilot, lambda: dialog.field("url").error_text != "")
        assert "is not an http:// or https:// URL" in dialog.field("url").error_text
        assert "not an http" in screen_text(app)
        await type_into(pilot, "#input-url", "http://127.0.0.1:9/search")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen))
        await wait_until(pilot, lambda: any(s.id == "search" for s in screen.services))
        assert users.auth.admin_services["search"] == {
            "id": "search",
            "name": "Search",
            "url": "http://127.0.0.1:9/search",
            "method": "GET",
            "interval": "30s",
            "expect_status": [200, "301-302"],
            "confirm_failures": 3,
            "active": True,
        }
        search = next(s for s in screen.services if s.id == "search")
        assert search.source == "admin" and search.active
        # The new one is editable: e opens it filled in, and only what changed is sent.
        table = screen.query_one("#services-table", RecordTable)
        table.move_cursor(row=[s.id for s in screen.services].index("search"))
        await pilot.pause()
        assert screen.check_action("edit_service", ()) is True
        await pilot.press("e")
        dialog = await _dialog(pilot, app, ServiceDialog)
        assert dialog.value("interval") == "30s" and dialog.value("id") == "search"
        assert dialog.query_one("#input-id", Input).disabled
        await type_into(pilot, "#input-timeout", "5s")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen))
        edit = [r for r in users.requests if r["method"] == "service.edit"][-1]
        assert edit["params"] == {"id": "search", "timeout": "5s"}
        # Pause asks first; the paused service stays listed (from the audit log).
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(
            pilot, lambda: any(s.id == "search" and not s.active for s in screen.services)
        )
        assert "paused" in screen_text(app)
        await pilot.press("p")  # "p Resume"
        await wait_until(pilot, lambda: any(s.id == "search" and s.active for s in screen.services))


async def test_maintenance_window_created_with_field_errors_then_cancelled(
    users: FakeDaemon,
) -> None:
    app = fast_app(users.path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_admin(pilot, app, "3")
        await pilot.press("n")
        dialog = await _dialog(pilot, app, MaintenanceDialog)
        await type_into(pilot, "#input-title", "DB upgrade")
        await type_into(pilot, "#input-start", "2026-11-22 02:00")
        await type_into(pilot, "#input-end", "2026-11-22 01:00")
        await type_into(pilot, "#input-services", "api, slow")
        await pilot.press("enter")
        await wait_until(pilot, lambda: dialog.field("end").error_text != "")
        assert 'must be after "start"' in dialog.field("end").error_text
        await type_into(pilot, "#input-end", "tomorrow")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "not a time" in dialog.field("end").error_text)
        await type_into(pilot, "#input-end", "2026-11-22T03:30:00+01:00")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen))
        await wait_until(pilot, lambda: len(screen.windows) == 1)
        create = [r for r in users.requests if r["method"] == "maintenance.create"][-1]
        assert create["params"] == {
            "title": "DB upgrade",
            "start": "2026-11-22T02:00:00+00:00",
            "end": "2026-11-22T03:30:00+01:00",
            "services": ["api", "slow"],
        }
        text = screen_text(app)
        assert "DB upgrade" in text and "2026-11-22 02:00" in text and "api, slow" in text
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: screen.windows == [])
        assert users.auth.maintenance[0]["cancelled_at"] is not None


async def test_audit_log_newest_first(users: FakeDaemon) -> None:
    app = fast_app(users.path)
    async with app.run_test(size=(120, 30)) as pilot:
        await _open_admin(pilot, app)
        token = app.session.credentials.token
        assert token is not None
        await app.session.call("user.set_role", {"username": "victor", "role": "reporter"})
        await app.session.call("user.passwd", {"username": "victor", "password": "victor-2nd-Pa55"})
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, AuditScreen))
        audit = app.screen
        assert isinstance(audit, AuditScreen)
        await wait_until(pilot, lambda: len(audit.entries) == 2)
        assert [e["method"] for e in audit.entries] == ["user.passwd", "user.set_role"]
        lines = screen_text(app).splitlines()
        rows = [line for line in lines if "alice" in line and "user." in line]
        assert "user.passwd" in rows[0] and "password=***" in rows[0] and "victor" in rows[0]
        assert "user.set_role" in rows[1] and "role=reporter" in rows[1]
        assert "When (UTC)" in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen))


async def test_admin_screen_fits_80x24(users: FakeDaemon) -> None:
    app = fast_app(users.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_admin(pilot, app)
        text = screen_text(app)
        assert "1 Users" in text and "2 Services" in text and "3 Maintenance" in text
        assert "Esc Back" in text and "n New user" in text
        await pilot.press("2", "n")
        dialog = await _dialog(pilot, app, ServiceDialog)
        await pilot.pause()
        text = screen_text(app)
        # The whole form and its buttons fit on the screen.
        for label in ("Id", "URL", "Interval", "Confirm failures", "Body contains", "Add service"):
            assert label in text, label
        assert dialog.query_one("#form-save").region.bottom <= 24


def test_form_value_helpers() -> None:
    assert status_list("200, 301-302 404") == [200, "301-302", 404]
    start = parse_time("2026-11-22 02:00")
    assert start is not None and start.isoformat() == "2026-11-22T02:00:00+00:00"
    assert parse_time("2026-11-22T02:00:00Z") == start
    assert parse_time("next tuesday") is None
