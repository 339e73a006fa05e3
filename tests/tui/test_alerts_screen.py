"""Alerts in the TUI against the fake daemon: the dashboard's alert line and its row keys
(a acknowledges, m silences), and the Alerts screen (firing, channels with test-send for
admins, rules, silences, deliveries failures first)."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from slamon_tui.app import SlamonApp
from slamon_tui.screens.alerts import AlertsScreen, SilenceDialog
from slamon_tui.screens.send_result import SendResultDialog

from .fake_alerts import make_channel
from .fake_daemon import FakeDaemon
from .helpers import fast_app, screen_text, wait_until
from .login_helpers import PASSWORDS, ROLES, log_in_with_keys, type_into


def notes(app: SlamonApp) -> list[str]:
    return [n.message for n in app._notifications]


@pytest.fixture
def users(daemon: FakeDaemon) -> FakeDaemon:
    for name, password in PASSWORDS.items():
        daemon.auth.add_user(name, password, ROLES[name], f"{name}@example.com")
    return daemon


async def _to_row(pilot, app: SlamonApp, sid: str) -> None:  # type: ignore[no-untyped-def]
    await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
    for _ in range(8):
        if app.dashboard.selected_id == sid:
            return
        await pilot.press("j")
    raise AssertionError(f"no row {sid}")


def alert_line(app: SlamonApp) -> str:
    line = app.dashboard.query_one("#alerts-line", Static)
    return str(line.render()) if line.display else ""


async def test_the_dashboard_says_what_alerts_do_and_its_row_keys_act(users: FakeDaemon) -> None:
    users.alerts.channels = [make_channel("ops", failing=True)]
    app = fast_app(users.path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: "1 alert firing" in alert_line(app))
        assert "1 not acknowledged" in alert_line(app)
        assert "alert channel failing: ops" in alert_line(app)
        await _to_row(pilot, app, "down")
        await pilot.press("a")  # a viewer may not
        await wait_until(pilot, lambda: any("reporter role" in n for n in notes(app)))
        assert users.alerts.acks == {}
        await log_in_with_keys(pilot, app, "rita")
        await _to_row(pilot, app, "down")
        await pilot.press("a")
        await wait_until(pilot, lambda: users.alerts.acks == {"down": "rita"})
        await wait_until(pilot, lambda: any("acknowledged by rita" in n for n in notes(app)))
        await pilot.press("r")  # resync: the line follows
        await wait_until(pilot, lambda: "0 not acknowledged" in alert_line(app))
        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, SilenceDialog))
        await type_into(pilot, "#input-reason", "billing migration")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(users.alerts.silences) == 1)
        s = users.alerts.silences[0]
        assert s["services"] == ["down"] and s["reason"] == "billing migration"
        await pilot.press("r")
        await wait_until(pilot, lambda: "alerts silenced" in alert_line(app))


async def test_the_alerts_screen(users: FakeDaemon) -> None:
    users.alerts.deliveries.append(
        {
            **users.alerts.deliveries[0],
            "id": 2,
            "ok": False,
            "code": 500,
            "error": "HTTP 500",
            "answer": "boom",
            "status": "pending",
        }
    )
    users.alerts.test_answer = {**users.alerts.test_answer, "answer": "hello from the hook"}
    app = fast_app(users.path)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
        await log_in_with_keys(pilot, app, "alice")
        await pilot.press("exclamation_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, AlertsScreen))
        screen = app.screen
        assert isinstance(screen, AlertsScreen)
        await wait_until(pilot, lambda: len(screen.alerts) == 1 and len(screen.channels) == 1)
        text = screen_text(app)
        assert "critical" in text and "down" in text and "open" in text
        await pilot.press("a")
        await wait_until(pilot, lambda: users.alerts.acks == {"down": "alice"})
        await wait_until(pilot, lambda: "acked by alice" in screen_text(app))
        await pilot.press("2")
        await pilot.pause()
        assert "http://127.0.0.1/hook/***" in screen_text(app)
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, SendResultDialog))
        assert "hello from the hook" in screen_text(app)
        assert "✓ delivered · code 200" in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen)
        await pilot.press("3")
        await wait_until(pilot, lambda: screen.tab == "rules")
        assert "down, reminder, incident, tls, slo_burn" in screen_text(app)
        await pilot.press("5")
        await pilot.pause()
        rows = [
            line for line in screen_text(app).splitlines() if "api" in line.lower() or "ok" in line
        ]
        text = screen_text(app)
        assert text.index("FAILED") < text.index(" ok ")  # failures first
        assert rows
        await pilot.press("1", "m")
        await wait_until(pilot, lambda: isinstance(app.screen, SilenceDialog))
        await type_into(pilot, "#input-reason", "known")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(screen.silences) == 1)
        await pilot.press("4")
        await pilot.pause()
        assert "known" in screen_text(app)
        await pilot.press("u")
        await wait_until(pilot, lambda: users.alerts.silences == [])


async def test_a_viewer_gets_no_test_send_or_ack_keys(users: FakeDaemon) -> None:
    app = fast_app(users.path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.rows) == 4)
        await log_in_with_keys(pilot, app, "victor")
        await pilot.press("exclamation_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, AlertsScreen))
        screen = app.screen
        assert isinstance(screen, AlertsScreen)
        await wait_until(pilot, lambda: len(screen.alerts) == 1)
        assert screen.check_action("ack", ()) is False
        await pilot.press("2")
        await pilot.pause()
        assert screen.check_action("test", ()) is False
        await pilot.press("t")
        await pilot.pause()
        assert not any(r["method"] == "alert.channel_test" for r in users.requests)
