"""Issue 12, point 3: keys are never lost. A burst of keys (all queued at once, as a read
over SSH delivers them) acts exactly as typed: the cursor is a position in the list, and
the app takes a key only once the one before it is done (slamon_tui/key_order.py)."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from slamon_tui.screens.admin import AdminScreen
from slamon_tui.screens.admin_forms import UserAddDialog
from slamon_tui.screens.service import ServiceScreen

from .fake_daemon import FakeDaemon, make_service, make_snapshot
from .helpers import burst, fast_app, wait_until
from .login_helpers import PASSWORDS, ROLES, log_in_with_keys

SIZES = [(80, 24), (300, 80)]


def many(n: int) -> dict[str, object]:
    return make_snapshot([make_service(f"s{i:02d}", f"Service {i:02d}") for i in range(n)])


@pytest.mark.parametrize("size", SIZES)
async def test_j_j_j_enter_in_one_burst_opens_the_third_row_down(
    daemon: FakeDaemon, size: tuple[int, int]
) -> None:
    daemon.snapshot = many(12)
    app = fast_app(daemon.path)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.order) == 12)
        await burst(pilot, "j", "j", "j", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen))
        screen = app.screen
        assert isinstance(screen, ServiceScreen) and screen.service_id == "s03"
        # And back, and a longer burst with a page key and k's in it.
        await burst(pilot, "escape")
        await wait_until(pilot, lambda: app.screen is app.dashboard)
        assert app.dashboard.selected_id == "s03"
        await burst(pilot, *"jjjjj", "k", "k", "G", "k", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen))
        assert app.screen.service_id == "s10"  # type: ignore[attr-defined]


@pytest.mark.parametrize("size", SIZES)
async def test_the_same_keys_through_pilot_press_in_one_call(
    daemon: FakeDaemon, size: tuple[int, int]
) -> None:
    daemon.snapshot = many(12)
    app = fast_app(daemon.path)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.order) == 12)
        await pilot.press("j", "j", "j", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen))
        assert app.screen.service_id == "s03"  # type: ignore[attr-defined]


@pytest.mark.parametrize("size", SIZES)
async def test_a_filter_typed_in_one_burst_lands_in_the_filter(
    daemon: FakeDaemon, size: tuple[int, int]
) -> None:
    app = fast_app(daemon.path)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.order) == 4)
        # "/" opens the box (a focus change), then every letter must go into it; "e" and
        # "n" are dashboard keys too and must not act on the list.
        await burst(pilot, "/", *"legacy", "enter", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen))
        assert app.dashboard.filter_text == "legacy"
        assert app.dashboard.order == ["down"]
        assert app.screen.service_id == "down"  # type: ignore[attr-defined]


@pytest.mark.parametrize("size", SIZES)
async def test_a_whole_form_typed_in_one_burst_fills_each_field(
    daemon: FakeDaemon, size: tuple[int, int]
) -> None:
    for name, password in PASSWORDS.items():
        daemon.auth.add_user(name, password, ROLES[name], f"{name}@example.com")
    app = fast_app(daemon.path)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.order) == 4)
        await log_in_with_keys(pilot, app, "alice")
        await pilot.press("A")
        await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen))
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, UserAddDialog))
        dialog = app.screen
        assert isinstance(dialog, UserAddDialog)
        # Username, Tab, email, Tab, (role stays viewer) Tab, password, Tab, repeat, Enter.
        keys = [*"bob", "tab", *"bob@example.com", "tab", "tab"]
        keys += [*"bob-Pa55word", "tab", *"bob-Pa55word"]
        await burst(pilot, *keys)
        assert dialog.query_one("#input-username", Input).value == "bob"
        assert dialog.query_one("#input-email", Input).value == "bob@example.com"
        assert dialog.query_one("#input-password", Input).value == "bob-Pa55word"
        assert dialog.query_one("#input-repeat", Input).value == "bob-Pa55word"
        await burst(pilot, "enter")
        await wait_until(pilot, lambda: "bob" in daemon.auth.users)
        assert daemon.auth.users["bob"]["email"] == "bob@example.com"
        assert daemon.auth.passwords["bob"] == "bob-Pa55word"
