"""The journal: every check (and status change and outage episode) is appended to a local file
before it reaches the database.

This is what makes "no check result lost, none written twice" (SPEC §3.9) hold when the
database is unreachable or the daemon is killed:

* ``append_many`` writes one JSON line per record to the active segment, the lines of
  several records (a turn of the event loop's: writer.py ``add_soon``) in one ``write``
  syscall, so a killed process leaves whole lines (a torn last line is skipped on read); the
  caller counts a check only after that write returned. A check's line is orjson's encoding
  of the dataclass itself (every field, the latency unrounded: a replayed check is stored as
  the check made), without an intermediate dict.
* The writer ``rotate``s the active segment and writes closed segments to the store in order,
  deleting each only after every one of its checks is committed.
* The store's ``write_checks`` is idempotent (the key is service, started_at, node), so a
  segment replayed after a crash in the middle of it stores nothing twice.

Segments are ``spool_dir/NNNNNNNNNNNN.jsonl``, numbered in order. A closed segment made by this
process keeps its checks in memory too (``cached``), so the file is only read back after a
restart or when too much is pending.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from .encoding import dumps, loads
from .models import Check, OutageEpisode, ServiceStatus, Transition, parse_ts
from .store.base import Record

logger = logging.getLogger("slamon.spool")

MAX_CACHED_CHECKS = 200_000
"""Above this many pending checks, closed segments are read back from disk instead of memory."""


@dataclass(slots=True)
class Segment:
    path: Path
    count: int
    cached: list[Record] | None


class JournalError(OSError):
    """A journal write failed; ``str()`` names the folder and the error."""


class Spool:
    """An append-only journal of checks in ``folder``.

    A write that fails (full disk, read-only filesystem, a folder gone) raises
    ``JournalError`` and leaves no torn line behind: the segment is cut back to its last
    whole line and closed, so the next append starts a new segment.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.closed: list[Segment] = []
        self._next = 1
        self._fd: int | None = None
        self._size = 0
        self._active: Segment | None = None
        self._undeleted: list[Path] = []  # written to the store, but the unlink failed
        self.open_error: str | None = None
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            existing = sorted(self.folder.glob("*.jsonl"))
        except OSError as exc:
            self.open_error = f"cannot use the journal folder {self.folder}: {exc}"
            existing = []
        self.closed = [Segment(p, -1, None) for p in existing]
        self._next = (int(existing[-1].stem) + 1) if existing else 1

    @property
    def pending(self) -> int:
        """Checks appended but not yet confirmed written (-1 counts of old segments excluded)."""
        n = sum(s.count for s in self.closed if s.count > 0)
        return n + (self._active.count if self._active else 0)

    def append(self, record: Record) -> None:
        """Append one record as one line.

        Raises:
            JournalError: the line could not be written; the journal holds no part of it.
        """
        self.append_many((record,))

    def append_many(self, records: Sequence[Record]) -> None:
        """Append ``records`` in order, one line each, in one ``write``: all of them or none.

        Raises:
            JournalError: the lines could not be written; the journal holds no part of them.
        """
        data = b"".join([journal_line(r) for r in records])
        if self._fd is None:
            self._open_segment()
        assert self._fd is not None and self._active is not None
        try:
            written = 0
            while written < len(data):  # a write to a nearly full disk may be short
                written += os.write(self._fd, data[written:])
        except OSError as exc:
            self._cut_back()
            raise JournalError(
                exc.errno, f"cannot write to the journal in {self.folder}: {exc.strerror or exc}"
            ) from exc
        self._size += len(data)
        self._active.count += len(records)
        if self._active.cached is not None:
            self._active.cached.extend(records)
            if self.pending > MAX_CACHED_CHECKS:
                self._drop_caches()

    def _open_segment(self) -> None:
        path = self.folder / f"{self._next:012d}.jsonl"
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o600)
        except FileExistsError:
            self._next += 1  # a stray file took the number: use the next one
            raise JournalError(
                errno.EEXIST, f"cannot create a journal segment in {self.folder}: {path} exists"
            ) from None
        except OSError as exc:
            raise JournalError(
                exc.errno,
                f"cannot create a journal segment in {self.folder}: {exc.strerror or exc}",
            ) from exc
        self._next += 1
        self._fd, self._size = fd, 0
        self._active = Segment(path, 0, [])

    def _cut_back(self) -> None:
        """After a failed write: drop the partial lines, close the segment (kept if it holds
        whole lines, else removed)."""
        fd, seg = self._fd, self._active
        self._fd, self._active = None, None
        if fd is None or seg is None:
            return
        try:
            os.ftruncate(fd, self._size)
        except OSError:
            pass  # a torn last line is skipped when the segment is read back
        with contextlib.suppress(OSError):
            os.close(fd)
        if seg.count:
            self.closed.append(seg)
        else:
            with contextlib.suppress(OSError):
                os.unlink(seg.path)

    def rotate(self) -> None:
        """Close the active segment (if it holds anything) so the writer can take it."""
        if self._fd is None or self._active is None or self._active.count == 0:
            return
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self.closed.append(self._active)
        self._fd = None
        self._active = None

    def _drop_caches(self) -> None:
        for s in self.closed:
            s.cached = None
        if self._active is not None:
            self._active.cached = None

    def read(self, segment: Segment) -> list[Record]:
        """The checks of a closed segment, in order (from memory when cached).

        Raises:
            OSError: the segment cannot be read.
        """
        if segment.cached is not None:
            return segment.cached
        return list(self._read_file(segment.path))

    def _read_file(self, path: Path) -> Iterator[Record]:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.endswith("\n"):
                    logger.warning("%s:%d: torn last line skipped (killed while writing)", path, n)
                    continue
                try:
                    yield decode_record(loads(line))
                except (ValueError, KeyError, TypeError) as exc:
                    logger.warning("%s:%d: unreadable line skipped: %s", path, n, exc)

    def done(self, segment: Segment) -> None:
        """Every check of ``segment`` is committed: forget it (and remove its file)."""
        self.closed.remove(segment)
        self._unlink(segment.path)

    def _unlink(self, path: Path) -> None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            if path not in self._undeleted:
                logger.warning("cannot remove the written journal segment %s: %s", path, exc)
                self._undeleted.append(path)

    def retry_removals(self) -> None:
        """Try again to remove segments already written whose removal failed."""
        for path in list(self._undeleted):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError:
                continue
            self._undeleted.remove(path)

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        if self._active is not None and self._active.count:
            self.closed.append(self._active)
        self._active = None


def journal_line(r: Record) -> bytes:
    """The journal's line for ``r`` (newline included).

    A check, the record of every line but a few, is encoded by orjson from the dataclass
    itself, after ``"t":"c"``: its fields are plain values (str, float, int, bool, None, an
    enum's value, an aware datetime written as ``isoformat`` writes it), which
    ``Check.from_dict`` reads back (about half the CPU of ``to_dict`` and ``dumps``). What
    orjson refuses (a lone surrogate in an error text) takes the dict's way."""
    if type(r) is Check:
        try:
            return b'{"t":"c",' + orjson.dumps(r)[1:] + b"\n"
        except (orjson.JSONEncodeError, TypeError):
            pass
    return dumps(encode_record(r)) + b"\n"


def encode_record(r: Record) -> dict[str, object]:
    """A journal line: {"t": "c"|"s"|"e", ...fields}."""
    if isinstance(r, Check):
        return {"t": "c", **r.to_dict(), "latency_ms": r.latency_ms}  # unrounded, as above
    if isinstance(r, Transition):
        return {
            "t": "s",
            "service_id": r.service_id,
            "previous": r.previous.value,
            "status": r.status.value,
            "at": r.at.isoformat(),
        }
    return {"t": "e", **r.to_dict()}


def decode_record(d: dict[str, object]) -> Record:
    kind = d.get("t", "c")
    if kind == "c":
        return Check.from_dict(d)
    if kind == "s":
        sid = d.get("service_id")
        return Transition(
            str(sid) if sid else None,
            ServiceStatus(str(d["previous"])),
            ServiceStatus(str(d["status"])),
            parse_ts(str(d["at"])),
        )
    if kind == "e":
        return OutageEpisode.from_dict(d)
    raise ValueError(f"unknown journal record type {kind!r}")
