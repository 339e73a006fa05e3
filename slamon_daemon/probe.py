"""One HTTP check of one service (SPEC §3.1).

A check opens a fresh connection (``Connection: close``: it measures what users meet, connect
time included) through an ``httpx.AsyncClient`` shared per TLS setting (building a TLS
context costs ~18 ms of CPU, PERF-NOTES.md). Under httpx's API runs slamon's own transport
(transport/: HTTP/1.1 with httptools over asyncio; issue 14 measured a check at 0.42 times
the CPU of httpx's default engine, docs/benchmarks.md §7). The whole check (name resolution,
connect, TLS, head and body) runs under the service's timeout; at most ``body_cap`` bytes of
the decoded body are read.

Error kinds, as the Prometheus blackbox exporter tells the same failures apart:

==================  ==========================================================================
``timeout``         no complete answer within the timeout (connect, TLS, head or body)
``dns_error``       the name did not resolve
``tls_error``       the TLS handshake failed: untrusted, expired, wrong name, no common cipher
``connection_error``  refused, unreachable, reset, or closed before the answer was complete
``protocol_error``  the answer is not HTTP/1.x, or its body is not in the coding it claims
``http_error``      an unexpected status (a redirect loop too: its answers were all 3xx)
``assertion_failed``  the body failed body_contains, body_regex or json_path
``unknown``         anything else (a port out of range ...)
==================  ==========================================================================
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import ssl
import time
from datetime import UTC, datetime

import httpx

from .assertions import JsonPath, parse_json_path
from .models import Check, ErrorKind, Outcome, Service
from .transport import (
    ProbeTransport,
    ResponseBody,
    check_cookies,
    client_context,
    earliest_expiry,
    scope_cookies,
)

logger = logging.getLogger("slamon.probe")

BODY_CAP_BYTES = 1_048_576
"""At most this much of a response body is read; the rest is not downloaded."""
ERROR_TEXT_MAX = 200
"""Error messages stored with a check are cut to this many characters."""
USER_AGENT = "slamon/0.1 (+health check)"
REQUEST_CACHE = 20_000
"""Services whose first request is kept built at most (~2 KB each). Once full, the ones kept
stay and the other services' requests are built at each check (~22 µs): clearing the cache
when full (as before) made every request miss once there were more services than this,
checked in turn. A kept request not used for ``REQUEST_SWEEP_S`` (a service removed or
renamed) gives its place up when a request misses."""
REQUEST_SWEEP_S = 600.0


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        chain.append(cur)
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return chain


def classify(exc: BaseException) -> ErrorKind:
    """The error_kind for an exception raised while checking (see the module docstring)."""
    chain = _causes(exc)
    if any(isinstance(e, TimeoutError | httpx.TimeoutException) for e in chain):
        return ErrorKind.TIMEOUT
    if isinstance(exc, httpx.TooManyRedirects):
        return ErrorKind.HTTP_ERROR  # a redirect loop: the answers were all 3xx
    if any(isinstance(e, socket.gaierror) for e in chain):
        return ErrorKind.DNS_ERROR
    if any(isinstance(e, ssl.SSLError) for e in chain):
        return ErrorKind.TLS_ERROR
    if isinstance(exc, httpx.RemoteProtocolError | httpx.DecodingError):
        return ErrorKind.PROTOCOL_ERROR
    if isinstance(exc, httpx.NetworkError | ConnectionError):
        return ErrorKind.CONNECTION_ERROR
    return ErrorKind.UNKNOWN


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= ERROR_TEXT_MAX else text[: ERROR_TEXT_MAX - 1] + "…"


def _describe(exc: BaseException, timeout_s: float) -> str:
    if classify(exc) is ErrorKind.TIMEOUT:
        return f"no complete answer within {timeout_s:g}s"
    msg = str(exc) or type(exc).__name__
    return _short(msg)


def _cert_expiry(resp: httpx.Response) -> datetime | None:
    """The earliest notAfter over the peer's certificate chain (verified or not)."""
    stream = resp.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    if ssl_object is None:
        return None
    return earliest_expiry(ssl_object)


def _unlink(resp: httpx.Response) -> None:
    """Break the reference cycle httpx makes of each response (its stream is bound to it:
    ``BoundAsyncStream``), so that reference counting frees a check's objects at once
    rather than the garbage collector later (thousands of checks a second: its young
    collections paused the loop for 50-300 ms every second or two). The response is closed
    and read; the redirects before it (``history``) too."""
    for r in (*resp.history, resp):
        r.__dict__.pop("stream", None)


async def _send(
    client: httpx.AsyncClient, transport: ProbeTransport, request: httpx.Request
) -> httpx.Response:
    """``client.send(request, stream=True)`` for a request that follows no redirect and
    carries no credentials, straight to the client's transport: the client's layers around
    a single request (auth flow, redirect loop, event hooks, cookie extraction, a stream
    bound to the response, a log record) do nothing for it but cost ~10 % of the prober's
    CPU. Like the client, an answer that redirects gets its Location judged (a malformed one
    is a protocol error, as the client and the Prometheus blackbox exporter have it)."""
    resp = await transport.handle_async_request(request)
    resp.request = request
    if resp.has_redirect_location:
        try:
            client._build_redirect_request(request, resp)  # what client.send does
        except BaseException:
            await resp.aclose()
            raise
    return resp


class Prober:
    """Makes checks. Owns one httpx client per TLS setting; close it with ``aclose``."""

    def __init__(
        self,
        node: str = "local",
        body_cap: int = BODY_CAP_BYTES,
        *,
        region: str | None = None,
        source_address: str | None = None,
    ) -> None:
        self.node = node
        self.region = region  # issue 15: recorded with every check of a cluster's node
        self.source_address = source_address  # the local address checks connect from
        self.body_cap = body_cap
        self._clients: dict[tuple[bool, str | None], tuple[httpx.AsyncClient, ProbeTransport]] = {}
        self._json_paths: dict[str, JsonPath] = {}
        self._regexes: dict[str, re.Pattern[str]] = {}
        self._timeouts: dict[float, httpx.Timeout] = {}
        # Each service's first request, built once per Service value (see _request_of), its
        # URL parsed then (httpx parses a str URL at every request: ~4 % of a daemon's CPU
        # at 10,000 services). While the cache is full, the services whose request was used
        # since the last sweep (REQUEST_CACHE).
        self._requests: dict[str, tuple[Service, httpx.Request, bool]] = {}
        self._used: set[str] = set()
        self._swept_at = 0.0

    def _client(self, service: Service) -> tuple[httpx.AsyncClient, ProbeTransport]:
        key = (service.verify_tls, service.ca_file if service.verify_tls else None)
        pair = self._clients.get(key)
        if pair is None:
            context = client_context(verify=key[0], ca_file=key[1])
            transport = ProbeTransport(context, local_address=self.source_address)
            client = httpx.AsyncClient(
                transport=transport,
                follow_redirects=False,
                max_redirects=10,
                headers={"User-Agent": USER_AGENT},
                trust_env=False,  # a proxy from the environment would skew what users meet
            )
            scope_cookies(client)  # a check's cookies live for its redirects only
            pair = self._clients[key] = (client, transport)
        return pair

    async def aclose(self) -> None:
        for client, _ in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def check(self, service: Service, *, maintenance: bool = False) -> Check:
        """Check ``service`` once. Never raises (except cancellation): failures are Checks."""
        started_at = datetime.now(UTC)
        t0 = time.perf_counter()
        try:
            async with asyncio.timeout(service.timeout_s):
                with check_cookies(service.follow_redirects):
                    status_code, body, cert_expires_at = await self._request(service)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # every failure becomes a recorded check
            return Check(
                service_id=service.id,
                started_at=started_at,
                latency_ms=(time.perf_counter() - t0) * 1000,
                outcome=Outcome.DOWN,
                error_kind=classify(exc),
                error=_describe(exc, service.timeout_s),
                node=self.node,
                maintenance=maintenance,
                interval_s=service.interval_s,
                region=self.region,
            )
        latency_ms = (time.perf_counter() - t0) * 1000
        error_kind: ErrorKind | None = None
        error: str | None = None
        if not service.status_expected(status_code):
            error_kind = ErrorKind.HTTP_ERROR
            allowed = ", ".join(
                f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in service.expect_status
            )
            error = f"status {status_code}, expected {allowed}"
        else:
            try:
                error = self._assert_body(service, body)
            except Exception as exc:  # a body assertion must never lose the check
                logger.warning("body assertion of %s failed to run: %r", service.id, exc)
                error = f"body assertion could not run: {type(exc).__name__}"
            if error is not None:
                error_kind = ErrorKind.ASSERTION_FAILED
        if error_kind is not None:
            outcome = Outcome.DOWN
        elif service.degraded_after_s is not None and latency_ms > service.degraded_after_s * 1000:
            outcome = Outcome.DEGRADED
        else:
            outcome = Outcome.UP
        return Check(
            service_id=service.id,
            started_at=started_at,
            latency_ms=latency_ms,
            outcome=outcome,
            status_code=status_code,
            error_kind=error_kind,
            error=_short(error) if error else None,
            node=self.node,
            maintenance=maintenance,
            interval_s=service.interval_s,
            cert_expires_at=cert_expires_at,
            region=self.region,
        )

    def _assert_body(self, service: Service, body: bytes) -> str | None:
        """None when every body assertion of the service holds, else why not."""
        if service.body_contains is not None and service.body_contains.encode() not in body:
            return f"body does not contain {service.body_contains!r}"
        if service.body_regex is not None:
            rx = self._regexes.get(service.body_regex)
            if rx is None:
                rx = self._regexes[service.body_regex] = re.compile(service.body_regex)
            # The body is matched as UTF-8 text (undecodable bytes become U+FFFD).
            if rx.search(body.decode("utf-8", errors="replace")) is None:
                return f"body does not match /{service.body_regex}/"
        if service.json_path is not None:
            jp = self._json_paths.get(service.json_path)
            if jp is None:
                jp = self._json_paths[service.json_path] = parse_json_path(service.json_path)
            return jp.check(body)
        return None

    def _timeout(self, seconds: float) -> httpx.Timeout:
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            if len(self._timeouts) >= 1000:
                self._timeouts.clear()
            timeout = self._timeouts[seconds] = httpx.Timeout(seconds)
        return timeout

    def _request_of(
        self, client: httpx.AsyncClient, service: Service
    ) -> tuple[httpx.Request, bool]:
        """The first request of a check of ``service``, built once per Service value, and
        whether it may go straight to the transport (``_send``).

        httpx builds a request at every check (headers merged and copied four times, the
        URL, the body's stream: ~1/8 of the prober's CPU at 10,000 services). What it builds
        depends on the service and the client only — a check's cookie jar is empty at its
        first request (transport/cookies.py) — and sending does not change it (redirects
        build new requests), so one request serves every check until the service changes.
        """
        requests = self._requests
        cached = requests.get(service.id)
        if cached is not None and cached[0] is service:
            if len(requests) >= REQUEST_CACHE:
                self._used.add(service.id)
            return cached[1], cached[2]
        request = client.build_request(
            service.method,
            httpx.URL(service.url),
            headers=dict(service.headers) if service.headers else None,
            content=service.body.encode() if service.body is not None else None,
            timeout=self._timeout(service.timeout_s),
        )
        # Credentials in the URL are httpx's auth flow (basic auth): the client sends those.
        direct = not service.follow_redirects and not (request.url.username or request.url.password)
        if cached is not None:  # the service changed
            requests[service.id] = (service, request, direct)
            return request, direct
        if len(requests) >= REQUEST_CACHE:
            requests = self._sweep()
        if len(requests) < REQUEST_CACHE:
            requests[service.id] = (service, request, direct)
            if len(requests) == REQUEST_CACHE:  # full from now: who uses theirs is noted
                self._used.clear()
                self._swept_at = time.monotonic()
        return request, direct

    def _sweep(self) -> dict[str, tuple[Service, httpx.Request, bool]]:
        """Drop the kept requests not used since the last sweep, at most every
        REQUEST_SWEEP_S (while the cache is full and a request missed); the cache."""
        now = time.monotonic()
        if now - self._swept_at >= REQUEST_SWEEP_S:
            used = self._used
            self._requests = {k: v for k, v in self._requests.items() if k in used}
            self._used = set()
            self._swept_at = now
        return self._requests

    async def _request(self, service: Service) -> tuple[int, bytes, datetime | None]:
        client, transport = self._client(service)
        request, direct = self._request_of(client, service)
        if direct:
            resp = await _send(client, transport, request)
        else:
            resp = await client.send(
                request, stream=True, follow_redirects=service.follow_redirects
            )
        try:
            cert = _cert_expiry(resp) if resp.url.scheme == "https" else None
            chunks: list[bytes] = []
            size = 0
            stream = resp.stream
            # The body as it came, when it is the content as it is (no Content-Encoding to
            # undo): httpx's aiter_bytes adds two async generators a check (each registered
            # with the event loop and finalized) and a decoder that changes nothing.
            body = (
                stream
                if direct and type(stream) is ResponseBody and not stream.encoded
                else resp.aiter_bytes()
            )
            async for chunk in body:
                chunks.append(chunk)
                size += len(chunk)
                if size >= self.body_cap:
                    break  # the rest is not read; the connection is closed, not reused
            return resp.status_code, b"".join(chunks)[: self.body_cap], cert
        finally:
            await resp.aclose()
            _unlink(resp)
