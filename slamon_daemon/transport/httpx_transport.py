"""``ProbeTransport``: the engine under the prober's ``httpx.AsyncClient``.

httpx keeps what it does above a transport: the request and response models, redirects and
their policy, content decoding (gzip, deflate), the API. Underneath, each request gets its
own connection (``Connection: close``; nothing is pooled or reused: a check measures what a
new user meets, connect time included), and one ``wire.Exchange`` reads the answer.

Errors, as httpx's own transports raise them (the prober classifies them):

* name resolution, TCP connect and TLS handshake failures: ``httpx.ConnectError`` whose
  cause is the ``socket.gaierror``, ``OSError`` or ``ssl.SSLError``;
* a broken or early-closed connection: ``httpx.ReadError``; a malformed answer:
  ``wire.MalformedResponse`` (an ``httpx.RemoteProtocolError``);
* anything else (a port out of range, say) is raised as it is.

Timeouts: this transport enforces none of httpx's per-phase timeouts; its caller bounds the
whole exchange (the prober runs each check under one deadline that covers resolution,
connect, TLS, head and body).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator

import httpx

from .tls import client_context
from .wire import Exchange

RESOLVER_THREADS = 32
"""getaddrinfo blocks a thread per lookup: this many lookups may run at once."""

_HOP_BY_HOP = frozenset((b"connection", b"keep-alive", b"proxy-connection"))


class ProbeTransport(httpx.AsyncBaseTransport):
    """An httpx transport: HTTP/1.1 over asyncio with httptools, one connection per request."""

    def __init__(
        self, ssl_context: ssl.SSLContext | None = None, *, local_address: str | None = None
    ) -> None:
        self._ssl_context = ssl_context
        # The local IP address to connect from (httpx's local_address; issue 15: a node
        # probes from its own address), None: the system's choice.
        self._local_addr = (local_address, 0) if local_address else None
        self._resolver: concurrent.futures.ThreadPoolExecutor | None = None

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context of https requests (built on first use: it costs ~18 ms of CPU)."""
        if self._ssl_context is None:
            self._ssl_context = client_context()
        return self._ssl_context

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme == "https":
            tls: ssl.SSLContext | None = self.ssl_context
            port = url.port or 443
        elif url.scheme == "http":
            tls, port = None, url.port or 80
        else:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
        # A request sent again (the prober keeps each service's first request) is encoded
        # once: its bytes are kept on it. Redirects build new requests.
        head: bytes | None = getattr(request, "_slamon_wire", None)
        if head is None:
            head = await _encode_request(request)
            request._slamon_wire = head  # type: ignore[attr-defined]
        loop = asyncio.get_running_loop()
        exchange = Exchange(loop, head_only=request.method == "HEAD")
        try:
            await self._connect(loop, exchange, url.host, port, tls)
        except OSError as exc:
            exchange.release()
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        except BaseException:
            exchange.release()
            raise
        try:
            exchange.send(head)
            await exchange.read_head()
        except BaseException:
            exchange.close()
            raise
        return httpx.Response(
            exchange.status,
            headers=exchange.headers,
            stream=ResponseBody(
                exchange, any(k.lower() == b"content-encoding" for k, _ in exchange.headers)
            ),
            extensions={
                "http_version": exchange.http_version,
                "reason_phrase": exchange.reason,
                "network_stream": NetworkStream(exchange),
            },
        )

    async def aclose(self) -> None:
        if self._resolver is not None:
            self._resolver.shutdown(wait=False, cancel_futures=True)
            self._resolver = None

    async def _connect(
        self,
        loop: asyncio.AbstractEventLoop,
        exchange: Exchange,
        host: str,
        port: int,
        tls: ssl.SSLContext | None,
    ) -> None:
        """Connect ``exchange`` to the first address of ``host`` that accepts."""
        if _is_ip_address(host):
            addresses = [host]
        else:
            addresses = await self._resolve(loop, host, port)
        first_error: OSError | None = None
        for address in addresses:
            try:
                await loop.create_connection(
                    lambda: exchange,
                    address,
                    port,
                    ssl=tls,
                    server_hostname=host if tls is not None else None,
                    local_addr=self._local_addr,
                )
                return
            except ssl.SSLError:
                raise  # the server answered, with a TLS failure: that is the verdict
            except OSError as exc:
                first_error = first_error or exc
        assert first_error is not None
        raise first_error

    async def _resolve(self, loop: asyncio.AbstractEventLoop, host: str, port: int) -> list[str]:
        # socket.getaddrinfo in threads of our own, on any event loop (uvloop's resolver would
        # use libuv's 4 threads), so that lookups neither starve the loop's default executor
        # nor queue behind it.
        if self._resolver is None:
            self._resolver = concurrent.futures.ThreadPoolExecutor(
                RESOLVER_THREADS, thread_name_prefix="slamon-resolve"
            )
        infos = await loop.run_in_executor(
            self._resolver, socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM
        )
        addresses: list[str] = []
        for info in infos:
            address = str(info[4][0])
            if address not in addresses:
                addresses.append(address)
        return addresses


class ResponseBody(httpx.AsyncByteStream):
    """The body of an answer as it arrives; closing it drops the connection.

    Its own iterator rather than an async generator: each generator of a check is
    registered with the event loop (its first-iteration hook adds it to a WeakSet) and
    finalized, and httpx stacks three more on this one."""

    def __init__(self, exchange: Exchange, encoded: bool = False) -> None:
        self._exchange = exchange
        self.encoded = encoded
        """The answer has a Content-Encoding: its bytes are not the content as they are."""

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self._exchange.read_chunk()
        if not chunk:
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        self._exchange.close()


class NetworkStream:
    """The ``network_stream`` response extension, as httpcore has it: ``get_extra_info``."""

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange

    def get_extra_info(self, name: str) -> object:
        transport = self._exchange.transport
        return transport.get_extra_info(name) if transport is not None else None


@functools.lru_cache(maxsize=4096)
def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def _encode_request(request: httpx.Request) -> bytes:
    """The request's bytes: its line, its headers with ``Connection: close``, its body."""
    try:
        body = request.content
    except httpx.RequestNotRead:
        body = await request.aread()
    raw_headers = request.headers.raw
    chunked = request.headers.get("transfer-encoding", "").lower() == "chunked"
    parts = [request.method.encode("ascii"), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
    for name, value in raw_headers:
        lower = name.lower()
        if lower in _HOP_BY_HOP or (chunked and lower == b"transfer-encoding"):
            continue
        if b"\n" in value or b"\r" in value:
            raise httpx.LocalProtocolError(f"header {name!r} holds a line break")
        parts += (name, b": ", value, b"\r\n")
    if chunked:  # a body streamed without a length: it has been read, so send its length
        parts += (b"Content-Length: ", str(len(body)).encode("ascii"), b"\r\n")
    parts.append(b"Connection: close\r\n\r\n")
    parts.append(body)
    return b"".join(parts)
