"""One real slamond, its targets and its alert receivers, shared by a module's tests
(tests/e2e/test_alerts_suppression.py, test_alerts_channels.py).

The targets and receivers run on a ``LoopThread`` of their own (see loop_thread.py), the
daemon on SQLite in the module's folder with every service checked each second.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.daemon.alerts.receivers import Receiver

from .loop_thread import LoopThread
from .slamond import Slamond
from .test_alerts import Switch, until


def daemon_section(folder: Path) -> str:
    """The ``[daemon]`` table of such a world: SQLite and the socket in ``folder``."""
    return (
        f'[daemon]\ndatabase_url = "sqlite:///{folder}/db.sqlite"\nsocket = "{folder}/s.sock"\n'
        'write_flush_interval = "100ms"\nowner_is_admin = true\n'
    )


def service_section(sid: str, sw: Switch, extra: str = "") -> str:
    """A ``[[service]]`` checked every second against its switch."""
    return f'[[service]]\nid = "{sid}"\nurl = "{sw.url}"\ninterval = "1s"\ntimeout = "3s"\n{extra}'


@dataclass
class AlertWorld:
    """The running daemon, its config file and the switches of its services."""

    d: Slamond
    config: Path
    switches: dict[str, Switch]

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        reply = await self.d.call(method, params)
        assert "result" in reply, reply
        return reply["result"]

    async def status_is(self, sid: str, status: str) -> bool:
        services = (await self.call("status.get"))["services"]
        return any(s["id"] == sid and s["status"] == status for s in services)


@asynccontextmanager
async def running(
    folder: Path,
    switches: dict[str, Switch],
    receivers: Iterable[Receiver],
    config: Callable[[], Path],
    servers: LoopThread,
) -> AsyncIterator[AlertWorld]:
    """Start the switches and receivers on ``servers`` (a receiver whose target has a port
    already set is left for the test to start), write the config, start the daemon and wait
    until every service is operational; stop it all afterwards (the daemon must stop with
    exit code 0)."""
    rx = list(receivers)
    for sw in switches.values():
        await servers.run(sw.target.start())
    for r in rx:
        if not r.target.port:
            await servers.run(r.target.start())
    cfg = config()
    d = Slamond(cfg, folder / "log", socket=folder / "s.sock")
    try:
        await d.start()
        world = AlertWorld(d, cfg, switches)
        for sid in switches:
            await until(lambda sid=sid: world.status_is(sid, "operational"), 60)  # type: ignore[misc]
        yield world
        assert await d.stop() == 0
    finally:
        await d.kill()
        for r in rx:
            await servers.run(r.target.stop())
        for sw in switches.values():
            await servers.run(sw.target.stop())
        servers.close()
