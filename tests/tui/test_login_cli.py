"""``slamon --user NAME`` and the cached login used by ``slamon status`` / ``slamon call``;
the token cache file itself (mode, expiry, a user's own login only)."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from slamon_tui import cli
from slamon_tui.client import Login
from slamon_tui.token_cache import TokenCache, cache_dir, cache_file

from .fake_daemon import FakeDaemon


def _login(name: str = "alice", *, token: str = "acc-alice-1", hours: float = 1) -> Login:
    return Login(
        token,
        f"ref-{name}",
        (datetime.now(UTC) + timedelta(hours=hours)).isoformat(),
        {"username": name, "role": "admin"},
    )


def test_user_option_reaches_the_tui(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[tuple[Path, str | None]] = []
    monkeypatch.setattr(
        cli, "run_tui", lambda path, user=None, noc=False: seen.append((path, user)) or 0
    )
    assert cli.main(["--socket", str(tmp_path / "s.sock"), "--user", "alice"]) == 0
    assert seen == [(tmp_path / "s.sock", "alice")]
    assert cli.build_parser().parse_args([]).user is None
    # --user takes a value: the word after it is not a command.
    assert cli.admin_command(["--user", "db"]) is None
    assert cli.admin_command(["--user", "alice", "user", "list"]) == "user"


def test_cache_file_is_per_socket_under_xdg_cache_home(_token_cache_in_tmp: Path) -> None:
    assert cache_dir() == _token_cache_in_tmp / "slamon"
    assert cache_dir({"HOME": "/home/x"}) == Path.home() / ".cache" / "slamon"
    a, b = cache_file("/run/a.sock"), cache_file("/run/b.sock")
    assert a != b and a.parent == b.parent == _token_cache_in_tmp / "slamon"
    assert a.name.startswith("token-") and a.name.endswith(".json")


def test_cache_is_0600_in_a_0700_dir_and_replaced_whole(tmp_path: Path) -> None:
    cache = TokenCache(tmp_path / "slamon" / "token-x.json")
    old = os.umask(0)  # even with a permissive umask
    try:
        cache.save(_login())
    finally:
        os.umask(old)
    assert stat.S_IMODE(cache.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.path.parent.stat().st_mode) == 0o700
    cache.path.chmod(0o644)
    cache.save(_login(token="acc-alice-2"))
    assert stat.S_IMODE(cache.path.stat().st_mode) == 0o600
    assert json.loads(cache.path.read_text())["access_token"] == "acc-alice-2"
    assert [p.name for p in cache.path.parent.iterdir()] == ["token-x.json"]  # no tmp left


def test_cache_load_rules(tmp_path: Path) -> None:
    cache = TokenCache(tmp_path / "token.json")
    assert cache.load() is None  # none yet
    cache.save(_login())
    loaded = cache.load()
    assert loaded is not None and loaded.username == "alice"
    assert cache.load(user="alice") == loaded
    assert cache.load(user="bob") is None and cache.path.exists()  # someone else's: kept
    assert cache.load(now=datetime.now(UTC) + timedelta(hours=2)) is None
    assert not cache.path.exists()  # expired: removed
    cache.path.write_text("{not json")
    assert cache.load() is None and not cache.path.exists()
    cache.delete()  # nothing to delete is fine


async def test_call_uses_the_cached_login(
    daemon: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    daemon.auth.add_user("alice", "alice-Pa55word", "admin")
    login = Login.from_result(daemon.auth._issue("alice"))
    TokenCache.for_socket(daemon.path).save(login)
    code = await asyncio.to_thread(cli.main, ["--socket", str(daemon.path), "call", "user.list"])
    assert code == 0
    assert [u["username"] for u in json.loads(capsys.readouterr().out)] == ["alice"]
    assert daemon.requests[-1]["token"] == login.access_token


async def test_status_without_anonymous_reads_needs_the_cached_login(
    daemon: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    daemon.auth.anonymous_read = False
    argv = ["--socket", str(daemon.path), "status"]
    assert await asyncio.to_thread(cli.main, argv) == 3
    assert "unauthorized" in capsys.readouterr().err
    daemon.auth.add_user("victor", "victor-Pa55word", "viewer")
    TokenCache.for_socket(daemon.path).save(Login.from_result(daemon.auth._issue("victor")))
    assert await asyncio.to_thread(cli.main, argv) == 2  # the demo's major outage
    assert "Major Outage" in capsys.readouterr().out
