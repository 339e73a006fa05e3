"""Issue 12, point 4: incidents from context. One key on a red row (or on its detail page)
jumps to the service's open incident, or opens the new-incident form filled with the
service, the outage's start and its cause. Goal: 3 keys or fewer from a red row to a filled
form; here it is 1 from the dashboard, 2 through the detail page."""

from __future__ import annotations

import pytest
from textual.widgets import Input, SelectionList, TextArea

from slamon_tui.screens.check_detail import CheckDetailScreen
from slamon_tui.screens.incident_detail import IncidentDetailScreen
from slamon_tui.screens.incident_edit import IncidentEditScreen
from slamon_tui.screens.service import ServiceScreen

from .fake_daemon import FakeDaemon
from .helpers import fast_app, screen_text, wait_until
from .login_helpers import PASSWORDS, ROLES, log_in_with_keys

SIZES = [(80, 24), (300, 80)]
EPISODE_START = "2026-11-21T19:58:30+00:00"  # the fake's open episode of a service in trouble


@pytest.fixture
def users(daemon: FakeDaemon) -> FakeDaemon:
    for name, password in PASSWORDS.items():
        daemon.auth.add_user(name, password, ROLES[name], f"{name}@example.com")
    return daemon


def _created(daemon: FakeDaemon) -> dict[str, object]:
    return next(r["params"] for r in daemon.requests if r["method"] == "incident.create")


@pytest.mark.parametrize("size", SIZES)
async def test_one_key_from_a_red_row_to_a_filled_form(
    users: FakeDaemon, size: tuple[int, int]
) -> None:
    app = fast_app(users.path)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.order) == 4)
        await log_in_with_keys(pilot, app, "rita")
        assert app.dashboard.selected_id == "down"  # the red row: first, under the cursor
        await pilot.press("i")  # the one key
        await wait_until(pilot, lambda: isinstance(app.screen, IncidentEditScreen))
        form = app.screen
        assert isinstance(form, IncidentEditScreen)
        assert form.query_one("#f-title", Input).value == "Legacy billing: major outage"
        assert list(form.query_one("#f-services", SelectionList).selected) == ["down"]
        description = form.query_one("#f-description", TextArea).text
        assert "Cause: conn err: connection_error happened" in description
        assert "since 2026-11-21 19:58:30 UTC" in description and "12 failed checks" in description
        assert "started 19:58 UTC" in screen_text(app) or "started 2026-11-21 19:58 UTC" in (
            screen_text(app)
        )
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, IncidentEditScreen))
        params = _created(users)
        assert params["services"] == ["down"]
        assert params["started_at"] == EPISODE_START  # the outage's start, not "now"
        assert params["severity"] == "critical"
        [made] = [i for i in users.incidents.items.values() if i["services"] == ["down"]]
        assert made["started_at"].isoformat() == EPISODE_START
        # Now there is one: the same key jumps to it instead of making a duplicate.
        await wait_until(pilot, lambda: app.dashboard.open_incident_for("down") is not None)
        while app.screen is not app.dashboard:
            await pilot.press("escape")
            await pilot.pause()
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(app.screen, IncidentDetailScreen))
        assert app.screen.incident_id == made["id"]  # type: ignore[attr-defined]
        assert sum(r["method"] == "incident.create" for r in users.requests) == 1


@pytest.mark.parametrize("size", SIZES)
async def test_from_the_detail_page_and_the_open_auto_incident(
    users: FakeDaemon, size: tuple[int, int]
) -> None:
    auto = users.incidents.add("Flaky backend is down", services=["flaky"], created_by="system")
    app = fast_app(users.path)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.order) == 4)
        await log_in_with_keys(pilot, app, "rita")
        await pilot.press("j", "enter")  # the flaky row's detail
        await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen))
        detail = app.screen
        await wait_until(pilot, lambda: detail.detail is not None)  # type: ignore[attr-defined]
        await pilot.press("i")  # its auto-incident exists: open it, make no other
        await wait_until(pilot, lambda: isinstance(app.screen, IncidentDetailScreen))
        assert app.screen.incident_id == auto["id"]  # type: ignore[attr-defined]
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is detail)
        # The slow service has none: a filled form, 2 keys from its row (Enter, i).
        await pilot.press("escape", "j", "enter")
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, ServiceScreen) and app.screen.detail is not None,  # type: ignore[attr-defined]
        )
        assert app.screen.service_id == "slow"  # type: ignore[attr-defined]
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(app.screen, IncidentEditScreen))
        assert app.screen.query_one("#f-title", Input).value == "Slow service: degraded"
        assert not any(r["method"] == "incident.create" for r in users.requests)


@pytest.mark.parametrize("size", SIZES)
async def test_viewers_get_the_open_incident_or_a_word_not_a_form(
    users: FakeDaemon, size: tuple[int, int]
) -> None:
    app = fast_app(users.path)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.order) == 4)
        await log_in_with_keys(pilot, app, "victor")
        await pilot.press("i")
        await pilot.pause(0.2)
        assert app.screen is app.dashboard
        assert any(
            "reporters and admins can open one" in str(n.message) for n in app._notifications
        )


@pytest.mark.parametrize("size", SIZES)
async def test_e_shows_the_full_error_text(daemon: FakeDaemon, size: tuple[int, int]) -> None:
    long_error = "TLS handshake failed: self-signed certificate in certificate chain " * 3
    down = daemon.snapshot["services"][3]
    down["last_check"]["error"] = long_error
    down["episode"]["error"] = long_error
    app = fast_app(daemon.path)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.order) == 4)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, CheckDetailScreen))
        shown = " ".join(app.screen.plain.split())  # type: ignore[attr-defined]
        assert " ".join(long_error.split()) in shown  # whole, never cut
        assert "Started 2026-11-21 19:58:30 UTC" in shown
        assert "Failed checks 12" in shown
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.dashboard
