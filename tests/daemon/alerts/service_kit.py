"""An ``AlertingService`` over a real store with one service ("api") and one webhook channel
("ops"), as the service tests build it (test_service.py, test_channel_save.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from slamon_daemon.alerts.service import AlertingService
from slamon_daemon.config import load_settings
from slamon_daemon.state import LiveState
from slamon_daemon.store import SqliteStore


class Clock:
    """A clock that stands still at ``now`` (moved by setting ``t``), or follows the wall
    clock when made without one."""

    def __init__(self, now: datetime | None = None) -> None:
        self.t = now

    def now(self) -> datetime:
        return self.t if self.t is not None else datetime.now(UTC)

    def monotonic(self) -> float:
        return self.now().timestamp()


def settings_of(tmp_path: Path, hook: str = "http://127.0.0.1:9/hook", alerts: str = "") -> Any:
    """Settings with one service and one webhook channel to ``hook``; ``alerts`` is an
    [alerts] table."""
    cfg = tmp_path / "slamon.toml"
    cfg.write_text(
        f'[daemon]\ndatabase_url = "sqlite:///{tmp_path}/db.sqlite"\n'
        '\n[[service]]\nid = "api"\nurl = "http://127.0.0.1:9/"\n'
        f'\n[[alert_channel]]\nid = "ops"\ntype = "webhook"\nurl = "{hook}"\n' + alerts,
        encoding="utf-8",
    )
    settings, _ = load_settings(cfg)
    return settings


async def _always_ready() -> bool:
    return True


async def _no_incident(_: int) -> None:
    return None


def alerting_service(
    tmp_path: Path,
    store: SqliteStore,
    clock: Clock,
    settings: Any = None,
    ready: Callable[[], Awaitable[bool]] = _always_ready,
) -> AlertingService:
    """The service as the daemon wires it, with nothing in maintenance and no incidents."""
    settings = settings if settings is not None else settings_of(tmp_path)
    live = LiveState(clock=clock)  # type: ignore[arg-type]
    live.set_services(settings.services)
    return AlertingService(
        settings,
        store,
        live,
        clock,  # type: ignore[arg-type]
        where="t",
        key_file=tmp_path / "keys" / "alerts.key",
        maintenance=lambda: [],
        ready=ready,
        get_incident=_no_incident,
    )
