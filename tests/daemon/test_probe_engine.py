"""The prober's HTTP engine (slamon_daemon/transport) against real local targets: framing and
content codings, malformed and broken answers, IPv6, SNI, the certificate chain's earliest
expiry, and the same checks on uvloop (issue 14).

Targets are asyncio servers on 127.0.0.1 or ::1 started by each test; certificates are made
here with ``cryptography``. Nothing leaves this machine.
"""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import socket
import ssl
import zlib
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from slamon_daemon.models import Check, ErrorKind, Outcome, Service
from slamon_daemon.probe import BODY_CAP_BYTES, ERROR_TEXT_MAX, Prober
from slamon_daemon.targets import (
    Request,
    Target,
    chunked,
    free_port,
    hang,
    raw,
    reset_after,
    respond,
    response_bytes,
)
from slamon_daemon.transport import ProbeTransport

NODE = "engine"


@pytest.fixture
async def prober() -> AsyncIterator[Prober]:
    p = Prober(node=NODE)
    try:
        yield p
    finally:
        await p.aclose()


def svc(url: str, **kw: object) -> Service:
    kw.setdefault("timeout_s", 5.0)
    kw.setdefault("interval_s", 30.0)
    return Service(id="svc", name="Svc", url=url, **kw)  # type: ignore[arg-type]


async def check(prober: Prober, service: Service) -> Check:
    """One check, with the invariants every check must satisfy."""
    c = await prober.check(service)
    assert c.service_id == service.id and c.node == NODE and c.latency_ms >= 0
    if c.outcome is Outcome.DOWN:
        assert c.error_kind is not None and c.error, c
        assert len(c.error) <= ERROR_TEXT_MAX and "\n" not in c.error
    else:
        assert c.error_kind is None and c.error is None, c
    return c


def ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not ipv6_available(), reason="no IPv6 loopback (::1) here")

# -- framing and content codings -------------------------------------------------------------


async def test_chunked_body_is_read_whole(prober: Prober) -> None:
    async with Target(chunked([b"alpha ", b"beta ", b"gamma"])) as t:
        c = await check(prober, svc(t.url, body_contains="alpha beta gamma"))
        assert (c.outcome, c.status_code) == (Outcome.UP, 200)
        c = await check(prober, svc(t.url, body_contains="delta"))
        assert c.error_kind is ErrorKind.ASSERTION_FAILED


@pytest.mark.parametrize(
    ("coding", "encode"),
    [("gzip", gzip.compress), ("deflate", zlib.compress)],
)
async def test_compressed_bodies_are_decoded(
    prober: Prober, coding: str, encode: Callable[[bytes], bytes]
) -> None:
    body = b'{"status": "UP", "pad": "' + b"x" * 5000 + b'"}'
    packed = encode(body)
    assert b"UP" not in packed
    seen: list[Request] = []

    async def answer(req: Request, w: asyncio.StreamWriter) -> None:
        seen.append(req)
        w.write(response_bytes(200, packed, {"Content-Encoding": coding}))

    async with (
        Target(answer) as whole,
        Target(chunked([packed[:20], packed[20:]], {"Content-Encoding": coding})) as in_chunks,
    ):
        for t in (whole, in_chunks):
            c = await check(prober, svc(t.url, json_path="$.status == 'UP'"))
            assert (c.outcome, c.status_code) == (Outcome.UP, 200), c.error
    assert coding in seen[0].headers["accept-encoding"]


async def test_body_without_length_runs_until_the_close(prober: Prober) -> None:
    async with Target(raw(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall fine")) as t:
        c = await check(prober, svc(t.url, body_contains="all fine"))
        assert (c.outcome, c.status_code) == (Outcome.UP, 200)


async def test_interim_answer_is_skipped(prober: Prober) -> None:
    answer = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" + response_bytes(200, b"real")
    async with Target(raw(answer)) as t:
        c = await check(prober, svc(t.url, body_contains="real"))
        assert (c.outcome, c.status_code) == (Outcome.UP, 200)


async def test_body_cap_holds_for_a_chunked_body() -> None:
    cap = 1000
    p = Prober(node=NODE, body_cap=cap)
    try:
        async with Target(chunked([b"a" * 600, b"b" * 600, b"NEEDLE"])) as t:
            c = await check(p, svc(t.url, body_contains="a" * 600 + "b" * 400))
            assert c.outcome is Outcome.UP
            c = await check(p, svc(t.url, body_contains="b" * 401))
            assert c.error_kind is ErrorKind.ASSERTION_FAILED
    finally:
        await p.aclose()


async def test_every_check_is_a_fresh_connection_that_asks_to_be_closed(prober: Prober) -> None:
    seen: list[Request] = []

    async def record(req: Request, w: asyncio.StreamWriter) -> None:
        seen.append(req)
        w.write(response_bytes(200, b"ok"))

    async with Target(record) as t:
        for _ in range(3):
            assert (await check(prober, svc(t.url))).outcome is Outcome.UP
    # The target reads one request per connection: three requests were three connections.
    assert len(seen) == 3
    assert all(r.headers["connection"] == "close" for r in seen)
    assert all(r.headers["host"] == f"127.0.0.1:{t.port}" for r in seen)


# -- malformed and broken answers ------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(b"this is not HTTP\r\n\r\n", id="not-http"),
        pytest.param(b"HTTP/1.1 abc OK\r\nContent-Length: 2\r\n\r\nok", id="bad-status"),
        pytest.param(b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\nok", id="bad-header"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n",
            id="bad-chunk-size",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
            id="two-lengths",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 9\r\n\r\nnot gzip!",
            id="body-not-in-its-coding",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nX-Big: " + b"h" * (1024 * 1024 + 10) + b"\r\n\r\nok",
            id="head-over-1-MiB",
        ),
    ],
)
async def test_malformed_answer_is_a_protocol_error(prober: Prober, answer: bytes) -> None:
    async with Target(raw(answer)) as t:
        c = await check(prober, svc(t.url))
    assert (c.outcome, c.error_kind) == (Outcome.DOWN, ErrorKind.PROTOCOL_ERROR), c


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(b"", id="no-answer"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Le", id="half-a-head"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", id="short-body"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
            id="unfinished-chunks",
        ),
    ],
)
async def test_connection_closed_early_is_a_connection_error(prober: Prober, answer: bytes) -> None:
    async with Target(raw(answer)) as t:
        c = await check(prober, svc(t.url))
    assert (c.outcome, c.error_kind, c.status_code) == (
        Outcome.DOWN,
        ErrorKind.CONNECTION_ERROR,
        None,
    ), c
    assert "closed" in (c.error or "")


async def test_reset_in_the_middle_of_the_body_is_a_connection_error(prober: Prober) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
    async with Target(reset_after(head + b"x" * 1000)) as t:
        c = await check(prober, svc(t.url))
    assert (c.outcome, c.error_kind) == (Outcome.DOWN, ErrorKind.CONNECTION_ERROR), c
    assert "reset" in (c.error or "").lower()


async def test_reset_before_the_head_is_a_connection_error(prober: Prober) -> None:
    async with Target(reset_after(b"")) as t:
        c = await check(prober, svc(t.url))
    assert (c.outcome, c.error_kind) == (Outcome.DOWN, ErrorKind.CONNECTION_ERROR), c


async def test_tls_handshake_that_never_comes_is_a_timeout(prober: Prober) -> None:
    # Plain TCP that never reads nor answers the ClientHello. (A Target would parse its random
    # bytes as a request line and sometimes close the connection: a connection_error.)
    done = asyncio.Event()

    async def silent(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await done.wait()
        w.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        c = await check(prober, svc(f"https://127.0.0.1:{port}/", timeout_s=0.4))
    finally:
        done.set()
        server.close()
        await server.wait_closed()
    assert (c.outcome, c.error_kind) == (Outcome.DOWN, ErrorKind.TIMEOUT)
    assert c.error == "no complete answer within 0.4s"


async def test_tls_to_a_plain_http_server_is_a_tls_error(prober: Prober) -> None:
    async def plain_http(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")  # as nginx does
        await w.drain()
        w.close()

    server = await asyncio.start_server(plain_http, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        c = await check(prober, svc(f"https://127.0.0.1:{port}/"))
    finally:
        server.close()
        await server.wait_closed()
    assert (c.outcome, c.error_kind) == (Outcome.DOWN, ErrorKind.TLS_ERROR), c


# -- certificates: a private PKI with an intermediate ----------------------------------------


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        key_cert_sign=True,
        crl_sign=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        encipher_only=False,
        decipher_only=False,
    )


def _second(dt: datetime) -> datetime:
    return dt.replace(microsecond=0)


@dataclass
class Chain:
    """A root CA (trusted through ``root_pem``), an intermediate, and a server certificate."""

    root_pem: Path
    server: ssl.SSLContext
    leaf_not_after: datetime
    intermediate_not_after: datetime
    root_not_after: datetime


def make_chain(
    folder: Path,
    *,
    leaf_days: float,
    intermediate_days: float,
    root_days: float = 400,
    sans: tuple[x509.GeneralName, ...] = (
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
        x509.DNSName("localhost"),
    ),
) -> Chain:
    now = datetime.now(UTC)
    root_key, mid_key, leaf_key = _key(), _key(), _key()
    root_after = _second(now + timedelta(days=root_days, seconds=11))
    mid_after = _second(now + timedelta(days=intermediate_days, seconds=17))
    leaf_after = _second(now + timedelta(days=leaf_days, seconds=23))
    root = (
        x509.CertificateBuilder()
        .subject_name(_name("slamon test root"))
        .issuer_name(_name("slamon test root"))
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(root_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False
        )
        .sign(root_key, hashes.SHA256())
    )
    mid = (
        x509.CertificateBuilder()
        .subject_name(_name("slamon test intermediate"))
        .issuer_name(root.subject)
        .public_key(mid_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(mid_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(mid_key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(mid.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(leaf_after)
        .add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(mid_key.public_key()),
            critical=False,
        )
        .sign(mid_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    root_pem, chain_pem, key_pem = folder / "root.pem", folder / "chain.pem", folder / "leaf.key"
    root_pem.write_bytes(root.public_bytes(pem))
    chain_pem.write_bytes(leaf.public_bytes(pem) + mid.public_bytes(pem))  # leaf, intermediate
    key_pem.write_bytes(
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(chain_pem, key_pem)
    return Chain(root_pem, server, leaf_after, mid_after, root_after)


async def test_intermediate_expiring_before_the_leaf_is_the_chain_expiry(
    prober: Prober, tmp_path: Path
) -> None:
    chain = make_chain(tmp_path, leaf_days=90, intermediate_days=12)
    assert chain.intermediate_not_after < chain.leaf_not_after < chain.root_not_after
    async with Target(respond(200, b"ok"), ssl_context=chain.server) as t:
        verified = await check(prober, svc(t.url, ca_file=str(chain.root_pem)))
        unverified = await check(prober, svc(t.url, verify_tls=False))
    assert (verified.outcome, verified.status_code) == (Outcome.UP, 200)
    assert verified.cert_expires_at == chain.intermediate_not_after
    assert unverified.outcome is Outcome.UP
    assert unverified.cert_expires_at == chain.intermediate_not_after


async def test_root_expiring_first_counts_when_verified(prober: Prober, tmp_path: Path) -> None:
    # The server does not send the root; the verified chain ends with it (the trust anchor).
    chain = make_chain(tmp_path, leaf_days=90, intermediate_days=60, root_days=30)
    async with Target(respond(200, b"ok"), ssl_context=chain.server) as t:
        verified = await check(prober, svc(t.url, ca_file=str(chain.root_pem)))
        unverified = await check(prober, svc(t.url, verify_tls=False))
    assert verified.cert_expires_at == chain.root_not_after
    assert unverified.cert_expires_at == chain.intermediate_not_after  # what the server sent


async def test_leaf_expiring_first_is_the_expiry(prober: Prober, tmp_path: Path) -> None:
    chain = make_chain(tmp_path, leaf_days=5, intermediate_days=200)
    async with Target(respond(200, b"ok"), ssl_context=chain.server) as t:
        c = await check(prober, svc(t.url, ca_file=str(chain.root_pem)))
    assert c.cert_expires_at == chain.leaf_not_after


async def test_sni_carries_the_host_name_and_the_name_is_verified(
    prober: Prober, tmp_path: Path
) -> None:
    chain = make_chain(tmp_path, leaf_days=30, intermediate_days=60)
    names: list[str | None] = []

    def record(sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        names.append(name)

    chain.server.sni_callback = record
    async with Target(respond(200, b"ok"), ssl_context=chain.server) as t:
        by_name = t.url.replace("127.0.0.1", "localhost")
        c = await check(prober, svc(by_name, ca_file=str(chain.root_pem)))
        assert (c.outcome, c.status_code) == (Outcome.UP, 200)
        c = await check(prober, svc(t.url, ca_file=str(chain.root_pem)))
        assert c.outcome is Outcome.UP
    # A name travels in SNI; an address never does (RFC 6066), it is checked against the SANs.
    assert names == ["localhost", None]


async def test_a_name_the_certificate_does_not_carry_is_a_tls_error(
    prober: Prober, tmp_path: Path
) -> None:
    chain = make_chain(
        tmp_path,
        leaf_days=30,
        intermediate_days=60,
        sans=(x509.DNSName("elsewhere.example"),),
    )
    async with Target(respond(200, b"ok"), ssl_context=chain.server) as t:
        c = await check(prober, svc(t.url, ca_file=str(chain.root_pem)))
    assert (c.outcome, c.error_kind) == (Outcome.DOWN, ErrorKind.TLS_ERROR)
    assert "mismatch" in (c.error or "").lower() or "match" in (c.error or "").lower()


async def test_tls_body_cut_short_is_a_connection_error(prober: Prober, tmp_path: Path) -> None:
    chain = make_chain(tmp_path, leaf_days=30, intermediate_days=60)
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\nonly this"
    async with Target(raw(answer), ssl_context=chain.server) as t:
        c = await check(prober, svc(t.url, ca_file=str(chain.root_pem)))
    assert (c.outcome, c.error_kind) == (Outcome.DOWN, ErrorKind.CONNECTION_ERROR), c


async def test_tls_body_until_the_close(prober: Prober, tmp_path: Path) -> None:
    chain = make_chain(tmp_path, leaf_days=30, intermediate_days=60)
    async with Target(
        raw(b"HTTP/1.0 200 OK\r\n\r\nsecure and fine"), ssl_context=chain.server
    ) as t:
        c = await check(prober, svc(t.url, ca_file=str(chain.root_pem), body_contains="fine"))
    assert (c.outcome, c.status_code) == (Outcome.UP, 200), c
    assert c.cert_expires_at == chain.leaf_not_after


# -- IPv6 -------------------------------------------------------------------------------------


@needs_ipv6
async def test_ipv6_loopback(prober: Prober, tmp_path: Path) -> None:
    chain = make_chain(tmp_path, leaf_days=30, intermediate_days=60)
    async with (
        Target(respond(200, b"six"), host="::1") as plain,
        Target(respond(200, b"six"), host="::1", ssl_context=chain.server) as tls,
    ):
        assert plain.url.startswith("http://[::1]:")
        c = await check(prober, svc(plain.url, body_contains="six"))
        assert (c.outcome, c.status_code) == (Outcome.UP, 200)
        c = await check(prober, svc(tls.url, ca_file=str(chain.root_pem), body_contains="six"))
        assert (c.outcome, c.status_code) == (Outcome.UP, 200)
        assert c.cert_expires_at == chain.leaf_not_after
    c = await check(prober, svc(f"http://[::1]:{plain.port}/"))  # stopped: refused
    assert c.error_kind is ErrorKind.CONNECTION_ERROR


async def test_a_name_tries_its_addresses_in_turn(
    prober: Prober, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The name resolves to a dead address first, then to the live one.
    real = socket.getaddrinfo
    dead = free_port()

    def two_addresses(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host == "twice.test":
            return [*real("127.0.0.2", dead, *args, **kwargs), *real("127.0.0.1", port, *args)]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", two_addresses)
    seen: list[Request] = []

    async def record(req: Request, w: asyncio.StreamWriter) -> None:
        seen.append(req)
        w.write(response_bytes(200, b"ok"))

    async with Target(record) as t:
        c = await check(prober, svc(f"http://twice.test:{t.port}/x"))
    assert (c.outcome, c.status_code) == (Outcome.UP, 200), c
    assert seen[0].headers["host"] == f"twice.test:{t.port}"


# -- the transport alone, through httpx -------------------------------------------------------


async def test_transport_speaks_httpx() -> None:
    seen: list[Request] = []

    async def echo(req: Request, w: asyncio.StreamWriter) -> None:
        seen.append(req)
        w.write(response_bytes(200, b"got " + req.body, {"X-Reply": "yes"}))

    async with (
        Target(echo) as t,
        httpx.AsyncClient(transport=ProbeTransport()) as client,
    ):
        r = await client.post(t.url + "p?q=1", content=b"hello")
        assert (r.status_code, r.text, r.headers["x-reply"]) == (200, "got hello", "yes")
        assert r.http_version == "HTTP/1.1" and r.reason_phrase == "OK"

        async def parts() -> AsyncIterator[bytes]:
            yield b"streamed "
            yield b"body"

        r = await client.post(t.url, content=parts())
        assert r.text == "got streamed body"
    assert seen[0].path == "/p?q=1"
    assert seen[1].headers["content-length"] == str(len(b"streamed body"))
    assert "transfer-encoding" not in seen[1].headers


async def test_transport_refuses_a_header_with_a_line_break() -> None:
    async with Target(respond(200)) as t, httpx.AsyncClient(transport=ProbeTransport()) as client:
        with pytest.raises(httpx.LocalProtocolError):
            await client.get(t.url, headers={"X-Evil": "a\r\nInjected: yes"})
    assert t.requests == 0


# -- the same checks on uvloop -----------------------------------------------------------------


def _run_on_uvloop(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    uvloop = pytest.importorskip("uvloop")
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(scenario())


def test_checks_on_uvloop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chain = make_chain(tmp_path, leaf_days=90, intermediate_days=12)
    real = socket.getaddrinfo

    def fake_getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(host).endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    async def scenario() -> None:
        assert type(asyncio.get_running_loop()).__module__.startswith("uvloop")
        prober = Prober(node=NODE)
        body = gzip.compress(b'{"status": "UP"}')
        try:
            async with (
                Target(chunked([body[:7], body[7:]], {"Content-Encoding": "gzip"})) as up,
                Target(respond(200, b"ok"), ssl_context=chain.server) as tls,
                Target(hang()) as hanging,
                Target(raw(b"garbage\r\n\r\n")) as malformed,
                Target(reset_after(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nab")) as rude,
                Target(respond(503, b"no")) as failing,
                Target(respond(200, b"y" * (3 * BODY_CAP_BYTES))) as big,
            ):
                table: list[tuple[Service, ErrorKind | None]] = [
                    (svc(up.url, json_path="$.status == 'UP'"), None),
                    (svc(tls.url, ca_file=str(chain.root_pem)), None),
                    (svc(tls.url), ErrorKind.TLS_ERROR),
                    (svc(hanging.url, timeout_s=0.3), ErrorKind.TIMEOUT),
                    (svc(f"http://127.0.0.1:{free_port()}/"), ErrorKind.CONNECTION_ERROR),
                    (svc("http://nowhere.invalid/"), ErrorKind.DNS_ERROR),
                    (svc(malformed.url), ErrorKind.PROTOCOL_ERROR),
                    (svc(rude.url), ErrorKind.CONNECTION_ERROR),
                    (svc(failing.url), ErrorKind.HTTP_ERROR),
                    (
                        svc(big.url, body_contains="y" * (BODY_CAP_BYTES + 1)),
                        ErrorKind.ASSERTION_FAILED,
                    ),
                ]
                results = await asyncio.gather(*(check(prober, s) for s, _ in table))
        finally:
            await prober.aclose()
        for (s, want), c in zip(table, results, strict=True):
            assert c.error_kind is want, (s.url, c)
        assert results[1].cert_expires_at == chain.intermediate_not_after

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    _run_on_uvloop(scenario)


# -- cookies live for one check ----------------------------------------------------------------


async def test_cookies_follow_a_checks_redirects_but_not_the_next_check(prober: Prober) -> None:
    seen: list[Request] = []

    async def final(req: Request, w: asyncio.StreamWriter) -> None:
        seen.append(req)
        ok = req.headers.get("cookie") == "session=s1"
        w.write(response_bytes(200 if ok else 403, b"welcome" if ok else b"no session"))

    async with Target(final) as end:

        async def hop(req: Request, w: asyncio.StreamWriter) -> None:
            seen.append(req)
            headers = {"Location": end.url + "in", "Set-Cookie": "session=s1; Path=/"}
            w.write(response_bytes(302, b"", headers))

        async with Target(hop) as start:
            following = svc(start.url, follow_redirects=True, body_contains="welcome")
            for _ in range(2):
                c = await check(prober, following)
                assert (c.outcome, c.status_code) == (Outcome.UP, 200), c
            c = await check(prober, svc(start.url, expect_status=((302, 302),)))
            assert c.outcome is Outcome.UP
    # hop, final (with the cookie), hop (without: a new check), final, hop (not following)
    assert [r.headers.get("cookie") for r in seen] == [None, "session=s1", None, "session=s1", None]
