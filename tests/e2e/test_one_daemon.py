"""One daemon per database (issue 10, point 4), with real daemon processes.

* A second daemon on the same SQLite file refuses to start, naming the first; so does a
  second daemon with the same node name on the same PostgreSQL database (another node name
  may run beside it), and a second daemon on the same journal folder.
* The SQLite file deleted or replaced under a running daemon is noticed within seconds and
  said (log, daemon.stats); nothing more is written into the old file; the checks wait in
  the journal and land in the file at that path at the next start.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest

from slamon_daemon.targets import Target, respond

from .slamond import Slamond, config_text, wait_for


def _folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="slt-", dir="/tmp"))


def _daemon(folder: Path, name: str, db_url: str, target: str, extra: str = "") -> Slamond:
    d = folder / name
    d.mkdir()
    cfg = d / "slamon.toml"
    spool = "" if "spool_dir" in extra else f'spool_dir = "{d}/spool"\n'
    cfg.write_text(
        config_text(
            d,
            db_url,
            [("api", target, "200ms")],
            f'{spool}secret_file = "{folder}/secret"\n{extra}',
        ),
        encoding="utf-8",
    )
    return Slamond(cfg, d / "slamond.log", socket=d / "s.sock")


async def _refused(daemon: Slamond) -> str:
    await daemon.start(wait=False)
    assert daemon.proc is not None
    code = await daemon.proc.wait()
    assert code == 1, daemon.log_text()
    assert not daemon.socket.exists(), "a refused daemon never serves"
    return daemon.log_text()


async def test_a_second_daemon_on_one_sqlite_file_refuses_to_start() -> None:
    folder = _folder()
    url = f"sqlite:///{folder}/slamon.db"
    async with Target(respond(200)) as target:
        first = await _daemon(folder, "a", url, target.url).start()
        try:
            log = await _refused(_daemon(folder, "b", url, target.url))
            assert f"pid {first.proc.pid}" in log  # type: ignore[union-attr]
            assert f"another daemon is using the SQLite database {folder}/slamon.db" in log
            # The first one never noticed.
            assert (await first.stats())["database"]["state"] == "connected"
            # Nor may a second daemon share its journal folder (even on another database).
            log = await _refused(
                _daemon(
                    folder,
                    "c",
                    f"sqlite:///{folder}/other.db",
                    target.url,
                    f'spool_dir = "{folder}/a/spool"',
                )
            )
            assert f"another daemon is using the journal folder {folder}/a/spool" in log
            assert await first.stop() == 0
        finally:
            await first.kill()
        # Gone with its process: the next one starts.
        again = await _daemon(folder, "d", url, target.url).start()
        assert await again.stop() == 0


async def test_a_second_daemon_with_the_same_node_on_postgres_refuses(pg_url: str) -> None:
    folder = _folder()
    async with Target(respond(200)) as target:
        first = await _daemon(folder, "a", pg_url, target.url, 'node = "eu-1"').start()
        try:
            log = await _refused(_daemon(folder, "b", pg_url, target.url, 'node = "eu-1"'))
            assert f"slamond eu-1 {os.uname().nodename}"[:40] in log
            assert "another daemon runs with node name 'eu-1'" in log
            # Another node name is another daemon: it runs beside the first.
            other = await _daemon(folder, "c", pg_url, target.url, 'node = "eu-2"').start()
            assert (await other.stats())["database"]["state"] == "connected"
            assert await other.stop() == 0
            assert await first.stop() == 0
        finally:
            await first.kill()


@pytest.mark.parametrize("how", ["deleted", "replaced"])
async def test_the_sqlite_file_deleted_or_replaced_is_noticed_and_nothing_written_to_it(
    how: str,
) -> None:
    folder = _folder()
    db = folder / "slamon.db"
    async with Target(respond(200)) as target:
        daemon = await _daemon(folder, "a", f"sqlite:///{db}", target.url).start()
        try:
            await wait_for(lambda: target.requests >= 5, what="probing")
            await wait_for(lambda: _written(daemon, 3), what="checks stored")
            if how == "deleted":
                db.unlink()
            else:
                shutil.copy(db, folder / "restored.db")
                os.replace(folder / "restored.db", db)
            answered_at_change = target.requests

            async def lost() -> bool:
                return bool((await daemon.stats())["database"]["state"] == "lost")

            await wait_for(lost, 10, "the change noticed")
            stats = await daemon.stats()
            assert (
                f"{db} was {'deleted' if how == 'deleted' else 'replaced'}"
                in (stats["database"]["error"])
            )
            written = stats["records_written"]
            at = target.requests
            await wait_for(lambda: target.requests >= at + 10, what="probing on")
            stats = await daemon.stats()
            assert stats["records_written"] == written, "nothing more is written"
            assert stats["write_pending"] >= 10, "the checks wait in the journal"
            assert await daemon.stop() == 0
            answered = target.requests
        finally:
            await daemon.kill()
        log = daemon.log_text()
        # Said by the writer (its first failed write) and the watch, then not again.
        assert log.count(f"the SQLite database file {db} was") == 2, log

        # The next start writes the journal into the file now at that path.
        again = _daemon(folder, "b", f"sqlite:///{db}", target.url, _same_spool(folder))
        await again.start()
        await wait_for(lambda: _pending_zero(again), what="the journal drained")
        assert await again.stop() == 0
    con = sqlite3.connect(db)
    try:
        stored = con.execute("SELECT count(*) FROM checks").fetchone()[0]
    finally:
        con.close()
    total = target.requests
    if how == "deleted":
        # Everything checked after the file went is in the new one: the first daemon's
        # journal and the second daemon's checks (a check or two in flight at the moment of
        # the change may be on either side).
        assert total - answered_at_change <= stored <= total - answered_at_change + 3
    else:
        # The copy put back holds what was stored before; the journal adds the rest.
        assert total - 3 <= stored <= total
    print(
        f"\nSQLite file {how}: {total} checks answered ({answered} by the first daemon,"
        f" {answered - answered_at_change} after the change), {stored} in the file at the"
        " path after the restart"
    )


def _same_spool(folder: Path) -> str:
    return f'spool_dir = "{folder}/a/spool"'


async def _written(daemon: Slamond, n: int) -> bool:
    return bool((await daemon.stats())["records_written"] >= n)


async def _pending_zero(daemon: Slamond) -> bool:
    s = await daemon.stats()
    return bool(s["write_pending"] == 0 and s["store_ok"])
