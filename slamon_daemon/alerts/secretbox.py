"""The secret box: channel secrets stored in the database are encrypted with AES-GCM.

Secrets of admin-made channels (webhook URLs with tokens, routing keys, SMTP passwords) are
kept in the ``alert_channels`` table only as ``v1:<base64 of nonce ‖ ciphertext ‖ tag>``,
encrypted under a 256-bit key that lives in a key file, never in the database: a copy of
the database (a backup, a dump) alone reveals no secret.

* The key file is created once, with mode 0600 in a folder created with mode 0700, and is
  never rewritten. It is written to a temporary file and linked into place, so two daemons
  starting at once agree on one key. A key file readable by group or others is refused.
* Each value is bound to where it belongs (``context``, e.g. ``"channel:ops-slack:url"``)
  as AES-GCM associated data: a ciphertext moved to another channel or field fails to open.
* Opening with the wrong key, or a damaged value, raises ``SecretBoxError`` with a sentence
  that names the context but never the value; the key never appears in a repr.
"""

from __future__ import annotations

import base64
import contextlib
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import SlamonError

KEY_BYTES = 32
NONCE_BYTES = 12
PREFIX = "v1:"


class SecretBoxError(SlamonError):
    """A secret could not be sealed or opened, or the key file is unusable."""


class SecretBox:
    """Seals and opens short secrets with AES-256-GCM under one key."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise SecretBoxError(f"an alert key is {KEY_BYTES} bytes, got {len(key)}")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "SecretBox(key=***)"

    @classmethod
    def from_key_file(cls, path: Path) -> SecretBox:
        """The box of the key in ``path``, creating the file (and its folder) if missing."""
        return cls(load_or_create_key(path))

    def seal(self, value: str, context: str) -> str:
        """Encrypt ``value`` for ``context``; a fresh random nonce every time."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, value.encode("utf-8"), context.encode("utf-8"))
        return PREFIX + base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, token: str, context: str) -> str:
        """Decrypt a value sealed for ``context``.

        Raises:
            SecretBoxError: wrong key file, a value sealed for another context, or damage.
        """
        if not token.startswith(PREFIX):
            raise SecretBoxError(f"secret of {context} is not a sealed value (expected v1:…)")
        try:
            raw = base64.b64decode(token[len(PREFIX) :], validate=True)
        except ValueError:
            raise SecretBoxError(f"secret of {context} is damaged (not base64)") from None
        if len(raw) < NONCE_BYTES + 16:
            raise SecretBoxError(f"secret of {context} is damaged (too short)")
        try:
            plain = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
        except InvalidTag:
            raise SecretBoxError(
                f"cannot decrypt the secret of {context}: the alert key file is not the one it"
                " was sealed with, or the stored value was altered"
            ) from None
        return plain.decode("utf-8")


def load_or_create_key(path: Path) -> bytes:
    """Read the key file at ``path``; create it (0600, folder 0700) when it does not exist.

    Raises:
        SecretBoxError: the file is readable by others, has the wrong size, or cannot be
            read or written.
    """
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    try:
        _create_key(path)
    except FileExistsError:
        pass  # another process made it first: use theirs
    except OSError as exc:
        raise SecretBoxError(f"cannot create the alert key file {path}: {exc.strerror}") from None
    try:
        return _read_key(path)
    except FileNotFoundError:
        raise SecretBoxError(f"the alert key file {path} vanished while it was created") from None


def _read_key(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise SecretBoxError(f"cannot read the alert key file {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretBoxError(
            f"the alert key file {path} has mode {stat.S_IMODE(mode):04o}; it must be readable"
            f" by its owner only (chmod 600 {path})"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SecretBoxError(f"cannot read the alert key file {path}: {exc.strerror}") from None
    try:
        key = base64.b64decode(data.strip(), validate=True)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise SecretBoxError(
            f"the alert key file {path} does not hold a {KEY_BYTES}-byte base64 key"
        )
    return key


def _create_key(path: Path) -> None:
    folder = path.parent
    if not folder.exists():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)  # mkdir's mode is reduced by the umask
    tmp = folder / f".{path.name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, base64.b64encode(os.urandom(KEY_BYTES)) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if the key exists: a key is never replaced
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
