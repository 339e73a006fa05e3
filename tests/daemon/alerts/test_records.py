"""Channels as rows: secrets sealed in the database, masked in replies, round trips intact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slamon_daemon.alerts.config import WebhookChannelConfig
from slamon_daemon.alerts.records import from_record, public_view, to_record
from slamon_daemon.alerts.secretbox import SecretBox, SecretBoxError

from .test_config import FULL, load


def test_every_channel_round_trips_with_sealed_secrets(tmp_path: Path) -> None:
    box = SecretBox.from_key_file(tmp_path / "k")
    for cfg in load(FULL).alert_channel:
        config_json, secrets_json = to_record(cfg, box)
        for secret in ("XyZ", "R0UTINGKEY", "t0k", "my-topic", "p4ss", "1:abc"):
            assert secret not in config_json + secrets_json
        assert all(v.startswith("v1:") for v in json.loads(secrets_json).values())
        back = from_record(config_json, secrets_json, box)
        assert back == cfg


def test_a_sealed_secret_does_not_open_for_another_channel(tmp_path: Path) -> None:
    box = SecretBox.from_key_file(tmp_path / "k")
    cfg = load(FULL).alert_channel[0]
    config_json, secrets_json = to_record(cfg, box)
    moved = json.loads(config_json) | {"id": "stolen"}
    with pytest.raises(SecretBoxError, match="alert_channel:stolen:url"):
        from_record(json.dumps(moved), secrets_json, box)


def test_wrong_key_file(tmp_path: Path) -> None:
    cfg = load(FULL).alert_channel[1]
    config_json, secrets_json = to_record(cfg, SecretBox.from_key_file(tmp_path / "a"))
    with pytest.raises(SecretBoxError, match="key file"):
        from_record(config_json, secrets_json, SecretBox.from_key_file(tmp_path / "b"))


def test_public_view_masks_every_secret() -> None:
    channels = load(FULL).alert_channel
    views = [public_view(c) for c in channels]
    text = json.dumps(views)
    for secret in ("XyZ", "R0UTINGKEY", "t0k", "my-topic", "p4ss", "1:abc"):
        assert secret not in text
    slack, pager, hook = views[:3]
    assert slack["url"] == "https://hooks.slack.com/services/***"
    assert pager["routing_key"] == "***" and pager["paging"] is True
    assert hook["headers"] == {"Authorization": "***"}
    assert isinstance(channels[2], WebhookChannelConfig)
