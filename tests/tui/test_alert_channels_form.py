"""Issue 11 (points 1, 6, 7): admins manage alert channels from the Alerts screen, against a
REAL daemon (SQLite) and a real webhook receiver on 127.0.0.1.

Through the pilot at 80×24: an admin picks a kind, fills its form, sees the daemon's
problems under the fields they concern, saves; the secrets never show again in clear (not in
the table, not in the edit form); an edit that leaves the secrets alone keeps them (the
test-send reaches the receiver with the URL and header typed first), and the test-send shows
the receiver's answer; a delete asks first. A channel of the config file opens read-only.
A non-admin is offered none of the keys, and the daemon refuses the call anyway.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from textual.widgets import Button, Input

from slamon_daemon.auth import hash_password
from slamon_daemon.config import Settings, load_settings
from slamon_daemon.daemon import Daemon
from slamon_daemon.models import Role
from slamon_daemon.targets import Request, Target, response_bytes
from slamon_tui.app import SlamonApp, make_app
from slamon_tui.client import FeedCallError
from slamon_tui.models.channel_kinds import KIND_FIELDS, SECRETS, TAIL
from slamon_tui.screens.alerts import AlertsScreen
from slamon_tui.screens.channel_form import ChannelDialog, ChannelKindDialog
from slamon_tui.screens.form_dialog import ConfirmDialog
from slamon_tui.screens.send_result import SendResultDialog
from slamon_tui.widgets.record_table import RecordTable

from .helpers import screen_text, wait_until
from .login_helpers import type_into

PASSWORDS = {"alice": "alice-Pa55word-1", "rita": "rita-Pa55word-22"}
WAIT_S = 20.0  # argon2 logins and a loaded machine
URL_SECRET = "s3cret-path-token"
HEADER_SECRET = "hdr-s3cret-value"
FILE_SECRET = "file-s3cret"


class Receiver:
    """A webhook receiver that keeps what it got under /hook/ and answers ``status`` with
    ``body`` (it is also the target the daemon checks, at /health)."""

    def __init__(self) -> None:
        self.got: list[Request] = []
        self.status = 200
        self.body = b"hello from the receiver"
        self.target = Target(self._answer)

    async def _answer(self, req: Request, w: asyncio.StreamWriter) -> None:
        if req.path.startswith("/hook/"):  # not the health checks of the service "api"
            self.got.append(req)
        w.write(response_bytes(self.status, self.body))


@pytest.fixture
def folder() -> Iterator[Path]:
    """A short directory under /tmp (socket paths stay under ~100 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="slamon-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _settings(folder: Path, receiver_url: str) -> Settings:
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
        f'url = "{receiver_url}health"\ninterval = "30s"\n'
        '\n[[alert_channel]]\nid = "ops-file"\ntype = "webhook"\n'
        f'url = "{receiver_url}hook/{FILE_SECRET}"\n',
        encoding="utf-8",
    )
    settings, _ = load_settings(config)
    return settings


@asynccontextmanager
async def running(folder: Path) -> AsyncIterator[tuple[Settings, Receiver]]:
    """A receiver and a real daemon in this event loop, with an admin and a reporter."""
    receiver = Receiver()
    async with receiver.target:
        settings = _settings(folder, receiver.target.url)
        daemon = Daemon(settings)
        runner = asyncio.create_task(daemon.run())
        try:
            await asyncio.wait_for(daemon.started.wait(), WAIT_S)
            await daemon.store.create_user(
                "alice", "alice@example.com", hash_password(PASSWORDS["alice"]), Role.ADMIN
            )
            await daemon.store.create_user(
                "rita", "rita@example.com", hash_password(PASSWORDS["rita"]), Role.REPORTER
            )
            yield settings, receiver
        finally:
            daemon.request_stop()
            await asyncio.wait_for(runner, WAIT_S)


def _app(settings: Settings, user: str) -> SlamonApp:
    return make_app(settings.daemon.socket, retry_initial=0.05, retry_max=0.3, user=user)


def notes(app: SlamonApp) -> list[str]:
    return [n.message for n in app._notifications]


async def _alerts_channels(pilot, app: SlamonApp, user: str) -> AlertsScreen:  # type: ignore[no-untyped-def]
    """Log in (the login screen opens with --user), open Alerts (!), the channels tab (2)."""
    await wait_until(pilot, lambda: app.session.client is not None, WAIT_S)
    await wait_until(pilot, lambda: app.screen.query("#login-password"), WAIT_S)
    await type_into(pilot, "#login-password", PASSWORDS[user])
    await pilot.press("enter")
    await wait_until(pilot, lambda: app.identity.name == user, WAIT_S)
    await wait_until(pilot, lambda: not app.screen.query("#login-password"), WAIT_S)
    await pilot.press("exclamation_mark")
    await wait_until(pilot, lambda: isinstance(app.screen, AlertsScreen), WAIT_S)
    screen = app.screen
    assert isinstance(screen, AlertsScreen)
    await wait_until(pilot, lambda: len(screen.channels) >= 1, WAIT_S)
    await pilot.press("2")
    await wait_until(pilot, lambda: screen.tab == "channels", WAIT_S)
    return screen


async def _cursor_to(pilot, screen: AlertsScreen, cid: str) -> None:  # type: ignore[no-untyped-def]
    """Move the channels' cursor to ``cid`` with ↑/↓."""
    ids = [str(c["id"]) for c in screen.channels]
    table = screen.query_one("#channels-table", RecordTable)
    steps = ids.index(cid) - table.cursor_row
    for _ in range(abs(steps)):
        await pilot.press("down" if steps > 0 else "up")
    await wait_until(pilot, lambda: (screen.selected_channel or {}).get("id") == cid, WAIT_S)


def _no_secret_on(app: SlamonApp) -> None:
    text = screen_text(app)
    for secret in (URL_SECRET, HEADER_SECRET, FILE_SECRET):
        assert secret not in text, f"{secret} shown in clear"


def test_each_kind_has_a_field_for_every_key_the_daemon_takes() -> None:
    from slamon_daemon.alerts.config import CHANNEL_MODELS

    for kind, model in CHANNEL_MODELS.items():
        form = {"id", "name", *KIND_FIELDS[kind], *TAIL}
        assert form == set(model.model_fields) - {"type"}, kind
        assert set(model.SECRET_FIELDS) == SECRETS & form, kind


async def test_an_admin_adds_edits_test_sends_and_deletes_a_channel(folder: Path) -> None:
    async with running(folder) as (settings, receiver):
        app = _app(settings, "alice")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await _alerts_channels(pilot, app, "alice")
            assert "New channel" in screen_text(app)  # in the footer
            # n: the kinds, one per line; the first is the webhook.
            await pilot.press("n")
            await wait_until(pilot, lambda: isinstance(app.screen, ChannelKindDialog), WAIT_S)
            for kind in ("slack", "pagerduty", "email", "telegram", "opsgenie"):
                assert kind in screen_text(app)
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, ChannelDialog), WAIT_S)
            form = app.screen
            assert isinstance(form, ChannelDialog) and form.kind == "webhook"
            # The daemon's problems come back under the fields they concern.
            await type_into(pilot, "#input-id", "Team Hook")
            await type_into(pilot, "#input-url", "ftp://nowhere")
            await type_into(pilot, "#input-rules", "down, paging")
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: form.field("url").error_text != "", WAIT_S)
            assert "http:// or https://" in form.field("url").error_text
            assert "kebab-case" in form.field("id").error_text
            assert "'down'" in form.field("rules").error_text
            assert form.field("headers").error_text == ""
            assert isinstance(app.screen, ChannelDialog)  # still open, nothing saved
            # Fixed, it saves.
            await type_into(pilot, "#input-id", "team-hook")
            await type_into(pilot, "#input-url", f"{receiver.target.url}hook/{URL_SECRET}")
            await type_into(pilot, "#input-headers", f"X-Token: {HEADER_SECRET}")
            await type_into(pilot, "#input-rules", "down, incident")
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, AlertsScreen), WAIT_S)
            await wait_until(
                pilot, lambda: any(c["id"] == "team-hook" for c in screen.channels), WAIT_S
            )
            await pilot.pause()
            assert "team-hook" in screen_text(app)
            _no_secret_on(app)
            # The cursor is on the channel just added (ops-file sorts first).
            await wait_until(
                pilot, lambda: (screen.selected_channel or {}).get("id") == "team-hook", WAIT_S
            )
            # Edit: the secrets show masked, empty; the name changes, the secrets stay.
            await _cursor_to(pilot, screen, "team-hook")
            await pilot.press("e")
            await wait_until(pilot, lambda: isinstance(app.screen, ChannelDialog), WAIT_S)
            form = app.screen
            assert isinstance(form, ChannelDialog) and form.editing
            url = form.query_one("#input-url", Input)
            assert url.value == "" and "***" in str(url.placeholder)
            assert form.query_one("#input-headers", Input).value == ""
            assert form.query_one("#input-id", Input).disabled
            assert form.value("rules") == "down, incident"
            _no_secret_on(app)
            await type_into(pilot, "#input-name", "Team hook")
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, AlertsScreen), WAIT_S)
            await wait_until(
                pilot,
                lambda: any(c.get("name") == "Team hook" for c in screen.channels),
                WAIT_S,
            )
            _no_secret_on(app)
            # Test-send: the receiver gets the stored URL and header; its answer is shown.
            await _cursor_to(pilot, screen, "team-hook")
            await pilot.press("t")
            await wait_until(pilot, lambda: isinstance(app.screen, SendResultDialog), WAIT_S)
            text = screen_text(app)
            assert "✓ delivered · code 200" in text and "hello from the receiver" in text
            sent = receiver.got[-1]
            assert sent.path == f"/hook/{URL_SECRET}"
            assert sent.headers.get("x-token") == HEADER_SECRET
            _no_secret_on(app)
            await pilot.press("enter")
            await wait_until(pilot, lambda: app.screen is screen, WAIT_S)
            # A receiver that refuses: its answer is shown too.
            receiver.status, receiver.body = 500, b"receiver says no"
            await pilot.press("t")
            await wait_until(pilot, lambda: isinstance(app.screen, SendResultDialog), WAIT_S)
            text = screen_text(app)
            assert "NOT delivered · code 500" in text and "receiver says no" in text
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is screen, WAIT_S)
            # "none" removes an optional secret (the headers); the URL stays.
            await pilot.press("e")
            await wait_until(pilot, lambda: isinstance(app.screen, ChannelDialog), WAIT_S)
            await type_into(pilot, "#input-headers", "none")
            await pilot.press("enter")
            await wait_until(pilot, lambda: app.screen is screen, WAIT_S)
            asked = len(receiver.got)
            await pilot.press("t")
            await wait_until(pilot, lambda: isinstance(app.screen, SendResultDialog), WAIT_S)
            assert len(receiver.got) == asked + 1
            assert receiver.got[-1].path == f"/hook/{URL_SECRET}"
            assert "x-token" not in receiver.got[-1].headers
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is screen, WAIT_S)
            # Delete asks first; No keeps it, Yes removes it.
            await pilot.press("d")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), WAIT_S)
            await pilot.press("n")
            await wait_until(pilot, lambda: isinstance(app.screen, AlertsScreen), WAIT_S)
            assert any(c["id"] == "team-hook" for c in screen.channels)
            await pilot.press("d")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), WAIT_S)
            await pilot.press("y")
            await wait_until(
                pilot, lambda: all(c["id"] != "team-hook" for c in screen.channels), WAIT_S
            )
            assert any("team-hook deleted" in n for n in notes(app))


async def test_other_kinds_show_their_own_fields_and_a_secret_stays_hidden(folder: Path) -> None:
    async with running(folder) as (settings, receiver):
        app = _app(settings, "alice")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await _alerts_channels(pilot, app, "alice")
            await pilot.press("n")
            await wait_until(pilot, lambda: isinstance(app.screen, ChannelKindDialog), WAIT_S)
            for _ in range(7):  # webhook … telegram
                await pilot.press("down")
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, ChannelDialog), WAIT_S)
            form = app.screen
            assert isinstance(form, ChannelDialog) and form.kind == "telegram"
            assert not form.query("#input-url")
            await type_into(pilot, "#input-id", "ops-telegram")
            await pilot.press("ctrl+s")  # no token, no chat: the daemon says so by field
            await wait_until(pilot, lambda: form.field("bot_token").error_text != "", WAIT_S)
            assert form.field("bot_token").error_text == "required"
            assert form.field("chat_id").error_text == "required"
            await type_into(pilot, "#input-bot_token", "123:" + URL_SECRET)
            assert URL_SECRET not in screen_text(app)  # typed hidden
            await type_into(pilot, "#input-chat_id", "-1001")
            await type_into(pilot, "#input-base_url", receiver.target.url)
            await pilot.press("ctrl+s")
            await wait_until(
                pilot, lambda: any(c["id"] == "ops-telegram" for c in screen.channels), WAIT_S
            )
            await pilot.pause()
            _no_secret_on(app)
            await _cursor_to(pilot, screen, "ops-telegram")
            await pilot.press("enter")  # Enter edits a channel the feed added
            await wait_until(pilot, lambda: isinstance(app.screen, ChannelDialog), WAIT_S)
            _no_secret_on(app)
            assert app.screen.query_one("#input-chat_id", Input).value == "-1001"


async def test_a_config_file_channel_is_read_only(folder: Path) -> None:
    async with running(folder) as (settings, _receiver):
        app = _app(settings, "alice")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await _alerts_channels(pilot, app, "alice")
            await _cursor_to(pilot, screen, "ops-file")
            await pilot.pause()
            assert "config file" in screen_text(app)
            assert screen.check_action("edit_channel", ()) is False
            assert screen.check_action("delete_channel", ()) is False
            assert screen.check_action("test", ()) is True
            await pilot.press("d")
            await pilot.pause()
            assert isinstance(app.screen, AlertsScreen)
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, ChannelDialog), WAIT_S)
            form = app.screen
            assert isinstance(form, ChannelDialog) and form.read_only
            assert "from the config file" in screen_text(app)
            assert all(i.disabled for i in form.query(Input))
            assert not form.query_one("#form-save", Button).display
            _no_secret_on(app)
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert isinstance(app.screen, ChannelDialog)  # nothing to save
            await pilot.press("escape")
            await wait_until(pilot, lambda: isinstance(app.screen, AlertsScreen), WAIT_S)
            # The daemon refuses a change of it anyway.
            with pytest.raises(FeedCallError) as refused:
                await app.session.call(
                    "alert.channel_save",
                    {"channel": {"id": "ops-file", "type": "slack", "url": "https://x.test/a"}},
                )
            assert refused.value.code == "forbidden"


async def test_a_non_admin_is_offered_no_channel_keys_and_is_refused(folder: Path) -> None:
    async with running(folder) as (settings, receiver):
        app = _app(settings, "rita")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await _alerts_channels(pilot, app, "rita")
            text = screen_text(app)
            assert "New channel" not in text and "Test-send" not in text
            for action in ("new_channel", "edit_channel", "delete_channel", "test"):
                assert screen.check_action(action, ()) is False, action
            await pilot.press("n")
            await pilot.press("t")
            await pilot.pause()
            assert isinstance(app.screen, AlertsScreen)
            assert receiver.got == []
            await pilot.press("enter")  # read-only view for anyone
            await wait_until(pilot, lambda: isinstance(app.screen, ChannelDialog), WAIT_S)
            assert app.screen.read_only  # type: ignore[attr-defined]
            await pilot.press("escape")
            # The daemon refuses a reporter's save.
            with pytest.raises(FeedCallError) as refused:
                await app.session.call(
                    "alert.channel_save",
                    {"channel": {"id": "mine", "type": "slack", "url": "https://x.test/a"}},
                )
            assert refused.value.code == "forbidden"
            channels = await app.session.call("alert.channels", {})
            assert [c["id"] for c in channels] == ["ops-file"]
