"""The HTTP server's guard and lifecycle (web/server.py, web/guard.py), in this test's own event
loop: uvicorn on 127.0.0.1 serving a small Starlette app behind the Guard, real requests.

* a client over its rate gets 429 JSON with Retry-After; another client is not affected;
* more requests than ``max_requests`` at once: 503 JSON at once;
* a request slower than ``request_timeout``: 504 JSON;
* stop() lets a request in progress finish, then the port is closed;
* a taken address is a ServeError naming it; [http] listen values are validated.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from slamon_daemon.config import HttpConfig, listen_address
from slamon_daemon.errors import ServeError
from slamon_daemon.web.guard import Guard, TokenBuckets
from slamon_daemon.web.server import HttpServer


async def slow(request: Request) -> PlainTextResponse:
    await asyncio.sleep(float(request.query_params.get("s", "0.5")))
    return PlainTextResponse("done")


async def fast(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def hog(request: Request) -> PlainTextResponse:
    time.sleep(0.4)  # holds the event loop, as too much HTTP work would  # noqa: ASYNC251
    return PlainTextResponse("hogged")


def _app(cfg: HttpConfig) -> Guard:
    return Guard(
        Starlette(
            routes=[
                Route("/slow", slow),
                Route("/fast", fast),
                Route("/hog", hog),
                Route("/health", fast),
            ]
        ),
        max_requests=cfg.max_requests,
        timeout=cfg.request_timeout,
        rate=cfg.rate_limit,
        burst=cfg.rate_burst,
        shed_lag=cfg.shed_lag or None,
        exempt=lambda path: path == "/health",
    )


async def _serve(cfg: HttpConfig) -> tuple[HttpServer, str]:
    server = HttpServer(_app(cfg), cfg)
    await server.start()
    host, port = server.address
    return server, f"http://{host}:{port}"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as c:
        yield c


async def test_rate_limit_per_client(client: httpx.AsyncClient) -> None:
    cfg = HttpConfig(listen="127.0.0.1:0", rate_limit=1, rate_burst=3)
    server, base = await _serve(cfg)
    try:
        codes = [(await client.get(f"{base}/fast")).status_code for _ in range(3)]
        assert codes == [200, 200, 200]
        r = await client.get(f"{base}/fast")
        assert r.status_code == 429
        assert r.headers["content-type"] == "application/json"
        assert int(r.headers["retry-after"]) >= 1
        err = r.json()["error"]
        assert err["code"] == "rate_limited" and "127.0.0.1" in err["message"]
        # another client (127.0.0.2) still gets through: the bucket is per client
        async with httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2"), timeout=10
        ) as other:
            assert (await other.get(f"{base}/fast")).status_code == 200
    finally:
        await server.stop()


async def test_busy_and_timeout(client: httpx.AsyncClient) -> None:
    cfg = HttpConfig(listen="127.0.0.1:0", max_requests=2, request_timeout=0.3)
    server, base = await _serve(cfg)
    try:
        slow_ones = [asyncio.create_task(client.get(f"{base}/slow?s=0.25")) for _ in range(2)]
        await asyncio.sleep(0.1)
        busy = await client.get(f"{base}/fast")
        assert busy.status_code == 503
        assert busy.json()["error"]["code"] == "unavailable"
        assert busy.headers["retry-after"] == "1"
        assert [r.status_code for r in await asyncio.gather(*slow_ones)] == [200, 200]
        late = await client.get(f"{base}/slow?s=5")
        assert late.status_code == 504
        assert late.json()["error"]["code"] == "unavailable"
        assert "0.3 s" in late.json()["error"]["message"]
        assert (await client.get(f"{base}/fast")).status_code == 200
    finally:
        await server.stop()


async def test_stop_finishes_requests_in_progress(client: httpx.AsyncClient) -> None:
    cfg = HttpConfig(listen="127.0.0.1:0")
    server, base = await _serve(cfg)
    host, port = server.address
    pending = asyncio.create_task(client.get(f"{base}/slow?s=0.5"))
    await asyncio.sleep(0.1)
    await server.stop()
    r = await pending
    assert r.status_code == 200 and r.text == "done"
    with pytest.raises(OSError), socket.create_connection((host, port), timeout=2):
        pass


async def test_a_taken_address_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = HttpServer(_app(HttpConfig()), HttpConfig(listen=f"127.0.0.1:{port}"))
        with pytest.raises(
            ServeError, match=rf"\[http\] listen = '127.0.0.1:{port}': cannot listen"
        ):
            await server.start()


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("3008", "is not an address"),
        ("localhost", "is not an address"),
        ("127.0.0.1:99999", "not between 1 and 65535"),
        ("::1:3008", "put an IPv6 address in brackets"),
        ("[::1:3008", "unclosed \\[ in the IPv6 address"),
        ("exa mple:80", "not a host name or IP address"),
    ],
)
def test_listen_values_are_checked(value: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        listen_address(value)


def test_listen_values_accepted() -> None:
    assert listen_address("127.0.0.1:3008") == ("127.0.0.1", 3008)
    assert listen_address("[::1]:3008") == ("::1", 3008)
    assert listen_address("localhost:80") == ("localhost", 80)
    assert HttpConfig().listen is None  # off by default


async def test_requests_are_shed_while_the_loop_runs_late(client: httpx.AsyncClient) -> None:
    cfg = HttpConfig(listen="127.0.0.1:0", shed_lag=0.1)
    server, base = await _serve(cfg)
    try:
        assert (await client.get(f"{base}/fast")).status_code == 200
        assert (await client.get(f"{base}/hog")).status_code == 200
        await asyncio.sleep(0.06)  # the lag monitor's next tick saw the loop 0.4 s late
        shed = await client.get(f"{base}/fast")
        assert shed.status_code == 503, shed.text
        assert shed.json()["error"]["code"] == "unavailable"
        assert "late" in shed.json()["error"]["message"]
        assert (await client.get(f"{base}/health")).status_code == 200  # never shed
        await asyncio.sleep(0.4)  # on time again: served
        assert (await client.get(f"{base}/fast")).status_code == 200
    finally:
        await server.stop()


def test_token_buckets_refill_and_forget() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=2, burst=2, clock=lambda: now[0])
    assert [buckets.take("a"), buckets.take("a")] == [0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)
    now[0] += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("b") == 0.0
