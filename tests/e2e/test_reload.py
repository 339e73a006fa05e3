"""Config reload without a restart (issue 10, point 7), on a real daemon process: SIGHUP and
``slamon reload`` re-read the file; services, maintenance windows and the log level change;
an invalid file keeps the running config and every problem is reported as at start;
SIGTERM and SIGINT stay graceful (goodbye, socket removed, exit 0)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from slamon_daemon.targets import Target, respond

from .slamond import ROOT, Slamond, config_text, wait_for


def _write(cfg: Path, folder: Path, services: list[tuple[str, str, str]], extra: str = "") -> None:
    text = config_text(
        folder,
        f"sqlite:///{folder}/slamon.db",
        services,
        f"owner_is_admin = true\n{extra}",
    )
    cfg.write_text(text, encoding="utf-8")


async def _service_ids(daemon: Slamond) -> set[str]:
    return {s["id"] for s in (await daemon.call("status.get"))["result"]["services"]}


async def _slamon(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys; from slamon_tui.cli import main; sys.exit(main(sys.argv[1:]))",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": tempfile.mkdtemp()},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_sighup_and_slamon_reload_apply_the_file_or_keep_the_running_config() -> None:
    folder = Path(tempfile.mkdtemp(prefix="slt-", dir="/tmp"))
    cfg = folder / "slamon.toml"
    async with Target(respond(200)) as up:
        _write(cfg, folder, [("a", up.url, "1s"), ("b", up.url, "1s")])
        daemon = Slamond(cfg, folder / "slamond.log", socket=folder / "s.sock")
        await daemon.start()
        try:
            assert await _service_ids(daemon) == {"a", "b"}

            # -- a valid change, by SIGHUP --------------------------------------------------
            start = datetime.now(UTC) + timedelta(days=1)
            window = (
                f'\n[[maintenance]]\nid = "upgrade"\ntitle = "Upgrade"\n'
                f'start = "{start.isoformat()}"\nend = "{(start + timedelta(hours=1)).isoformat()}"'
                f'\nservices = ["c"]\n'
            )
            _write(cfg, folder, [("a", up.url, "2s"), ("c", up.url, "1s")], 'log_level = "DEBUG"')
            cfg.write_text(cfg.read_text() + window, encoding="utf-8")
            daemon.signal(signal.SIGHUP)
            await wait_for(lambda: _has(daemon, {"a", "c"}), what="the reload applied")
            await wait_for(lambda: "reload: log_level" in daemon.log_text(), what="reload logged")
            log = daemon.log_text()
            assert "reload: services: added c; updated a; deactivated b" in log
            assert "reload: log_level: INFO -> DEBUG" in log
            assert "reload: maintenance windows: 1 in the file" in log
            windows = (await daemon.call("maintenance.list"))["result"]
            assert [(w["title"], w["services"]) for w in windows] == [("Upgrade", ["c"])]
            await wait_for(lambda: " DEBUG " in daemon.log_text(), what="debug lines")

            # -- an invalid file: nothing changes, each problem said as at start ------------
            good = cfg.read_text()
            bad = good.replace('interval = "2s"', 'interval = "soon"') + "\n[daemon2]\nx = 1\n"
            cfg.write_text(bad, encoding="utf-8")
            startup = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "slamon_daemon",
                "--config",
                str(cfg),
                stderr=asyncio.subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            _, startup_err = await startup.communicate()
            assert startup.returncode == 2
            problems = startup_err.decode().strip().splitlines()
            assert len(problems) == 2, problems
            daemon.signal(signal.SIGHUP)
            await wait_for(
                lambda: "config reload refused" in daemon.log_text(), what="the refusal logged"
            )
            for line in problems:
                assert line in daemon.log_text()
            assert await _service_ids(daemon) == {"a", "c"}, "the running config stays"

            # -- slamon reload: the same, through the feed (admin) --------------------------
            code, out, err = await _slamon("--socket", str(daemon.socket), "reload")
            assert code == 1
            assert err.splitlines()[:2] == problems
            cfg.write_text(
                good.replace('log_level = "DEBUG"', 'log_level = "INFO"\nretention_days = 30'),
                encoding="utf-8",
            )
            code, out, err = await _slamon("--socket", str(daemon.socket), "reload")
            assert code == 0, err
            assert out.splitlines() == [
                "log_level: DEBUG -> INFO",
                "takes effect at the next restart: daemon.retention_days",
            ]
            audit = (await daemon.call("audit.list"))["result"]
            assert [e["method"] for e in audit].count("daemon.reload") == 2

            # -- SIGTERM stays graceful -----------------------------------------------------
            r, w = await asyncio.open_unix_connection(str(daemon.socket))
            await r.readline()
            w.write(b'{"id": 1, "method": "subscribe"}\n')
            await w.drain()
            await r.readline()
            daemon.signal(signal.SIGTERM)
            goodbye = json.loads(await asyncio.wait_for(r.readline(), 20))
            assert goodbye == {"event": "goodbye", "data": {"reason": "daemon shutting down"}}
            assert await daemon.stop() == 0
            assert not daemon.socket.exists()
            w.close()

            # -- and SIGINT -----------------------------------------------------------------
            daemon = Slamond(cfg, folder / "slamond2.log", socket=folder / "s.sock")
            await daemon.start()
            daemon.signal(signal.SIGINT)
            assert daemon.proc is not None
            assert await asyncio.wait_for(daemon.proc.wait(), 30) == 0
            assert not daemon.socket.exists()
        finally:
            await daemon.kill()
    assert "Traceback" not in daemon.log_text()


async def _has(daemon: Slamond, ids: set[str]) -> bool:
    return await _service_ids(daemon) == ids
