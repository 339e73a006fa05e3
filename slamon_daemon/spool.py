"""The journal: every check (and status change and outage episode) is appended to a local file
before it reaches the database.

This is what makes "no check result lost, none written twice" (SPEC §3.9) hold when the
database is unreachable or the daemon is killed:

* ``append`` writes one JSON line per check to the active segment (one ``write`` syscall, so a
  killed process leaves whole lines; a torn last line is skipped on read).
* The writer ``rotate``s the active segment and writes closed segments to the store in order,
  deleting each only after every one of its checks is committed.
* The store's ``write_checks`` is idempotent (the key is service, started_at, node), so a
  segment replayed after a crash in the middle of it stores nothing twice.

Segments are ``spool_dir/NNNNNNNNNNNN.jsonl``, numbered in order. A closed segment made by this
process keeps its checks in memory too (``cached``), so the file is only read back after a
restart or when too much is pending.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

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


class Spool:
    """An append-only journal of checks in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        existing = sorted(self.folder.glob("*.jsonl"))
        self.closed: list[Segment] = [Segment(p, -1, None) for p in existing]
        self._next = (int(existing[-1].stem) + 1) if existing else 1
        self._file: IO[str] | None = None
        self._active: Segment | None = None

    @property
    def pending(self) -> int:
        """Checks appended but not yet confirmed written (-1 counts of old segments excluded)."""
        n = sum(s.count for s in self.closed if s.count > 0)
        return n + (self._active.count if self._active else 0)

    def append(self, record: Record) -> None:
        if self._file is None:
            path = self.folder / f"{self._next:012d}.jsonl"
            self._next += 1
            self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open on purpose
            self._active = Segment(path, 0, [])
        assert self._active is not None
        self._file.write(json.dumps(encode_record(record), separators=(",", ":")) + "\n")
        self._file.flush()
        self._active.count += 1
        if self._active.cached is not None:
            self._active.cached.append(record)
            if self.pending > MAX_CACHED_CHECKS:
                self._drop_caches()

    def rotate(self) -> None:
        """Close the active segment (if it holds anything) so the writer can take it."""
        if self._file is None or self._active is None or self._active.count == 0:
            return
        self._file.close()
        self.closed.append(self._active)
        self._file = None
        self._active = None

    def _drop_caches(self) -> None:
        for s in self.closed:
            s.cached = None
        if self._active is not None:
            self._active.cached = None

    def read(self, segment: Segment) -> list[Record]:
        """The checks of a closed segment, in order (from memory when cached)."""
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
                    yield decode_record(json.loads(line))
                except (ValueError, KeyError, TypeError) as exc:
                    logger.warning("%s:%d: unreadable line skipped: %s", path, n, exc)

    def done(self, segment: Segment) -> None:
        """Every check of ``segment`` is committed: forget it."""
        self.closed.remove(segment)
        try:
            os.unlink(segment.path)
        except FileNotFoundError:
            pass

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._active is not None and self._active.count:
            self.closed.append(self._active)
        self._active = None


def encode_record(r: Record) -> dict[str, object]:
    """A journal line: {"t": "c"|"s"|"e", ...fields}."""
    if isinstance(r, Check):
        return {"t": "c", **r.to_dict()}
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
