"""Channels as database rows and as replies: secrets sealed for the one, masked for the other.

``alert_channels`` keeps a channel as ``config`` (JSON of its non-secret settings, routing
included) and ``secrets`` (JSON of its secret fields, each sealed by the ``SecretBox`` for
``alert_channel:<id>:<field>``). ``public_view`` is what the feed, the TUI and the audit log
may show: every secret masked (URLs keep their host, see redact.py).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import SecretStr, TypeAdapter

from .config import AlertChannelConfig, ChannelConfig
from .redact import MASK, mask_url
from .secretbox import SecretBox

_ADAPTER: TypeAdapter[Any] = TypeAdapter(AlertChannelConfig)


def _context(channel_id: str, field: str) -> str:
    return f"alert_channel:{channel_id}:{field}"


def to_record(cfg: ChannelConfig, box: SecretBox) -> tuple[str, str]:
    """``(config_json, secrets_json)`` of a channel, its secrets sealed."""
    data = cfg.model_dump(mode="json", exclude=set(cfg.SECRET_FIELDS))
    secrets: dict[str, Any] = {}
    for name, value in secret_values(cfg).items():
        plain = json.dumps(value) if isinstance(value, dict) else value
        secrets[name] = box.seal(plain, _context(cfg.id, name))
    return json.dumps(data, sort_keys=True), json.dumps(secrets, sort_keys=True)


def secret_values(cfg: ChannelConfig) -> dict[str, Any]:
    """The channel's secrets that are set, in clear (webhook headers as a dict of str)."""
    out: dict[str, Any] = {}
    for name in cfg.SECRET_FIELDS:
        value = getattr(cfg, name)
        if value is None:
            continue
        if isinstance(value, dict):  # webhook headers: {name: SecretStr}
            out[name] = {k: v.get_secret_value() for k, v in value.items()}
        else:
            out[name] = value.get_secret_value()
    return out


def from_record(config_json: str, secrets_json: str, box: SecretBox) -> ChannelConfig:
    """The channel of a row (validated like a config file's).

    Raises:
        SecretBoxError: a secret does not open with this key file.
        pydantic.ValidationError: the stored settings are no longer valid.
    """
    data: dict[str, Any] = json.loads(config_json)
    channel_id = str(data.get("id"))
    model = _ADAPTER.validate_python({**data, **_opened(channel_id, secrets_json, box, data)})
    assert isinstance(model, ChannelConfig)
    return model


def _opened(
    channel_id: str, secrets_json: str, box: SecretBox, data: dict[str, Any]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, sealed in json.loads(secrets_json).items():
        plain = box.open(sealed, _context(channel_id, name))
        out[name] = json.loads(plain) if name == "headers" else plain
    return out


def public_view(cfg: ChannelConfig) -> dict[str, Any]:
    """A channel's settings with every secret masked (replies, the TUI, the audit log)."""
    data = cfg.model_dump(mode="json", exclude=set(cfg.SECRET_FIELDS))
    for name in cfg.SECRET_FIELDS:
        value = getattr(cfg, name)
        if value is None:
            data[name] = None
        elif isinstance(value, dict):
            data[name] = {k: MASK for k in value}
        elif isinstance(value, SecretStr) and name == "url":
            data[name] = mask_url(value.get_secret_value())
        else:
            data[name] = MASK
    data["paging"] = cfg.paging
    return data
