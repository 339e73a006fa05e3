"""Small local HTTP targets on 127.0.0.1 (or ::1) for the demo and the tests.

A ``Target`` is an asyncio server whose every request is answered by a ``Behaviour``
coroutine, so a test can make a target that is up, slow, hanging, dripping its body,
flaky, wrong, malformed or rude (a reset in the middle of the body), and change it while
the daemon watches.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Behaviour = Callable[["Request", asyncio.StreamWriter], Awaitable[None]]


@dataclass(slots=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


_REASONS = {
    200: "OK",
    204: "No Content",
    301: "Moved Permanently",
    302: "Found",
    404: "Not Found",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def response_bytes(
    status: int, body: bytes = b"ok", headers: dict[str, str] | None = None
) -> bytes:
    head = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def respond(
    status: int = 200,
    body: bytes = b"ok",
    delay_s: float = 0.0,
    headers: dict[str, str] | None = None,
) -> Behaviour:
    """Answer ``status`` with ``body`` after ``delay_s``."""

    async def behaviour(req: Request, w: asyncio.StreamWriter) -> None:
        if delay_s:
            await asyncio.sleep(delay_s)
        w.write(response_bytes(status, body, headers))

    return behaviour


def hang() -> Behaviour:
    """Accept the request and never answer."""

    async def behaviour(req: Request, w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(3600)

    return behaviour


def drip(total: int = 1000, every_s: float = 0.5) -> Behaviour:
    """Send headers at once, then the body one byte at a time."""

    async def behaviour(req: Request, w: asyncio.StreamWriter) -> None:
        w.write(f"HTTP/1.1 200 OK\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n".encode())
        for _ in range(total):
            await w.drain()
            w.write(b"x")
            await asyncio.sleep(every_s)

    return behaviour


def huge(size: int) -> Behaviour:
    """Answer 200 with a body of ``size`` bytes, streamed."""

    async def behaviour(req: Request, w: asyncio.StreamWriter) -> None:
        w.write(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n".encode())
        chunk = b"y" * 65536
        sent = 0
        while sent < size:
            n = min(len(chunk), size - sent)
            w.write(chunk[:n])
            sent += n
            await w.drain()

    return behaviour


def raw(data: bytes) -> Behaviour:
    """Answer with exactly ``data`` (a malformed or hand-framed answer), then close."""

    async def behaviour(req: Request, w: asyncio.StreamWriter) -> None:
        w.write(data)

    return behaviour


def chunked(parts: list[bytes], headers: dict[str, str] | None = None) -> Behaviour:
    """Answer 200 with ``parts`` as the chunks of a chunked body, one write each."""

    async def behaviour(req: Request, w: asyncio.StreamWriter) -> None:
        head = ["HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Connection: close"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        w.write(("\r\n".join(head) + "\r\n\r\n").encode())
        for part in parts:
            w.write(b"%x\r\n%s\r\n" % (len(part), part))
            await w.drain()
        w.write(b"0\r\n\r\n")

    return behaviour


def reset_after(data: bytes) -> Behaviour:
    """Send ``data`` (say a head and half a body), then reset the connection (TCP RST)."""

    async def behaviour(req: Request, w: asyncio.StreamWriter) -> None:
        w.write(data)
        await w.drain()
        await asyncio.sleep(0.05)  # let the data leave before the reset
        sock = w.get_extra_info("socket")
        if sock is not None:  # SO_LINGER with a zero timeout: close() sends RST, not FIN
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        w.transport.abort()

    return behaviour


class Target:
    """An HTTP server on 127.0.0.1 (or ``host``); ``behaviour`` may be swapped at any time."""

    def __init__(
        self,
        behaviour: Behaviour,
        *,
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.behaviour = behaviour
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.requests = 0
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}/"

    async def start(self) -> Target:
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, ssl=self.ssl_context, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening and cut open connections (the port then refuses)."""
        if self._server is not None:
            self._server.close()
            for t in list(self._conns):
                t.cancel()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Target:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _serve(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        try:
            line = await r.readline()
            parts = line.decode("latin-1").split()
            if len(parts) < 2:
                return
            headers: dict[str, str] = {}
            while True:
                h = await r.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                k, _, v = h.decode("latin-1").partition(":")
                headers[k.strip().lower()] = v.strip()
            body = b""
            n = int(headers.get("content-length", "0") or 0)
            if n:
                body = await r.readexactly(n)
            self.requests += 1
            await self.behaviour(Request(parts[0], parts[1], headers, body), w)
            await w.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, asyncio.CancelledError):
            pass
        finally:
            self._conns.discard(task)
            with contextlib.suppress(Exception):
                w.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (connections are refused)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
