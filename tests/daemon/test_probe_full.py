"""Prober.check against real local targets, the rest of SPEC §3.1: what a check sends, body
assertions, redirects, expected statuses, TLS with a private CA, the body cap, degraded
answers, and every ErrorKind from one Prober.

Targets are asyncio servers on 127.0.0.1 started by each test; certificates are made here
with ``cryptography``. Only name resolution is faked (nothing may leave this machine).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from slamon_daemon.models import Check, DailyStatus, ErrorKind, Outcome, Service
from slamon_daemon.probe import BODY_CAP_BYTES, ERROR_TEXT_MAX, Prober
from slamon_daemon.rollup import Rollup, daily_status
from slamon_daemon.targets import (
    Request,
    Target,
    free_port,
    hang,
    huge,
    raw,
    respond,
    response_bytes,
)

NODE = "probe-full"


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
    assert c.service_id == service.id and c.node == NODE
    assert c.interval_s == service.interval_s
    assert c.started_at.utcoffset() == timedelta(0)
    assert c.latency_ms >= 0
    if c.outcome is Outcome.DOWN:
        assert c.error_kind is not None and c.error, c
        assert len(c.error) <= ERROR_TEXT_MAX and "\n" not in c.error
    else:
        assert c.error_kind is None and c.error is None, c
    return c


# -- what a check sends -----------------------------------------------------------------------


def recorder(seen: list[Request]):  # type: ignore[no-untyped-def]
    """A behaviour that records each request and answers 200 only when the token was sent.

    HEAD gets headers only; a request without the token gets 401.
    """

    async def behaviour(req: Request, w: asyncio.StreamWriter) -> None:
        seen.append(req)
        if req.headers.get("x-token") != "s3cret":
            w.write(response_bytes(401, b"who are you"))
        elif req.method == "HEAD":
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\n")
        else:
            w.write(response_bytes(200, b"got " + req.body))

    return behaviour


@pytest.mark.parametrize("method", ["POST", "PUT"])
async def test_method_headers_and_body_are_sent(prober: Prober, method: str) -> None:
    seen: list[Request] = []
    async with Target(recorder(seen)) as t:
        s = svc(
            t.url + "health?x=1",
            method=method,
            body='{"ping": "é"}',
            headers=(("X-Token", "s3cret"), ("Accept", "application/json")),
            body_contains='got {"ping"',
        )
        c = await check(prober, s)
        assert (c.outcome, c.status_code) == (Outcome.UP, 200)
    assert len(seen) == 1
    req = seen[0]
    assert req.method == method
    assert req.path == "/health?x=1"
    assert req.body == '{"ping": "é"}'.encode()
    assert req.headers["content-length"] == str(len(req.body))
    assert req.headers["x-token"] == "s3cret"
    assert req.headers["accept"] == "application/json"
    assert req.headers["user-agent"].startswith("slamon/")


async def test_head_sends_headers_and_reads_no_body(prober: Prober) -> None:
    seen: list[Request] = []
    async with Target(recorder(seen)) as t:
        c = await check(prober, svc(t.url, method="HEAD", headers=(("X-Token", "s3cret"),)))
        assert (c.outcome, c.status_code) == (Outcome.UP, 200)
    assert [r.method for r in seen] == ["HEAD"]
    assert seen[0].body == b""


async def test_missing_header_is_judged_by_the_answer(prober: Prober) -> None:
    seen: list[Request] = []
    async with Target(recorder(seen)) as t:
        c = await check(prober, svc(t.url, method="POST", body="x"))
        assert (c.outcome, c.status_code, c.error_kind) == (Outcome.DOWN, 401, ErrorKind.HTTP_ERROR)
        assert c.error == "status 401, expected 200-299"
    assert "x-token" not in seen[0].headers


async def test_a_configured_user_agent_replaces_the_default(prober: Prober) -> None:
    seen: list[Request] = []
    async with Target(recorder(seen)) as t:
        await check(prober, svc(t.url, headers=(("X-Token", "s3cret"), ("User-Agent", "probe/9"))))
    assert seen[0].headers["user-agent"] == "probe/9"


# -- body assertions --------------------------------------------------------------------------


async def test_body_regex_match_and_mismatch(prober: Prober) -> None:
    async with Target(respond(200, b'{"status": "OK", "version": "1.4.2"}')) as t:
        c = await check(prober, svc(t.url, body_regex=r'"status":\s*"(UP|OK)"'))
        assert c.outcome is Outcome.UP
        c = await check(prober, svc(t.url, body_regex=r'"version": "1\.4\.\d+"'))
        assert c.outcome is Outcome.UP
        rx = r'"status":\s*"UP"'
        c = await check(prober, svc(t.url, body_regex=rx))
        assert (c.outcome, c.status_code, c.error_kind) == (
            Outcome.DOWN,
            200,
            ErrorKind.ASSERTION_FAILED,
        )
        assert rx in (c.error or "")


@pytest.mark.parametrize("rx", [r"\u00e9", r"(?u)ok", r"\N{LATIN SMALL LETTER E WITH ACUTE}"])
async def test_a_regex_the_config_accepts_never_makes_the_check_raise(
    prober: Prober, rx: str
) -> None:
    from slamon_daemon.config import ServiceConfig

    ServiceConfig(id="svc", url="http://127.0.0.1/", body_regex=rx)  # accepted by the config
    async with Target(respond(200, "é ok".encode())) as t:
        c = await check(prober, svc(t.url, body_regex=rx))
        assert c.outcome is Outcome.UP


async def test_body_regex_sees_the_body_as_utf8_text(prober: Prober) -> None:
    async with Target(respond(200, '{"name":"é"}'.encode())) as t:
        c = await check(prober, svc(t.url, body_regex=r'"name":"."'))
        assert c.outcome is Outcome.UP, c.error


@pytest.mark.parametrize(
    ("body", "path", "reason"),
    [
        (b'{"status": "UP", "db": {"ok": true}}', "$.status == 'UP'", None),
        (b'{"status": "UP", "db": {"ok": true}}', "$.db.ok", None),
        (b'{"status": "UP", "db": {"ok": true}}', "$.status != 'DOWN'", None),
        (b'{"status": "DOWN"}', "$.status == 'UP'", "json_path $.status == 'UP': got \"DOWN\""),
        (b'{"status": "UP"}', "$.db.ok", "json_path $.db.ok: not found or null/false"),
        (b'{"status": "UP"}', "$.db.ok == true", "json_path $.db.ok == true: got missing"),
        (b"<html>maintenance</html>", "$.status", "json_path $.status: body is not JSON"),
        (b"", "$.status == 'UP'", "json_path $.status == 'UP': body is not JSON"),
    ],
)
async def test_json_path_pass_fail_not_json_missing(
    prober: Prober, body: bytes, path: str, reason: str | None
) -> None:
    async with Target(respond(200, body)) as t:
        c = await check(prober, svc(t.url, json_path=path))
    if reason is None:
        assert c.outcome is Outcome.UP, c.error
    else:
        assert (c.outcome, c.status_code, c.error_kind) == (
            Outcome.DOWN,
            200,
            ErrorKind.ASSERTION_FAILED,
        )
        assert c.error == reason


async def test_deeply_nested_json_is_an_assertion_failure_not_a_crash(prober: Prober) -> None:
    async with Target(respond(200, b"[" * 100_000)) as t:
        c = await check(prober, svc(t.url, json_path="$.status"))
        assert c.error_kind is ErrorKind.ASSERTION_FAILED


async def test_status_is_checked_before_the_body(prober: Prober) -> None:
    async with Target(respond(503, b'{"status": "UP"}')) as t:
        c = await check(prober, svc(t.url, json_path="$.status == 'UP'"))
        assert (c.error_kind, c.status_code) == (ErrorKind.HTTP_ERROR, 503)


# -- redirects and expected statuses ---------------------------------------------------------


async def test_follow_redirects(prober: Prober) -> None:
    async with Target(respond(200, b"final ok")) as final:
        async with Target(respond(302, b"", headers={"Location": final.url + "landing"})) as hop:
            c = await check(prober, svc(hop.url, expect_status=((200, 200),)))
            assert (c.outcome, c.status_code, c.error_kind) == (
                Outcome.DOWN,
                302,
                ErrorKind.HTTP_ERROR,
            )
            assert c.error == "status 302, expected 200"
            assert final.requests == 0  # not followed
            # When not following, a 3xx is judged by expect_status like any other code.
            c = await check(prober, svc(hop.url, expect_status=((300, 399),)))
            assert (c.outcome, c.status_code) == (Outcome.UP, 302)
            c = await check(
                prober,
                svc(
                    hop.url,
                    expect_status=((200, 200),),
                    follow_redirects=True,
                    body_contains="final",
                ),
            )
            assert (c.outcome, c.status_code) == (Outcome.UP, 200)
            assert final.requests == 1
            assert hop.requests == 3


@pytest.mark.parametrize(
    ("code", "up"),
    [
        (200, True),
        (202, True),
        (203, True),
        (204, True),
        (404, True),
        (201, False),
        (205, False),
        (301, False),
        (500, False),
    ],
)
async def test_expect_status_list_and_ranges(prober: Prober, code: int, up: bool) -> None:
    expect = ((200, 200), (202, 204), (404, 404))
    async with Target(respond(code, b"")) as t:
        c = await check(prober, svc(t.url, expect_status=expect))
    assert c.status_code == code
    if up:
        assert c.outcome is Outcome.UP
    else:
        assert (c.outcome, c.error_kind) == (Outcome.DOWN, ErrorKind.HTTP_ERROR)
        assert c.error == f"status {code}, expected 200, 202-204, 404"


# -- TLS --------------------------------------------------------------------------------------


@dataclass
class Pki:
    folder: Path
    ca_key: ec.EllipticCurvePrivateKey
    ca_name: x509.Name
    ca_pem: Path

    def server(self, name: str, not_before: datetime, not_after: datetime) -> ssl.SSLContext:
        """A server TLS context for 127.0.0.1 whose certificate this CA signed."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(self.ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()),
                critical=False,
            )
            .sign(self.ca_key, hashes.SHA256())
        )
        return _context(self.folder, name, cert, key)


def _context(
    folder: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> ssl.SSLContext:
    cert_pem, key_pem = folder / f"{name}.pem", folder / f"{name}.key"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_pem, key_pem)
    return ctx


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "slamon private test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=400))
        .not_valid_after(now + timedelta(days=400))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = tmp_path / "private-ca.pem"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return Pki(tmp_path, ca_key, ca_name, ca_pem)


async def test_private_ca_verifies_and_records_the_expiry(prober: Prober, pki: Pki) -> None:
    now = datetime.now(UTC)
    # An odd second, so a truncated or rounded expiry would not compare equal.
    not_after = (now + timedelta(days=47, hours=5, minutes=7, seconds=13)).replace(microsecond=0)
    ctx = pki.server("good", now - timedelta(days=1), not_after)
    async with Target(respond(200, b"ok"), ssl_context=ctx) as t:
        assert t.url.startswith("https://")
        c = await check(prober, svc(t.url, ca_file=str(pki.ca_pem)))
        assert (c.outcome, c.status_code) == (Outcome.UP, 200)
        assert c.cert_expires_at == not_after
        assert c.cert_expires_at is not None and c.cert_expires_at.utcoffset() == timedelta(0)
        # Without the CA file the same target is not trusted.
        c = await check(prober, svc(t.url))
        assert (c.outcome, c.error_kind, c.cert_expires_at) == (
            Outcome.DOWN,
            ErrorKind.TLS_ERROR,
            None,
        )


async def test_expired_certificate_from_the_private_ca_is_a_tls_error(
    prober: Prober, pki: Pki
) -> None:
    now = datetime.now(UTC)
    ctx = pki.server("expired", now - timedelta(days=90), now - timedelta(days=2))
    async with Target(respond(200, b"ok"), ssl_context=ctx) as t:
        c = await check(prober, svc(t.url, ca_file=str(pki.ca_pem)))
        assert (c.outcome, c.error_kind, c.status_code) == (Outcome.DOWN, ErrorKind.TLS_ERROR, None)
        assert "expired" in (c.error or "").lower(), c.error
        assert t.requests == 0  # the handshake failed: no request was sent


async def test_self_signed_with_verify_off_is_up_with_its_expiry(
    prober: Prober, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    not_after = (now + timedelta(days=3, seconds=29)).replace(microsecond=0)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "self")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    ctx = _context(tmp_path, "self", cert, key)
    async with Target(respond(200, b"ok"), ssl_context=ctx) as t:
        c = await check(prober, svc(t.url, verify_tls=False))
        assert (c.outcome, c.status_code) == (Outcome.UP, 200)
        assert c.cert_expires_at == not_after == cert.not_valid_after_utc
        c = await check(prober, svc(t.url, verify_tls=True))
        assert c.error_kind is ErrorKind.TLS_ERROR


# -- the body cap ---------------------------------------------------------------------------


async def test_body_cap_is_respected_for_a_huge_body(prober: Prober) -> None:
    # huge() sends only "y": a run of cap + 1 of them exists in the body but not in its
    # first cap bytes, a run of cap does.
    async with Target(huge(6 * BODY_CAP_BYTES)) as t:
        c = await check(
            prober, svc(t.url, timeout_s=30.0, body_contains="y" * (BODY_CAP_BYTES + 1))
        )
        assert (c.outcome, c.status_code, c.error_kind) == (
            Outcome.DOWN,
            200,
            ErrorKind.ASSERTION_FAILED,
        )
        c = await check(prober, svc(t.url, timeout_s=30.0, body_contains="y" * BODY_CAP_BYTES))
        assert (c.outcome, c.status_code) == (Outcome.UP, 200)


async def test_text_after_the_cap_is_not_seen(prober: Prober) -> None:
    body = b"x" * (BODY_CAP_BYTES + 10) + b"NEEDLE" + b"x" * 1000
    async with Target(respond(200, b"HEAD-MARK" + body)) as t:
        c = await check(prober, svc(t.url, body_contains="NEEDLE"))
        assert c.error_kind is ErrorKind.ASSERTION_FAILED
        c = await check(prober, svc(t.url, body_contains="HEAD-MARK"))
        assert c.outcome is Outcome.UP


async def test_the_rest_of_a_huge_body_is_not_downloaded(prober: Prober) -> None:
    size = 64 * BODY_CAP_BYTES
    sent = 0
    finished = asyncio.Event()

    async def counting(req: Request, w: asyncio.StreamWriter) -> None:
        nonlocal sent
        try:
            w.write(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
            chunk = b"z" * 65536
            while sent < size:
                w.write(chunk)
                sent += len(chunk)
                await w.drain()
        finally:
            finished.set()

    async with Target(counting) as t:
        c = await check(prober, svc(t.url, timeout_s=30.0))
        assert (c.outcome, c.status_code) == (Outcome.UP, 200)
        await asyncio.wait_for(finished.wait(), 20)  # the probe hung up on it
    # Socket buffers hold a few MiB beyond the cap at most, nowhere near the whole body.
    assert sent < size // 2, sent


# -- degraded -------------------------------------------------------------------------------


async def test_slow_answer_is_degraded_and_counts_as_up(prober: Prober) -> None:
    async with (
        Target(respond(200, b"ok", delay_s=0.25)) as slow,
        Target(respond(200, b"ok")) as fast,
    ):
        c_slow = await check(prober, svc(slow.url, degraded_after_s=0.05))
        c_fast = await check(prober, svc(fast.url, degraded_after_s=30.0))
    assert (c_slow.outcome, c_slow.status_code, c_slow.error_kind) == (Outcome.DEGRADED, 200, None)
    assert c_slow.latency_ms >= 50
    assert c_fast.outcome is Outcome.UP
    r = Rollup(service_id="svc", day=c_slow.started_at.date())
    r.add(c_slow)
    r.add(c_fast)
    assert (r.checks, r.up, r.degraded, r.down) == (2, 1, 1, 0)
    assert r.uptime_text() == "100.00"  # degraded answered correctly: it is up time
    assert r.downtime_s == 0.0
    assert r.latency_count == 2 and r.latency_max_ms == c_slow.latency_ms
    assert daily_status(r) is DailyStatus.DEGRADED  # but the day is not "o" (a slow day)


async def test_degraded_after_does_not_save_a_wrong_answer(prober: Prober) -> None:
    async with Target(respond(500, b"err", delay_s=0.2)) as t:
        c = await check(prober, svc(t.url, degraded_after_s=0.05))
        assert (c.outcome, c.error_kind) == (Outcome.DOWN, ErrorKind.HTTP_ERROR)


# -- every ErrorKind ------------------------------------------------------------------------


async def test_every_error_kind_from_one_prober(
    prober: Prober, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo

    def fake_getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name.endswith(".invalid"):  # as glibc fails for a name that does not exist
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)

    async def redirect_loop(req: Request, w: asyncio.StreamWriter) -> None:
        w.write(response_bytes(302, b"", {"Location": f"/hop{time.monotonic_ns()}"}))

    now = datetime.now(UTC)
    tls_ctx = pki.server("untrusted", now - timedelta(days=1), now + timedelta(days=5))
    async with (
        Target(hang()) as hanging,
        Target(respond(500, b"x")) as failing,
        Target(respond(200, b"fine")) as fine,
        Target(redirect_loop) as looping,
        Target(respond(200, b"ok"), ssl_context=tls_ctx) as tls,
        Target(raw(b"HTTP/1.1 2OO OK\r\n\r\n")) as malformed,
    ):
        table: list[tuple[Service, ErrorKind | None]] = [
            (svc(fine.url), None),
            (svc(hanging.url, timeout_s=0.3), ErrorKind.TIMEOUT),
            (svc(f"http://127.0.0.1:{free_port()}/"), ErrorKind.CONNECTION_ERROR),
            (svc("http://status.example.invalid/health"), ErrorKind.DNS_ERROR),
            (svc(tls.url), ErrorKind.TLS_ERROR),  # verified against the system CAs: untrusted
            (svc(failing.url), ErrorKind.HTTP_ERROR),
            (svc(fine.url, body_contains="healthy"), ErrorKind.ASSERTION_FAILED),
            (svc(malformed.url), ErrorKind.PROTOCOL_ERROR),  # not HTTP: a letter O in "200"
            # A redirect loop is a wrong answer (all 3xx), not an unknown failure.
            (svc(looping.url, follow_redirects=True), ErrorKind.HTTP_ERROR),
            # A port httpx cannot even dial: nothing the other kinds describe.
            (svc("http://127.0.0.1:99999/"), ErrorKind.UNKNOWN),
        ]
        results = await asyncio.gather(*(check(prober, s) for s, _ in table))
    for (s, want), c in zip(table, results, strict=True):
        assert c.error_kind is want, (s.url, c)
    assert {c.error_kind for c in results} - {None} == set(ErrorKind)
    by_kind = {c.error_kind: c for c in results}
    assert by_kind[ErrorKind.TIMEOUT].error == "no complete answer within 0.3s"
    assert "redirect" in (results[-2].error or "").lower()
    assert by_kind[ErrorKind.UNKNOWN].error
