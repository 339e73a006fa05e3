"""Fixtures for the TUI tests: a socket path short enough for AF_UNIX, and a fake daemon."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from .fake_daemon import FakeDaemon, make_service, make_snapshot

# AF_UNIX paths are limited to 108 bytes; pytest's tmp_path can be longer than that.
_MAX_SOCKET_PATH = 100


@pytest.fixture(autouse=True)
def _token_cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Logins made by a test are cached under tmp_path, never in the real ~/.cache."""
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    # The TUI's remembered sort, filter and theme (ui_state.py) stay in tmp_path too.
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    return cache


@pytest.fixture
def sock_path(tmp_path: Path) -> Iterator[Path]:
    """Where the fake daemon listens: in tmp_path when that is short enough."""
    path = tmp_path / "feed.sock"
    if len(str(path)) < _MAX_SOCKET_PATH:
        yield path
        return
    short = Path(tempfile.mkdtemp(prefix="slamon-"))
    try:
        yield short / "feed.sock"
    finally:
        shutil.rmtree(short, ignore_errors=True)


def demo_snapshot() -> dict[str, object]:
    """Four services in four states, like the demo."""
    return make_snapshot(
        [
            make_service("api", "Public API"),
            make_service(
                "slow",
                "Slow service",
                status="degraded",
                daily=["nd"] * 60 + ["o"] * 25 + ["po"] * 2 + ["o"] * 3,
                last_latency=1850.0,
                latencies=[900.0 + (i * 37) % 1100 for i in range(60)],
                uptime={"30": "99.80", "60": "99.90", "90": "99.93"},
            ),
            make_service(
                "flaky",
                "Flaky backend",
                status="partial_outage",
                daily=["nd"] * 30 + ["o", "po", "mo", "o", "maintenance"] * 12,
                outcome="down",
                error_kind="timeout",
                last_latency=10000.0,
                uptime={"30": "97.12", "60": "98.40", "90": "98.91"},
            ),
            make_service(
                "down",
                "Legacy billing",
                status="major_outage",
                daily=["nd"] * 87 + ["mo"] * 3,
                outcome="down",
                error_kind="connection_error",
                last_latency=0.4,
                latencies=[0.4] * 20,
                uptime={"30": "12.50", "60": "—", "90": "—"},
            ),
        ],
        overall="major_outage",
        notice="Demo: history before 23:01 UTC is generated demo data",
    )


@pytest.fixture
async def daemon(sock_path: Path) -> AsyncIterator[FakeDaemon]:
    """A running fake daemon serving demo_snapshot()."""
    async with FakeDaemon(sock_path, demo_snapshot()) as fake:
        yield fake
