"""What keeps the HTTP server from slowing probing: a per-client rate limit, a cap on the
requests handled at once, and a timeout per request. A pure ASGI middleware, so it wraps
everything (the JSON API, the pages, /metrics) before any routing or body reading.

Refusals are JSON with the feed's codes (docs/feed.md "Error codes"): 429 ``rate_limited``
with Retry-After, 503 ``unavailable`` with Retry-After, 504 ``unavailable``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ..protocol import ErrorCode

logger = logging.getLogger("slamon.web")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_CLIENTS = 10_000
"""Clients whose buckets are kept at most (the least recently seen are forgotten first):
random source addresses cannot fill memory."""


class TokenBuckets:
    """A token bucket per client: ``rate`` a second, up to ``burst`` at once."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str) -> float:
        """Take a token for ``client``: 0.0 when allowed, else seconds until one is there."""
        now = self._clock()
        tokens, at = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > MAX_CLIENTS:
            self._buckets.popitem(last=False)
        return wait


def json_error(status: int, code: str, message: str, **extra: Any) -> bytes:
    """The body of an error answer: ``{"error": {"code", "message", ...}}``."""
    return json.dumps({"error": {"code": code, "message": message, **extra}}).encode()


async def send_error(
    send: Send, status: int, code: str, message: str, headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    body = json_error(status, code, message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class LoopLag:
    """How late the event loop runs a timer (seconds, the worst of the last few ticks): when
    HTTP work makes the loop late, checks start late too."""

    def __init__(self, interval: float = 0.05, keep: int = 4) -> None:
        self.interval = interval
        self.recent: list[float] = [0.0] * keep
        self._task: asyncio.Task[None] | None = None

    @property
    def lag(self) -> float:
        return max(self.recent)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t = loop.time()
            await asyncio.sleep(self.interval)
            self.recent = [*self.recent[1:], max(0.0, loop.time() - t - self.interval)]

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None


class Guard:
    """Rate limit per client, at most ``max_requests`` at once, ``timeout`` per request, and
    while the event loop runs late (``shed_lag``), 503 at once: probing comes first."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_requests: int,
        timeout: float,
        rate: float,
        burst: float,
        shed_lag: float | None = None,
        exempt: Callable[[str], bool] = lambda path: False,
    ) -> None:
        self.app = app
        self.max_requests = max_requests
        self.timeout = timeout
        self.buckets = TokenBuckets(rate, burst)
        self.exempt = exempt
        self.in_flight = 0
        self.refused = {"rate_limited": 0, "busy": 0, "timeout": 0, "shed": 0}
        self.shed_lag = shed_lag
        self.lag = LoopLag()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        key = str(client[0]) if client else "unknown"
        if not self.exempt(str(scope.get("path", ""))):
            wait = self.buckets.take(key)
            if wait > 0:
                self.refused["rate_limited"] += 1
                await send_error(
                    send,
                    429,
                    ErrorCode.RATE_LIMITED,
                    f"too many requests from {key} (at most {self.buckets.rate:g} a second,"
                    f" bursts of {self.buckets.burst:g}); retry after {wait:.1f} s",
                    ((b"retry-after", str(max(1, math.ceil(wait))).encode()),),
                )
                return
        if self.shed_lag is not None:
            self.lag.start()
            if self.lag.lag > self.shed_lag and not self.exempt(str(scope.get("path", ""))):
                self.refused["shed"] += 1
                await send_error(
                    send,
                    503,
                    ErrorCode.UNAVAILABLE,
                    f"the daemon is running {self.lag.lag:.2f} s late (over {self.shed_lag:g} s):"
                    " checks come first; retry shortly",
                    ((b"retry-after", b"1"),),
                )
                return
        if self.in_flight >= self.max_requests:
            self.refused["busy"] += 1
            await send_error(
                send,
                503,
                ErrorCode.UNAVAILABLE,
                f"the server is busy ({self.max_requests} requests in progress); retry shortly",
                ((b"retry-after", b"1"),),
            )
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        self.in_flight += 1
        try:
            async with asyncio.timeout(self.timeout):
                await self.app(scope, receive, tracking_send)
        except TimeoutError:
            self.refused["timeout"] += 1
            logger.warning(
                "HTTP %s %s: no answer within %g s",
                scope.get("method"),
                scope.get("path"),
                self.timeout,
            )
            if not started:
                await send_error(
                    send,
                    504,
                    ErrorCode.UNAVAILABLE,
                    f"no answer within {self.timeout:g} s; retry later",
                )
        finally:
            self.in_flight -= 1
