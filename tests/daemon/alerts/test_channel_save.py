"""alert.channel_save as a form uses it (the TUI's channel form): each problem by the key it
concerns, and an edit that leaves a secret out keeps the stored one; the file's channels
stay the file's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, TypeAdapter, ValidationError

from slamon_daemon.alerts.config import AlertChannelConfig, WebhookChannelConfig
from slamon_daemon.alerts.config_check import channel_problems
from slamon_daemon.alerts.service import AlertingService
from slamon_daemon.errors import Forbidden, InvalidParams
from slamon_daemon.store import SqliteStore

from .service_kit import Clock, alerting_service

CHANNEL: TypeAdapter[Any] = TypeAdapter(AlertChannelConfig)


def _problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as exc:
        CHANNEL.validate_python(data)
    return channel_problems(exc.value)


def test_problems_are_keyed_by_the_channels_own_keys() -> None:
    assert _problems({"id": "x", "type": "telegram"}) == {
        "bot_token": "required key is missing",
        "chat_id": "required key is missing",
    }
    bad = _problems({"id": "Bad Id", "type": "slack", "url": "ftp://x/secret-token"})
    assert set(bad) == {"id", "url"}
    assert "kebab-case" in bad["id"]
    assert "secret-token" not in bad["url"]  # a secret is never echoed
    rules = _problems({"id": "x", "type": "webhook", "url": "http://h/", "rules": ["down", "pg"]})
    assert rules["rules"].startswith("rules[1]: ")
    assert "unknown channel type 'slak'" in _problems({"id": "x", "type": "slak"})["type"]
    extra = _problems({"id": "x", "type": "slack", "url": "http://h/", "colour": "red"})
    assert "allowed here:" in extra["colour"] and "url" in extra["colour"]


async def _service(tmp_path: Path, store: SqliteStore) -> AlertingService:
    svc = alerting_service(tmp_path, store, Clock())
    await svc._load()
    return svc


async def test_an_edit_without_its_secrets_keeps_them(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite")
    await store.open()
    try:
        await store.migrate()
        svc = await _service(tmp_path, store)
        first = {
            "id": "team",
            "type": "webhook",
            "url": "http://127.0.0.1:9/hook/T0K3N",
            "headers": {"X-Token": "h3ader"},
        }
        await svc.save_channel(first, "alice")
        saved = await svc.save_channel({"id": "team", "type": "webhook", "name": "Team"}, "alice")
        assert saved["name"] == "Team" and saved["url"] == "http://127.0.0.1:9/hook/***"
        cfg = svc.channels["team"].config
        assert isinstance(cfg, WebhookChannelConfig)
        assert cfg.url.get_secret_value() == "http://127.0.0.1:9/hook/T0K3N"
        assert cfg.headers == {"X-Token": SecretStr("h3ader")}
        # A secret typed again replaces the stored one.
        retyped = {"id": "team", "type": "webhook", "url": "http://127.0.0.1:9/hook/NEW"}
        await svc.save_channel(retyped, "alice")
        cfg = svc.channels["team"].config
        assert isinstance(cfg, WebhookChannelConfig)
        assert cfg.url.get_secret_value().endswith("/NEW")
        assert cfg.headers == {"X-Token": SecretStr("h3ader")}  # left out: kept
        # Another kind is a new channel: its secrets must be given.
        with pytest.raises(InvalidParams) as refused:
            await svc.save_channel({"id": "team", "type": "slack"}, "alice")
        assert refused.value.problems == {"url": "required key is missing"}
        # The file's channel is the file's, secrets or not.
        with pytest.raises(Forbidden):
            await svc.save_channel({"id": "ops", "type": "webhook", "name": "x"}, "alice")
    finally:
        await store.close()
