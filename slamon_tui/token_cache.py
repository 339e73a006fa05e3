"""The login cache: the tokens of one login, kept between runs of ``slamon``.

One file per daemon socket, ``$XDG_CACHE_HOME/slamon/token-<sha256 of the socket path>.json``
(``~/.cache`` by default), created with mode 0600 in a directory of mode 0700: it holds a
bearer token. It is used at start while its access token has not expired, and deleted at
logout (and when the daemon refuses it). No Textual here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from slamon_daemon.models import parse_ts
from slamon_tui.client import Login

logger = logging.getLogger("slamon.tui.token_cache")

FILE_MODE = 0o600
DIR_MODE = 0o700


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/slamon``, else ``~/.cache/slamon``."""
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    return root / "slamon"


def cache_file(socket_path: str | os.PathLike[str], directory: Path | None = None) -> Path:
    """The cache file of the daemon at ``socket_path`` (absolute path, hashed)."""
    digest = hashlib.sha256(os.path.abspath(os.fspath(socket_path)).encode()).hexdigest()
    return (directory or cache_dir()) / f"token-{digest}.json"


class TokenCache:
    """Load, save and delete the cached login of one daemon."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def for_socket(
        cls, socket_path: str | os.PathLike[str], directory: Path | None = None
    ) -> TokenCache:
        """The cache of the daemon at ``socket_path``."""
        return cls(cache_file(socket_path, directory))

    def load(self, *, user: str | None = None, now: datetime | None = None) -> Login | None:
        """The cached login while its access token is valid; None otherwise.

        With ``user``, a login of someone else is ignored (and left in place). An expired
        or unreadable file is deleted.
        """
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            login = Login.from_result(data)
            expires = parse_ts(login.expires_at)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            logger.warning("ignoring the unreadable token cache %s: %s", self.path, exc)
            self.delete()
            return None
        if expires <= (now or datetime.now(UTC)):
            self.delete()
            return None
        if user is not None and login.username != user:
            return None
        return login

    def save(self, login: Login) -> None:
        """Write ``login`` (mode 0600, replacing the file in one step)."""
        self.path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)  # a left-over tmp file may have had another mode
            os.write(fd, json.dumps(login.to_dict()).encode())
        finally:
            os.close(fd)
        os.replace(tmp, self.path)

    def delete(self) -> None:
        """Forget the cached login (nothing happens when there is none)."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
