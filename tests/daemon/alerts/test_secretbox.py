"""The secret box: AES-GCM round trips, wrong keys, key file modes, nothing leaks."""

from __future__ import annotations

import base64
import logging
import os
import stat
from pathlib import Path

import pytest

from slamon_daemon.alerts.secretbox import SecretBox, SecretBoxError, load_or_create_key


def test_round_trip(tmp_path: Path) -> None:
    box = SecretBox.from_key_file(tmp_path / "keys" / "alerts.key")
    sealed = box.seal("https://hooks.slack.com/services/T/B/xyz", "channel:ops:url")
    assert sealed.startswith("v1:") and "hooks.slack.com" not in sealed
    assert box.open(sealed, "channel:ops:url") == "https://hooks.slack.com/services/T/B/xyz"


def test_each_seal_is_different(tmp_path: Path) -> None:
    box = SecretBox.from_key_file(tmp_path / "k")
    assert box.seal("same", "c") != box.seal("same", "c")  # fresh nonce every time


def test_wrong_key_fails_clearly(tmp_path: Path) -> None:
    sealed = SecretBox.from_key_file(tmp_path / "a.key").seal(
        "routing-key-123", "channel:pd:routing_key"
    )
    other = SecretBox.from_key_file(tmp_path / "b.key")
    with pytest.raises(SecretBoxError) as err:
        other.open(sealed, "channel:pd:routing_key")
    assert "channel:pd:routing_key" in str(err.value)
    assert "key file" in str(err.value)
    assert "routing-key-123" not in str(err.value)


def test_value_moved_to_another_channel_does_not_open(tmp_path: Path) -> None:
    box = SecretBox.from_key_file(tmp_path / "k")
    sealed = box.seal("secret", "channel:a:url")
    with pytest.raises(SecretBoxError):
        box.open(sealed, "channel:b:url")


@pytest.mark.parametrize(
    "token", ["plain-text", "v1:not base64!", "v1:" + base64.b64encode(b"short").decode()]
)
def test_damaged_values(tmp_path: Path, token: str) -> None:
    box = SecretBox.from_key_file(tmp_path / "k")
    with pytest.raises(SecretBoxError):
        box.open(token, "channel:a:url")


def test_tampered_ciphertext(tmp_path: Path) -> None:
    box = SecretBox.from_key_file(tmp_path / "k")
    raw = bytearray(base64.b64decode(box.seal("secret", "c")[3:]))
    raw[-1] ^= 1
    with pytest.raises(SecretBoxError):
        box.open("v1:" + base64.b64encode(bytes(raw)).decode(), "c")


def test_key_file_created_once_with_private_modes(tmp_path: Path) -> None:
    path = tmp_path / "state" / "slamon" / "alerts.key"
    key = load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_or_create_key(path) == key  # never rewritten
    assert [p.name for p in path.parent.iterdir()] == ["alerts.key"]  # no temporary left


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "alerts.key"
    load_or_create_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(SecretBoxError, match="chmod 600"):
        load_or_create_key(path)


def test_key_file_with_wrong_content(tmp_path: Path) -> None:
    path = tmp_path / "alerts.key"
    path.write_text("too short\n")
    os.chmod(path, 0o600)
    with pytest.raises(SecretBoxError, match="32-byte"):
        load_or_create_key(path)


def test_key_never_shown(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "alerts.key"
    box = SecretBox.from_key_file(path)
    key_text = path.read_text().strip()
    sealed = box.seal("hunter2-password", "channel:mail:password")
    try:
        SecretBox.from_key_file(tmp_path / "other.key").open(sealed, "channel:mail:password")
    except SecretBoxError as exc:
        message = str(exc)
    assert repr(box) == "SecretBox(key=***)"
    for shown in (repr(box), message, caplog.text):
        assert key_text not in shown and "hunter2" not in shown
