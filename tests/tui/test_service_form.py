"""Issue 12, point 8: the add/edit-service form covers every setting a [[service]] takes,
shows the daemon's per-field errors by their fields, and asks before discarding."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from slamon_daemon.config import ServiceConfig
from slamon_tui.screens.admin import AdminScreen
from slamon_tui.screens.confirm_discard import ConfirmDiscardScreen
from slamon_tui.screens.service_form import SERVICE_FIELDS, ServiceDialog, parse_headers
from slamon_tui.widgets.marked_checkbox import MarkedCheckbox

from .fake_daemon import FakeDaemon
from .helpers import fast_app, screen_text, wait_until
from .login_helpers import PASSWORDS, ROLES, log_in_with_keys, type_into

SIZES = [(80, 24), (300, 80)]


def test_the_form_has_a_field_for_every_setting_the_config_accepts() -> None:
    form = {k for k, _l, _h in SERVICE_FIELDS}
    config = set(ServiceConfig.model_fields) - {"active"}  # pause/resume set that one
    assert config - form == set(), "settings of [[service]] missing from the form"
    assert form - config == set(), "form fields the config does not take"


def test_headers_are_written_name_colon_value() -> None:
    assert parse_headers("Authorization: Bearer x; X-Env: prod ;") == {
        "Authorization": "Bearer x",
        "X-Env": "prod",
    }
    with pytest.raises(ValueError, match="not"):
        parse_headers("no colon here")


async def _add_form(pilot, app, daemon: FakeDaemon) -> ServiceDialog:  # type: ignore[no-untyped-def]
    await wait_until(pilot, lambda: len(app.dashboard.order) == 4)
    await log_in_with_keys(pilot, app, "alice")
    await pilot.press("A")
    await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen))
    await pilot.press("2", "n")
    await wait_until(pilot, lambda: isinstance(app.screen, ServiceDialog))
    return app.screen  # type: ignore[no-any-return]


@pytest.mark.parametrize("size", SIZES)
async def test_every_setting_reaches_the_daemon_and_errors_come_back_by_field(
    daemon: FakeDaemon, size: tuple[int, int]
) -> None:
    for name, password in PASSWORDS.items():
        daemon.auth.add_user(name, password, ROLES[name], f"{name}@example.com")
    app = fast_app(daemon.path)
    async with app.run_test(size=size) as pilot:
        dialog = await _add_form(pilot, app, daemon)
        values = {
            "id": "checkout",
            "url": "https://127.0.0.1:9/health",
            "headers": "Authorization: Bearer s3cret; X-Env: prod",
            "body": '{"ping": true}',
            "body_regex": "ok|up",
            "json_path": "$.status == 'UP'",
            "ca_file": "/etc/ssl/private-ca.pem",
            "latency_objective_under": "800ms",
            "latency_objective_percent": "95",
            "group": "Payments",
            "tags": "eu, pci",
        }
        for key, text in values.items():
            await type_into(pilot, f"#input-{key}", text)
        dialog.query_one("#input-verify_tls", MarkedCheckbox).value = False
        dialog.query_one("#input-follow_redirects", MarkedCheckbox).value = True
        # The daemon refuses the URL: its problem goes under the URL field.
        await type_into(pilot, "#input-url", "ftp://nope")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: dialog.field("url").error_text != "")
        assert "not an http:// or https:// URL" in dialog.field("url").error_text
        assert dialog.field("headers").error_text == ""
        # A header written wrong is caught here, by its field.
        await type_into(pilot, "#input-url", values["url"])
        await type_into(pilot, "#input-headers", "Authorization Bearer")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: dialog.field("headers").error_text != "")
        assert "Name: value" in dialog.field("headers").error_text
        await type_into(pilot, "#input-headers", values["headers"])
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen))
        [sent] = [r["params"] for r in daemon.requests if r["method"] == "service.add"][-1:]
        assert sent["headers"] == {"Authorization": "Bearer s3cret", "X-Env": "prod"}
        assert sent["tags"] == ["eu", "pci"] and sent["group"] == "Payments"
        assert sent["verify_tls"] is False and sent["follow_redirects"] is True
        assert sent["latency_objective_under"] == "800ms"
        assert sent["latency_objective_percent"] == 95.0
        assert sent["body"] == '{"ping": true}' and sent["json_path"] == "$.status == 'UP'"
        # What is sent is what the daemon's config accepts (the same model judges it).
        ServiceConfig(**{k: v for k, v in sent.items() if k != "ca_file"})


@pytest.mark.parametrize("size", SIZES)
async def test_leaving_with_changes_asks_first(daemon: FakeDaemon, size: tuple[int, int]) -> None:
    for name, password in PASSWORDS.items():
        daemon.auth.add_user(name, password, ROLES[name], f"{name}@example.com")
    app = fast_app(daemon.path)
    async with app.run_test(size=size) as pilot:
        dialog = await _add_form(pilot, app, daemon)
        await pilot.press("escape")  # nothing typed: leaves at once
        await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen))
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, ServiceDialog))
        dialog = app.screen
        await type_into(pilot, "#input-url", "http://127.0.0.1:9/x")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDiscardScreen))
        assert "Discard" in screen_text(app)
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is dialog)
        await pilot.press("escape", "y")
        await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen))
        assert not any(r["method"] == "service.add" for r in daemon.requests)


def test_a_bad_setting_is_named_by_the_daemon_model() -> None:
    # The daemon validates with the config's model: its error names the field.
    with pytest.raises(ValidationError) as info:
        ServiceConfig(id="x", url="http://h/", tags=[""])
    assert "tags" in str(info.value)
