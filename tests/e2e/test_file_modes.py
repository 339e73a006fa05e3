"""The files slamond creates are its own (issue 10, point 6): a real daemon started with a
loose umask (022) still makes its database, WAL, journal, secret and lock files 0600 and
its folders 0700; the socket is 0660 (shared through socket_group); files left looser by
someone else are named in the log."""

from __future__ import annotations

import stat
import tempfile
from pathlib import Path

from slamon_daemon.targets import Target, respond

from .slamond import Slamond, config_text, wait_for


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


async def test_files_the_daemon_creates_are_0600_and_folders_0700() -> None:
    folder = Path(tempfile.mkdtemp(prefix="slt-", dir="/tmp"))
    data = folder / "data"  # does not exist yet: the daemon makes it
    db = data / "slamon.db"
    async with Target(respond(200)) as up:
        cfg = folder / "slamon.toml"
        cfg.write_text(
            config_text(folder, f"sqlite:///{db}", [("api", up.url, "100ms")]), encoding="utf-8"
        )
        daemon = Slamond(cfg, folder / "slamond.log", socket=folder / "s.sock", umask=0o022)
        await daemon.start()
        try:
            spool = Path(f"{db}.spool")
            await wait_for(lambda: any(spool.glob("*.jsonl")), 20, "a journal segment")
            segments = list(spool.glob("*.jsonl"))
            modes = {
                "data folder": _mode(data),
                "database": _mode(db),
                "WAL": _mode(Path(f"{db}-wal")),
                "shared memory": _mode(Path(f"{db}-shm")),
                "database lock": _mode(Path(f"{db}.lock")),
                "journal folder": _mode(spool),
                "journal lock": _mode(spool / "lock"),
                "secret": _mode(Path(f"{db}.secret")),
            }
            segment_modes = {_mode(s) for s in segments if s.exists()}
            socket_mode = _mode(folder / "s.sock")
            assert await daemon.stop() == 0
        finally:
            await daemon.kill()
    assert modes == {
        "data folder": 0o700,
        "database": 0o600,
        "WAL": 0o600,
        "shared memory": 0o600,
        "database lock": 0o600,
        "journal folder": 0o700,
        "journal lock": 0o600,
        "secret": 0o600,
    }
    assert segment_modes <= {0o600}
    assert socket_mode == 0o660
    assert "is open to others" not in daemon.log_text()

    # A file made looser by hand is named at the next start, with the fix.
    db.chmod(0o644)
    daemon = Slamond(cfg, folder / "slamond2.log", socket=folder / "s.sock")
    await daemon.start()
    assert await daemon.stop() == 0
    assert f"{db} is open to others (mode 0644)" in daemon.log_text()
    assert f"run: chmod 600 {db}" in daemon.log_text()
