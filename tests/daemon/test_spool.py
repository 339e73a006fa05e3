"""The journal (spool.py): what is appended is read back the same after a restart."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from slamon_daemon.models import (
    Check,
    ErrorKind,
    OutageEpisode,
    Outcome,
    ServiceStatus,
    Transition,
)
from slamon_daemon.spool import Spool

T0 = datetime(2026, 12, 2, 3, 59, 58, 123456, tzinfo=UTC)


def _records() -> list[Check | Transition | OutageEpisode]:
    return [
        Check("web", T0, 12.3456789, Outcome.UP, status_code=200, node="n1", interval_s=30.0),
        Check(
            "api-ü",
            T0.replace(microsecond=0),
            5000.0,
            Outcome.DOWN,
            error_kind=ErrorKind.TIMEOUT,
            error="no complete answer within 5s",
            cert_expires_at=T0 + timedelta(days=20),
            previous_down_until=T0 + timedelta(seconds=20),
            region="eu",
            regional=True,
            share=2,
            previous_share=3,
        ),
        # A lone surrogate (an undecodable error text) is escaped by the standard library.
        Check("db", T0, 0.5, Outcome.DEGRADED, error="bad \ud800 byte", maintenance=True),
        Transition("web", ServiceStatus.OPERATIONAL, ServiceStatus.MAJOR_OUTAGE, T0),
        Transition(None, ServiceStatus.OPERATIONAL, ServiceStatus.PARTIAL_OUTAGE, T0),
        OutageEpisode("api-ü", T0, ServiceStatus.MAJOR_OUTAGE, cause="timeout", failed_checks=3),
    ]


def test_records_read_back_equal_after_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for r in _records():
        spool.append(r)
    spool.close()
    again = Spool(tmp_path)  # a new process: the segment is read from the file
    (segment,) = again.closed
    # Every field as made, the latency unrounded: a replayed check is stored as it was made.
    assert again.read(segment) == _records()


def test_a_check_line_is_one_json_object_marked_as_a_check(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append(_records()[0])
    spool.close()
    (path,) = tmp_path.glob("*.jsonl")
    (line,) = path.read_text(encoding="utf-8").splitlines()
    d = json.loads(line)
    assert d["t"] == "c"
    assert d["started_at"] == T0.isoformat()
    assert (d["outcome"], d["status_code"], d["latency_ms"]) == ("up", 200, 12.3456789)
