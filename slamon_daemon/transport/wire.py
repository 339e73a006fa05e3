"""One HTTP/1.1 exchange on one fresh connection: an asyncio Protocol over httptools.

``Exchange`` is the protocol of one connection. It is handed the request's bytes once the
connection is up, parses the answer with httptools (llhttp, the parser uvicorn uses) as it
arrives, and lets one reader take the head, then the body chunk by chunk. Chunked framing is
undone here; content codings (gzip, deflate) are httpx's business above the transport.

What can go wrong, and what the reader then gets (the prober turns these into error kinds):

* the answer is not HTTP/1.x (status line, header, chunk framing), or its head is larger than
  ``MAX_HEAD_BYTES``: ``MalformedResponse`` (an ``httpx.RemoteProtocolError``);
* the connection breaks (reset), or closes before the answer is complete (no answer at all,
  half a head, a body shorter than its Content-Length or an unfinished chunked body):
  ``httpx.ReadError``, with the OS error as its cause when there is one.

A body without Content-Length or chunked framing runs until the server closes (HTTP/1.0
style). A HEAD answer ends with its head. Interim 1xx answers are skipped.

Reading pauses while more than ``HIGH_WATER`` bytes wait for the reader, so a reader that
stops early (the body cap) leaves the rest unread in the kernel, and closing then drops it.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from typing import cast

import httptools
import httpx

MAX_HEAD_BYTES = 1_048_576
"""An answer whose status line and headers exceed this is malformed (Go's client default)."""
HIGH_WATER = 262_144
"""Reading pauses while this many body bytes wait for the reader..."""
LOW_WATER = 65_536
"""...and resumes once fewer than this many do."""

_FRAMING = frozenset((b"content-length", b"transfer-encoding"))


class MalformedResponse(httpx.RemoteProtocolError):
    """The server's answer is not valid HTTP/1.x."""


class Exchange(asyncio.Protocol):
    """The protocol of one connection: send one request, read its one answer."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, head_only: bool = False) -> None:
        self._loop = loop
        self._head_only = head_only
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.status = 0
        self.reason = b""
        self.http_version = b"HTTP/1.1"
        self.headers: list[tuple[bytes, bytes]] = []
        self._head_size = 0  # bytes received before the head was complete
        self._header_bytes = 0  # bytes of the header lines seen so far
        self._oversized = False
        self._head_done = False
        self._delimited = False  # Content-Length or chunked: the parser knows where it ends
        self._interim = False  # inside a 1xx answer, which is skipped
        self._complete = False
        self._error: BaseException | None = None
        self._chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's do not subclass it

    def data_received(self, data: bytes) -> None:
        if self._complete or self._error is not None:
            return
        if not self._head_done:
            if self._head_size > MAX_HEAD_BYTES:  # llhttp would keep buffering a header
                self._fail(MalformedResponse(f"response head larger than {MAX_HEAD_BYTES} bytes"))
                return
            self._head_size += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._end_head()  # a 101 or an Upgrade: this exchange ends with the head
            self._complete = True
        except httptools.HttpParserError as exc:
            self._fail(MalformedResponse(f"malformed HTTP response: {exc}"), exc)
            return
        if self._oversized:
            self._fail(MalformedResponse(f"response head larger than {MAX_HEAD_BYTES} bytes"))
            return
        if self._complete:
            self.close()
        elif self._buffered > HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool | None:
        return None  # the transport closes itself; connection_lost judges what arrived

    def connection_lost(self, exc: Exception | None) -> None:
        self.release()
        if self._complete or self._error is not None:
            self._wake()
            return
        if exc is not None and not isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
            self._fail(httpx.ReadError(_text(exc)), exc)
        elif self._head_done and not self._delimited:
            self._complete = True  # the body ran until the server closed
            self._wake()
        elif self._head_done:
            self._fail(
                httpx.ReadError("the server closed the connection in the middle of the body")
            )
        elif self._head_size:
            self._fail(
                httpx.ReadError("the server closed the connection in the middle of the head")
            )
        else:
            self._fail(httpx.ReadError("the server closed the connection without answering"))

    # -- httptools callbacks --------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.headers = []
        self.reason = b""

    def on_status(self, status: bytes) -> None:
        self.reason += status  # llhttp may hand it over in pieces

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))
        self._header_bytes += len(name) + len(value) + 4
        if name.lower() in _FRAMING:
            self._delimited = True

    def on_headers_complete(self) -> None:
        if self._header_bytes > MAX_HEAD_BYTES:
            self._oversized = True
            return
        status = self._parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self._interim = True
            self._delimited = False
            return
        self.status = status
        self._end_head()
        if self._head_only:
            self._complete = True

    def on_body(self, body: bytes) -> None:
        if body and not self._interim and not self._head_only:
            self._chunks.append(body)
            self._buffered += len(body)

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        self._complete = True

    # -- the reader's side ----------------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Write the request (all of it, at once)."""
        assert self.transport is not None
        self.transport.write(data)

    async def read_head(self) -> None:
        """Wait until the head has arrived (then ``status``, ``reason``, ``headers`` hold)."""
        while not self._head_done:
            if self._error is not None:
                raise self._error
            await self._wait()

    async def read_chunk(self) -> bytes:
        """The next piece of the body; b"" once it is complete."""
        while True:
            if self._chunks:
                chunk = self._chunks.popleft()
                self._buffered -= len(chunk)
                if self._paused and self._buffered < LOW_WATER and self.transport is not None:
                    self._paused = False
                    self.transport.resume_reading()
                return chunk
            if self._error is not None:
                raise self._error
            if self._complete:
                return b""
            await self._wait()

    def release(self) -> None:
        """Drop the parser once nothing more is parsed (the connection is lost, or never
        came up). It holds this protocol's bound methods: a reference cycle that only the
        garbage collector would free, ~20 objects a check at thousands of checks a second,
        whose young collections then pause the loop for 50-300 ms every second or two."""
        self.__dict__.pop("_parser", None)

    def close(self) -> None:
        """Drop the connection now (nothing is reused; unread data is discarded)."""
        if self.transport is not None and not self.transport.is_closing():
            # abort, not close: the request went out long ago, and a TLS close would wait
            # (up to 30 s) for the server's close_notify while holding the socket.
            self.transport.abort()

    # -- internals ------------------------------------------------------------------------

    def _end_head(self) -> None:
        if not self._head_done:
            self._head_done = True
            self.http_version = b"HTTP/" + self._parser.get_http_version().encode("ascii")

    def _fail(self, error: BaseException, cause: BaseException | None = None) -> None:
        if cause is not None:
            error.__cause__ = cause
        self._error = error
        self.close()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self) -> None:
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None


def _text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
