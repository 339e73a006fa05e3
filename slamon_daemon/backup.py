"""``slamon db backup FILE`` and ``slamon db restore FILE`` (SPEC §3.9).

* SQLite: SQLite's online backup API (a consistent copy while the daemon runs and writes).
  The copy is made 0600 beside FILE and renamed into place, so a failed backup leaves no
  half file. A restore copies FILE into the database the same way, after checking that
  FILE is a slamon database, then applies the migrations a newer slamon has.
* PostgreSQL: ``pg_dump --format=custom``; a restore turns the dump into SQL
  (``pg_restore``) and runs it with ``psql --single-transaction`` after emptying the schema,
  so it is all or nothing (the PostgreSQL client tools; a clear message says what to
  install when they are missing). The password of the URL is handed over in PGPASSWORD, never on the command
  line.

A restore refuses while a daemon uses the database (its lock file, or a node's advisory
lock on PostgreSQL): stop it first. Checks journaled after the backup was made stay in the
journal and are written at the daemon's next start.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from .errors import SlamonError
from .store import open_store
from .store.dialects.postgres import NODE_LOCK_CLASS
from .store.filelock import FileLock


class BackupError(SlamonError):
    """A backup or restore could not be made; the sentence says why and what to do."""


@dataclass(frozen=True, slots=True)
class Done:
    """What a backup or restore did, for the person who ran it."""

    message: str


async def backup(database_url: str, dest: Path) -> Done:
    """Copy the database into ``dest`` (which must not exist)."""
    if os.path.lexists(dest):  # noqa: ASYNC240 - a CLI command: one stat is fine
        raise BackupError(f"{dest} exists; choose another file name or remove it first")
    if database_url.startswith("sqlite:///"):
        db = Path(database_url.removeprefix("sqlite:///"))
        if not os.path.exists(db):  # noqa: ASYNC240
            raise BackupError(f"no SQLite database at {db}")
        pages = await asyncio.to_thread(_sqlite_copy, db, dest)
        return Done(f"backed up {db} to {dest} ({pages} pages, SQLite backup API)")
    dsn, env = _pg_dsn(database_url)
    tool = _tool("pg_dump")
    await _run([tool, "--format=custom", "--no-owner", f"--file={dest}", dsn], env)
    os.chmod(dest, 0o600)
    return Done(f"backed up the PostgreSQL database to {dest} (pg_dump, custom format)")


async def restore(database_url: str, source: Path) -> Done:
    """Replace the database's contents with the backup ``source``, then migrate."""
    if not os.path.isfile(source):  # noqa: ASYNC240
        raise BackupError(f"no backup file at {source}")
    if database_url.startswith("sqlite:///"):
        db = Path(database_url.removeprefix("sqlite:///"))
        await asyncio.to_thread(_check_sqlite_backup, source)
        lock = FileLock(Path(f"{db}.lock"), f"the SQLite database {db}")
        holder = await lock.acquire()  # no daemon may start while the file is replaced
        if holder is not None:
            raise BackupError(f"refusing to restore: {holder}; stop it first")
        try:
            await asyncio.to_thread(_sqlite_copy, source, db, replace=True)
        finally:
            await lock.release()
        applied = await _migrate(database_url)
        return Done(f"restored {source} into {db}{applied}")
    await _refuse_while_pg_daemons_run(database_url)
    dsn, env = _pg_dsn(database_url)
    pg_restore, psql = _tool("pg_restore"), _tool("psql")
    # pg_restore --clean cannot drop a partitioned table's partitions one by one; instead
    # the dump is turned into SQL and run after emptying the schema, all in one transaction
    # (psql --single-transaction): a failure leaves the database as it was.
    script = await _output([pg_restore, "--no-owner", "--file=-", str(source)], env)
    await _run(
        [psql, "--no-psqlrc", "--quiet", "--single-transaction", "-v", "ON_ERROR_STOP=1", dsn],
        env,
        stdin=b"DROP SCHEMA public CASCADE;\nCREATE SCHEMA public;\n" + script,
    )
    applied = await _migrate(database_url)
    return Done(f"restored {source} into the PostgreSQL database (pg_restore){applied}")


# -- SQLite ------------------------------------------------------------------------------------


def _sqlite_copy(src: Path, dest: Path, *, replace: bool = False) -> int:
    """Copy ``src`` into ``dest`` with the backup API; returns the pages copied.

    A new ``dest`` is written beside it (0600) and renamed into place; with ``replace`` the
    existing database is overwritten in place, through SQLite, so its WAL stays coherent.
    """
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    try:
        if replace:
            dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.close(os.open(dest, os.O_RDWR | os.O_CREAT, 0o600))
            target = sqlite3.connect(dest)
            try:
                source.backup(target)
                return int(target.execute("PRAGMA page_count").fetchone()[0])
            finally:
                target.close()
        partial = dest.with_name(dest.name + ".partial")
        os.close(os.open(partial, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600))
        try:
            target = sqlite3.connect(partial)
            try:
                source.backup(target)
                pages = int(target.execute("PRAGMA page_count").fetchone()[0])
            finally:
                target.close()
            os.replace(partial, dest)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return pages
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite copy from {src} to {dest} failed: {exc}") from exc
    finally:
        source.close()


def _check_sqlite_backup(path: Path) -> None:
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            con.execute("SELECT count(*) FROM schema_migrations").fetchone()
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise BackupError(f"{path} is not a slamon SQLite backup ({exc})") from exc


# -- PostgreSQL ---------------------------------------------------------------------------------


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} not found: install the PostgreSQL client tools of your server's version"
            " (Debian/Ubuntu: apt install postgresql-client; macOS: brew install libpq)"
        )
    return path


def _pg_dsn(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its password, and the environment that carries the password."""
    parts = urlsplit(url)
    env = dict(os.environ)
    if parts.password is not None:
        env["PGPASSWORD"] = unquote(parts.password)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        user = f"{parts.username}@" if parts.username else ""
        port = f":{parts.port}" if parts.port else ""
        parts = parts._replace(netloc=f"{user}{host}{port}")
    return urlunsplit(parts), env


async def _output(cmd: list[str], env: dict[str, str], stdin: bytes | None = None) -> bytes:
    """Run a client tool; its standard output. Raises BackupError with its message."""
    proc = await asyncio.create_subprocess_exec(
        *cmd,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await proc.communicate(stdin)
    if proc.returncode != 0:
        text = (err or out).decode(errors="replace").strip()
        raise BackupError(f"{Path(cmd[0]).name} failed (exit {proc.returncode}): {text}")
    return out


async def _run(cmd: list[str], env: dict[str, str], stdin: bytes | None = None) -> None:
    await _output(cmd, env, stdin)


async def _refuse_while_pg_daemons_run(url: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    try:
        con = await asyncpg.connect(url, timeout=10)
    except Exception as exc:
        raise BackupError(f"cannot connect to PostgreSQL: {exc}") from exc
    try:
        holders = await con.fetch(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.classid::text::bigint = $1 AND l.granted"
            " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            NODE_LOCK_CLASS,
        )
    finally:
        await con.close()
    if holders:
        names = ", ".join(sorted(str(h[0]) for h in holders))
        raise BackupError(f"refusing to restore: daemons use this database ({names}); stop them")


async def _migrate(url: str) -> str:
    async with open_store(url) as store:
        applied = await store.migrate()
    return f"; then applied {', '.join(applied)}" if applied else ""
