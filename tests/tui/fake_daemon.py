"""A small stand-in for the daemon's feed, on a real Unix socket, for the TUI's tests.

It speaks the protocol of slamon_daemon/protocol.py: a hello, request/reply by id,
``subscribe`` and pushed events. Tests set ``snapshot`` (what status.get answers), ``errors``
(method -> (code, message)) and ``results`` (method -> result), then ``push`` events.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from slamon_daemon import protocol

TODAY = date(2026, 11, 21)


def make_service(
    sid: str,
    name: str | None = None,
    *,
    status: str = "operational",
    daily: list[str] | None = None,
    latencies: list[float] | None = None,
    last_latency: float | None = 42.0,
    outcome: str = "up",
    error_kind: str | None = None,
    uptime: dict[str, str] | None = None,
    outcomes: list[str] | None = None,
) -> dict[str, Any]:
    """One entry of status.get's ``services``; ``outcomes`` defaults to all "up"."""
    last_check = None
    if last_latency is not None:
        last_check = make_check(sid, last_latency, outcome=outcome, error_kind=error_kind)
    lats = latencies if latencies is not None else [10.0 + i % 7 for i in range(60)]
    return {
        "id": sid,
        "name": name or sid.upper(),
        "url": f"http://127.0.0.1:9/{sid}",
        "status": status,
        "status_since": "2026-11-21T20:00:00+00:00",
        "interval_s": 60.0,
        "last_check": last_check,
        "daily": daily if daily is not None else ["nd"] * 80 + ["o"] * 10,
        "uptime": uptime or {"30": "99.95", "60": "99.97", "90": "99.98"},
        "latencies": lats,
        "outcomes": outcomes if outcomes is not None else ["up"] * len(lats),
    }


def make_check(
    sid: str,
    latency: float,
    *,
    outcome: str = "up",
    error_kind: str | None = None,
    status_code: int | None = 200,
    at: datetime | None = None,
) -> dict[str, Any]:
    """A check dict as in ``last_check`` and check events."""
    at = at or datetime(2026, 11, 21, 23, 0, tzinfo=UTC)
    return {
        "service_id": sid,
        "started_at": at.isoformat(),
        "latency_ms": latency,
        "outcome": outcome,
        "status_code": status_code,
        "error_kind": error_kind,
        "error": None if error_kind is None else f"{error_kind} happened",
        "node": "local",
        "maintenance": False,
        "interval_s": 60.0,
    }


def make_snapshot(
    services: list[dict[str, Any]],
    *,
    overall: str = "operational",
    notice: str | None = None,
) -> dict[str, Any]:
    """A status.get result with 90 days ending TODAY."""
    return {
        "node": "local",
        "generated_at": "2026-11-21T23:10:00+00:00",
        "notice": notice,
        "overall": {"status": overall, "since": "2026-11-21T20:00:00+00:00"},
        "days": [(TODAY - timedelta(days=89 - i)).isoformat() for i in range(90)],
        "services": services,
    }


class FakeDaemon:
    """Serves the feed on ``path`` until ``stop()``. Use ``async with``."""

    def __init__(self, path: Path, snapshot: dict[str, Any] | None = None) -> None:
        self.path = path
        self.snapshot = snapshot or make_snapshot([make_service("api", "API")])
        self.errors: dict[str, tuple[str, str]] = {}
        self.results: dict[str, Any] = {}
        self.delays: dict[str, float] = {}
        """method -> seconds to wait before answering (replies then come out of order)."""
        self.silent: set[str] = set()
        """Methods never answered, to leave a call pending."""
        self.requests: list[dict[str, Any]] = []
        self.hello = protocol.hello("local", "0.1.0")
        self._server: asyncio.base_events.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._subscribers: list[asyncio.StreamWriter] = []
        self.subscribed = asyncio.Event()
        self.connections = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> FakeDaemon:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen on the socket."""
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.path))

    async def stop(self, goodbye: str | None = None) -> None:
        """Close every connection and remove the socket, as a daemon that exits does.

        With ``goodbye``, every client first gets a ``goodbye`` event with that reason.
        """
        if goodbye is not None:
            frame = protocol.encode(protocol.event("goodbye", {"reason": goodbye}))
            for writer in list(self._writers):
                writer.write(frame)
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None
        self._writers.clear()
        self._subscribers.clear()
        self.subscribed.clear()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def push(self, topic: str, data: dict[str, Any]) -> None:
        """Send an event to every subscribed client."""
        frame = protocol.encode(protocol.event(topic, data))
        for writer in list(self._subscribers):
            writer.write(frame)
            with contextlib.suppress(ConnectionError):
                await writer.drain()

    def count(self, method: str) -> int:
        """How many requests for ``method`` arrived so far."""
        return sum(1 for r in self.requests if r.get("method") == method)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        try:
            writer.write(protocol.encode(self.hello))
            await writer.drain()
            while line := await reader.readline():
                request = protocol.decode_request(line)
                self.requests.append({"method": request.method, "params": request.params})
                if request.method in self.silent:
                    continue
                if request.method in self.delays:
                    task = asyncio.create_task(self._answer_later(request, writer))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                    continue
                writer.write(protocol.encode(self._answer(request, writer)))
                await writer.drain()
        except (ConnectionError, protocol.ProtocolError):
            pass
        finally:
            if writer in self._subscribers:
                self._subscribers.remove(writer)
            if writer in self._writers:
                self._writers.remove(writer)
            writer.close()

    async def _answer_later(self, request: protocol.Request, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(self.delays[request.method])
        if not writer.is_closing():
            writer.write(protocol.encode(self._answer(request, writer)))

    def _answer(self, request: protocol.Request, writer: asyncio.StreamWriter) -> dict[str, Any]:
        if request.method in self.errors:
            code, message = self.errors[request.method]
            return protocol.error_reply(request.id, code, message)
        if request.method in self.results:
            return protocol.reply(request.id, self.results[request.method])
        if request.method == "status.get":
            return protocol.reply(request.id, self.snapshot)
        if request.method == "subscribe":
            self._subscribers.append(writer)
            self.subscribed.set()
            return protocol.reply(request.id, {"topics": request.params.get("topics", [])})
        return protocol.error_reply(
            request.id, protocol.ErrorCode.UNKNOWN_METHOD, f"no method {request.method!r}"
        )
