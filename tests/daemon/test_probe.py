"""Prober.check against real HTTP targets on 127.0.0.1 (SPEC §3.1)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from slamon_daemon.models import Check, ErrorKind, Outcome, Service
from slamon_daemon.probe import ERROR_TEXT_MAX, Prober
from slamon_daemon.targets import (
    Request,
    Target,
    drip,
    free_port,
    hang,
    huge,
    respond,
    response_bytes,
)

NODE = "probe-test"


@pytest.fixture
async def prober() -> AsyncIterator[Prober]:
    p = Prober(node=NODE)
    try:
        yield p
    finally:
        await p.aclose()


def svc(url: str, **kw: object) -> Service:
    kw.setdefault("timeout_s", 5.0)
    kw.setdefault("interval_s", 42.0)
    return Service(id="api", name="API", url=url, **kw)  # type: ignore[arg-type]


def assert_well_formed(c: Check, service: Service) -> None:
    """What every check carries, whatever its outcome."""
    assert c.service_id == service.id
    assert c.node == NODE
    assert c.interval_s == service.interval_s
    assert c.started_at.tzinfo is not None and c.started_at.utcoffset() == dt.timedelta(0)
    assert abs(dt.datetime.now(dt.UTC) - c.started_at) < dt.timedelta(minutes=5)
    assert c.latency_ms >= 0
    assert c.maintenance is False
    if c.error is not None:
        assert 0 < len(c.error) <= ERROR_TEXT_MAX
    if c.outcome is Outcome.DOWN:
        assert c.error_kind is not None and c.error
    else:
        assert c.error_kind is None and c.error is None


async def check(prober: Prober, service: Service) -> Check:
    c = await prober.check(service)
    assert_well_formed(c, service)
    return c


# -- answers --------------------------------------------------------------------------------


async def test_up(prober: Prober) -> None:
    async with Target(respond(200, b"ok")) as t:
        s = svc(t.url)
        c = await check(prober, s)
        assert (c.outcome, c.status_code, c.error_kind) == (Outcome.UP, 200, None)
        assert t.requests == 1
        assert c.cert_expires_at is None  # plain http


async def test_http_500_is_http_error(prober: Prober) -> None:
    async with Target(respond(500, b"boom")) as t:
        c = await check(prober, svc(t.url))
        assert (c.outcome, c.status_code, c.error_kind) == (Outcome.DOWN, 500, ErrorKind.HTTP_ERROR)
        assert c.error == "status 500, expected 200-299"


async def test_unexpected_404_is_http_error(prober: Prober) -> None:
    async with Target(respond(404, b"nope")) as t:
        c = await check(prober, svc(t.url, expect_status=((200, 200),)))
        assert (c.outcome, c.status_code, c.error_kind) == (Outcome.DOWN, 404, ErrorKind.HTTP_ERROR)
        assert c.error == "status 404, expected 200"


async def test_expect_status_ranges_accept(prober: Prober) -> None:
    expect = ((200, 299), (404, 404))
    async with Target(respond(404, b"")) as t404, Target(respond(204, b"")) as t204:
        for t, code in ((t404, 404), (t204, 204)):
            c = await check(prober, svc(t.url, expect_status=expect))
            assert (c.outcome, c.status_code) == (Outcome.UP, code)
    async with Target(respond(200)) as t:
        c = await check(prober, svc(t.url, expect_status=((500, 599),)))
        assert c.error_kind is ErrorKind.HTTP_ERROR and c.error == "status 200, expected 500-599"


async def test_slow_answer_is_degraded(prober: Prober) -> None:
    async with Target(respond(200, b"ok", delay_s=0.3)) as t:
        c = await check(prober, svc(t.url, degraded_after_s=0.05))
        assert (c.outcome, c.status_code, c.error_kind) == (Outcome.DEGRADED, 200, None)
        assert c.latency_ms > 50  # it waited for the 0.3 s answer


async def test_answer_within_degraded_after_is_up(prober: Prober) -> None:
    async with Target(respond(200, b"ok")) as t:
        c = await check(prober, svc(t.url, degraded_after_s=60.0))
        assert c.outcome is Outcome.UP


async def test_method_body_and_headers_reach_the_target(prober: Prober) -> None:
    seen: list[Request] = []

    async def record(req: Request, w: asyncio.StreamWriter) -> None:
        seen.append(req)
        w.write(response_bytes(201, b"created"))

    async with Target(record) as t:
        c = await check(
            prober, svc(t.url, method="POST", body='{"ping":1}', headers=(("X-Token", "s3cret"),))
        )
        assert (c.outcome, c.status_code) == (Outcome.UP, 201)
    assert len(seen) == 1
    assert seen[0].method == "POST"
    assert seen[0].body == b'{"ping":1}'
    assert seen[0].headers["x-token"] == "s3cret"
    assert seen[0].headers["user-agent"].startswith("slamon/")


async def test_every_check_sends_the_services_request_as_it_is_now(prober: Prober) -> None:
    """The prober builds a service's request once and reuses it: a second check sends the
    same request again, and a service changed under the same id sends its new settings."""
    seen: list[Request] = []

    async def record(req: Request, w: asyncio.StreamWriter) -> None:
        seen.append(req)
        w.write(response_bytes(200, b"ok"))

    async with Target(record) as t:
        first = svc(t.url, method="POST", body="one", headers=(("X-Token", "a"),))
        changed = dataclasses.replace(first, method="PUT", body="two", headers=(("X-Token", "b"),))
        for service in (first, first, changed, changed):
            c = await check(prober, service)
            assert c.outcome is Outcome.UP, c
    sent = [(r.method, r.body, r.headers["x-token"]) for r in seen]
    assert sent == [("POST", b"one", "a")] * 2 + [("PUT", b"two", "b")] * 2
    assert all(r.headers["user-agent"].startswith("slamon/") for r in seen)


async def test_redirects_judged_or_followed(prober: Prober) -> None:
    async with Target(respond(200, b"final")) as final:
        async with Target(respond(302, b"", headers={"Location": final.url})) as t:
            c = await check(prober, svc(t.url))
            assert (c.outcome, c.status_code, c.error_kind) == (
                Outcome.DOWN,
                302,
                ErrorKind.HTTP_ERROR,
            )
            c = await check(prober, svc(t.url, follow_redirects=True))
            assert (c.outcome, c.status_code) == (Outcome.UP, 200)
            assert final.requests == 1


# -- failures -------------------------------------------------------------------------------


async def test_hanging_target_is_a_timeout(prober: Prober) -> None:
    async with Target(hang()) as t:
        c = await check(prober, svc(t.url, timeout_s=0.5))
        assert (c.outcome, c.error_kind, c.status_code) == (Outcome.DOWN, ErrorKind.TIMEOUT, None)
        assert c.error == "no complete answer within 0.5s"


async def test_dripping_body_is_a_timeout(prober: Prober) -> None:
    # Every byte arrives well within the timeout, but the whole answer does not: the timeout
    # covers the whole check, not each read.
    async with Target(drip(total=1000, every_s=0.1)) as t:
        c = await check(prober, svc(t.url, timeout_s=0.5))
        assert (c.outcome, c.error_kind) == (Outcome.DOWN, ErrorKind.TIMEOUT)


async def test_nothing_listening_is_a_connection_error(prober: Prober) -> None:
    s = svc(f"http://127.0.0.1:{free_port()}/health")
    c = await check(prober, s)
    assert (c.outcome, c.error_kind, c.status_code) == (
        Outcome.DOWN,
        ErrorKind.CONNECTION_ERROR,
        None,
    )


async def test_stopped_target_is_a_connection_error(prober: Prober) -> None:
    t = await Target(respond(200)).start()
    url = t.url
    assert (await check(prober, svc(url))).outcome is Outcome.UP
    await t.stop()
    c = await check(prober, svc(url))
    assert c.error_kind is ErrorKind.CONNECTION_ERROR


async def test_missing_body_text_is_assertion_failed(prober: Prober) -> None:
    async with Target(respond(200, b"all good")) as t:
        c = await check(prober, svc(t.url, body_contains="healthy"))
        assert (c.outcome, c.status_code, c.error_kind) == (
            Outcome.DOWN,
            200,
            ErrorKind.ASSERTION_FAILED,
        )
        assert "healthy" in (c.error or "")
        c = await check(prober, svc(t.url, body_contains="good"))
        assert c.outcome is Outcome.UP


async def test_body_regex_and_json_path(prober: Prober) -> None:
    async with Target(respond(200, b'{"status": "UP", "checks": [{"ok": true}]}')) as t:
        ok = [
            svc(t.url, body_regex=r'"status":\s*"UP"'),
            svc(t.url, json_path="$.status == 'UP'"),
            svc(t.url, json_path="$.checks[0].ok"),
        ]
        for s in ok:
            assert (await check(prober, s)).outcome is Outcome.UP, s
        bad = [
            svc(t.url, body_regex=r"DOWN"),
            svc(t.url, json_path="$.status == 'DOWN'"),
            svc(t.url, json_path="$.missing"),
        ]
        for s in bad:
            c = await check(prober, s)
            assert c.error_kind is ErrorKind.ASSERTION_FAILED, s
    async with Target(respond(200, b"<html>not json</html>")) as t:
        c = await check(prober, svc(t.url, json_path="$.status"))
        assert c.error_kind is ErrorKind.ASSERTION_FAILED and "not JSON" in (c.error or "")


async def test_huge_body_is_read_only_up_to_the_cap(prober: Prober) -> None:
    async with Target(huge(20 * 1024 * 1024)) as t:
        c = await check(prober, svc(t.url, timeout_s=30.0))
        assert (c.outcome, c.status_code) == (Outcome.UP, 200)


async def test_body_assertions_see_only_the_capped_body() -> None:
    cap = 1000
    p = Prober(node=NODE, body_cap=cap)
    try:
        async with (
            Target(respond(200, b"x" * cap + b"NEEDLE")) as beyond,
            Target(respond(200, b"NEEDLE" + b"x" * 5 * cap)) as within,
        ):
            c = await check(p, svc(beyond.url, body_contains="NEEDLE"))
            assert c.error_kind is ErrorKind.ASSERTION_FAILED
            c = await check(p, svc(within.url, body_contains="NEEDLE"))
            assert c.outcome is Outcome.UP
    finally:
        await p.aclose()


async def test_error_text_is_short(prober: Prober) -> None:
    async with Target(respond(200, b"ok")) as t:
        c = await check(prober, svc(t.url, body_contains="z" * 1000))
        assert c.error_kind is ErrorKind.ASSERTION_FAILED
        assert c.error is not None and len(c.error) <= ERROR_TEXT_MAX
        assert "\n" not in c.error


async def test_dns_error(prober: Prober, monkeypatch: pytest.MonkeyPatch) -> None:
    # Name resolution must never leave this machine in a test (no network here, and a
    # resolver's answer for a made-up name is not ours to rely on: some resolvers hijack
    # NXDOMAIN). So getaddrinfo itself fails for *.invalid names, exactly as glibc does for a
    # name that does not exist, and everything else resolves as usual.
    real = socket.getaddrinfo
    asked: list[str] = []

    def fake_getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name.endswith(".invalid"):
            asked.append(name)
            raise socket.gaierror(-2, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    s = svc("http://no-such-service.invalid/health")
    c = await check(prober, s)
    assert asked, "the probe did not resolve the name through getaddrinfo"
    assert (c.outcome, c.error_kind, c.status_code) == (Outcome.DOWN, ErrorKind.DNS_ERROR, None)


# -- TLS ------------------------------------------------------------------------------------


def _write_pki(folder: Path) -> tuple[Path, Path, Path, dt.datetime]:
    """A private CA and a server certificate for 127.0.0.1 signed by it (PEM files)."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    not_after = now + dt.timedelta(days=30)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "slamon test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
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
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = folder / "ca.pem"
    cert_pem = folder / "server.pem"
    key_pem = folder / "server.key"
    ca_pem.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_pem, cert_pem, key_pem, not_after


@pytest.fixture
async def tls_target(tmp_path: Path) -> AsyncIterator[tuple[Target, Path, dt.datetime]]:
    """An https target whose certificate no public CA vouches for (a private CA signed it)."""
    ca_pem, cert_pem, key_pem, not_after = _write_pki(tmp_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_pem, key_pem)
    async with Target(respond(200, b"ok"), ssl_context=ctx) as t:
        assert t.url.startswith("https://")
        yield t, ca_pem, not_after


async def test_untrusted_certificate_is_a_tls_error(prober: Prober, tls_target) -> None:  # type: ignore[no-untyped-def]
    t, _ca, _ = tls_target
    c = await check(prober, svc(t.url, verify_tls=True))
    assert (c.outcome, c.error_kind, c.status_code) == (Outcome.DOWN, ErrorKind.TLS_ERROR, None)


async def test_verify_off_accepts_the_certificate_and_records_expiry(
    prober: Prober, tls_target
) -> None:  # type: ignore[no-untyped-def]
    t, _ca, not_after = tls_target
    c = await check(prober, svc(t.url, verify_tls=False))
    assert (c.outcome, c.status_code) == (Outcome.UP, 200)
    assert c.cert_expires_at == not_after


async def test_private_ca_file_verifies(prober: Prober, tls_target) -> None:  # type: ignore[no-untyped-def]
    t, ca, not_after = tls_target
    c = await check(prober, svc(t.url, verify_tls=True, ca_file=str(ca)))
    assert (c.outcome, c.status_code) == (Outcome.UP, 200)
    assert c.cert_expires_at == not_after


async def test_self_signed_certificate(prober: Prober, tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "self.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "self.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "self.pem", tmp_path / "self.key")
    async with Target(respond(200, b"ok"), ssl_context=ctx) as t:
        c = await check(prober, svc(t.url, verify_tls=True))
        assert (c.outcome, c.error_kind) == (Outcome.DOWN, ErrorKind.TLS_ERROR)
        assert "certificate" in (c.error or "").lower()
        c = await check(prober, svc(t.url, verify_tls=False))
        assert (c.outcome, c.status_code) == (Outcome.UP, 200)


async def test_checks_run_concurrently_through_one_prober(prober: Prober) -> None:
    async with Target(respond(200, b"ok", delay_s=0.2)) as t:
        results = await asyncio.gather(*(prober.check(svc(t.url)) for _ in range(20)))
        assert all(c.outcome is Outcome.UP for c in results)
        assert t.requests == 20
