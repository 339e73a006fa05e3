"""The email channel against a real local SMTP server (aiosmtpd): STARTTLS, implicit TLS, auth,
refusals and outages. The server's certificate is self-signed, made here."""

from __future__ import annotations

import datetime as dt
import email
import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message as MailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from slamon_daemon.alerts.channels.email import EmailChannel
from slamon_daemon.targets import free_port

from .conftest import make_fields, resolve_fields

PASSWORD = "sm7p-pa55word"


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (PEM files)."""
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
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem, key_pem = folder / "smtp.pem", folder / "smtp.key"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_pem, key_pem


@dataclass
class Mailbox:
    """What the SMTP server was sent, and whether each session was encrypted."""

    messages: list[MailMessage] = field(default_factory=list)
    envelopes: list[Any] = field(default_factory=list)
    tls_sessions: list[bool] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    rcpt_answer: str | None = None
    data_answer: str = "250 Message accepted for delivery"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.rcpt_answer:
            return self.rcpt_answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if not self.data_answer.startswith("250"):
            return self.data_answer
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content))
        implicit = server.transport.get_extra_info("ssl_object") is not None
        self.tls_sessions.append(session.ssl is not None or implicit)
        return self.data_answer


def authenticator(mailbox: Mailbox):  # type: ignore[no-untyped-def]
    def check(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and auth_data.password.decode() == PASSWORD:
            mailbox.logins.append(auth_data.login.decode())
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    return check


@pytest.fixture
def pki(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed(tmp_path)


def _server_ctx(pki: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*pki)
    return ctx


@pytest.fixture
def starttls_server(pki: tuple[Path, Path]) -> Iterator[tuple[Controller, Mailbox]]:
    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=_server_ctx(pki),
        require_starttls=True,
        authenticator=authenticator(mailbox),
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield controller, mailbox
    finally:
        controller.stop()


def channel(port: int, ca: Path | None, **kw: Any) -> EmailChannel:
    values: dict[str, Any] = dict(
        host="127.0.0.1",
        port=port,
        sender="slamon@example.com",
        recipients=["oncall@example.com", "ops@example.com"],
        security="starttls",
        username="alerts",
        password=PASSWORD,
        ca_file=str(ca) if ca else None,
        timeout_s=5.0,
    )
    values.update(kw)
    return EmailChannel("mail", **values)


async def test_starttls_with_login_sends_text_and_html(
    starttls_server: tuple[Controller, Mailbox], pki: tuple[Path, Path]
) -> None:
    controller, mailbox = starttls_server
    ch = channel(controller.port, pki[0])
    result = await ch.send(make_fields())
    assert result.ok and result.code == 250, result
    assert mailbox.tls_sessions == [True] and mailbox.logins == ["alerts"]
    (msg,) = mailbox.messages
    assert msg["Subject"].startswith("[slamon] ")
    assert "core-db down" in str(
        email.header.make_header(email.header.decode_header(msg["Subject"]))
    )
    assert msg["From"] == "slamon@example.com"
    assert mailbox.envelopes[0].rcpt_tos == ["oncall@example.com", "ops@example.com"]
    assert msg.is_multipart()
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in msg.walk()
        if not p.is_multipart()
    }
    assert "core-db down since" in parts["text/plain"]
    assert "<h2>core-db down" in parts["text/html"]
    assert PASSWORD not in repr(ch) + ch.target + str(result)


async def test_recovery_threads_under_the_outage(
    starttls_server: tuple[Controller, Mailbox], pki: tuple[Path, Path]
) -> None:
    controller, mailbox = starttls_server
    ch = channel(controller.port, pki[0])
    assert (await ch.send(make_fields())).ok
    assert (await ch.send(resolve_fields())).ok
    down, up = mailbox.messages
    assert down["References"] == up["References"] == up["In-Reply-To"]
    assert down["Message-ID"] != up["Message-ID"]


async def test_html_part_escapes_names(
    starttls_server: tuple[Controller, Mailbox], pki: tuple[Path, Path]
) -> None:
    controller, mailbox = starttls_server
    await channel(controller.port, pki[0]).send(make_fields(title="<script>x</script>"))
    html_part = next(p for p in mailbox.messages[0].walk() if p.get_content_type() == "text/html")
    body = html_part.get_payload(decode=True).decode()
    assert "<script>" not in body and "&lt;script&gt;" in body


async def test_untrusted_certificate_is_refused(
    starttls_server: tuple[Controller, Mailbox],
) -> None:
    controller, mailbox = starttls_server
    result = await channel(controller.port, None).send(make_fields())  # system CAs only
    assert not result.ok and not result.permanent
    assert (
        "CERTIFICATE_VERIFY_FAILED" in (result.error or "")
        or "certificate" in (result.error or "").lower()
    )
    assert mailbox.messages == []


async def test_wrong_password_is_permanent_and_masked(
    starttls_server: tuple[Controller, Mailbox], pki: tuple[Path, Path]
) -> None:
    controller, mailbox = starttls_server
    result = await channel(controller.port, pki[0], password="not-the-password").send(make_fields())
    assert not result.ok and result.code == 535 and result.permanent
    assert "not-the-password" not in (result.error or "")
    assert mailbox.messages == []


async def test_refused_recipient_is_permanent(
    starttls_server: tuple[Controller, Mailbox], pki: tuple[Path, Path]
) -> None:
    controller, mailbox = starttls_server
    mailbox.rcpt_answer = "550 5.1.1 No such user"
    result = await channel(controller.port, pki[0]).send(make_fields())
    assert not result.ok and result.code == 550 and result.permanent


async def test_temporary_failure_is_retried(
    starttls_server: tuple[Controller, Mailbox], pki: tuple[Path, Path]
) -> None:
    controller, mailbox = starttls_server
    mailbox.data_answer = "451 4.3.0 Try again later"
    result = await channel(controller.port, pki[0]).send(make_fields())
    assert not result.ok and result.code == 451 and not result.permanent


async def test_starttls_is_never_skipped(pki: tuple[Path, Path]) -> None:
    """A server that offers no STARTTLS gets no message (and no password) in clear."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        result = await channel(controller.port, pki[0]).send(make_fields())
    finally:
        controller.stop()
    assert not result.ok
    assert mailbox.messages == [] and mailbox.logins == []


async def test_implicit_tls(pki: tuple[Path, Path]) -> None:
    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        ssl_context=_server_ctx(pki),
        authenticator=authenticator(mailbox),
        auth_require_tls=False,  # aiosmtpd counts only STARTTLS as TLS; this whole session is
    )
    controller.start()
    try:
        result = await channel(controller.port, pki[0], security="tls").send(make_fields())
    finally:
        controller.stop()
    assert result.ok and result.code == 250, result
    assert mailbox.tls_sessions == [True] and len(mailbox.messages) == 1


async def test_plain_relay_without_auth() -> None:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        ch = channel(controller.port, None, security="none", username=None, password=None)
        result = await ch.send(make_fields())
    finally:
        controller.stop()
    assert result.ok and mailbox.tls_sessions == [False]


async def test_server_down_is_retryable() -> None:
    result = await channel(free_port(), None).send(make_fields())
    assert not result.ok and not result.permanent and result.code is None
