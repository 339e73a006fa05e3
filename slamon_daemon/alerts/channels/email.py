"""Email over SMTP (aiosmtplib): a plain-text part and an HTML part.

``security`` is ``starttls`` (connect in clear, upgrade with STARTTLS; the upgrade is
required, never skipped), ``tls`` (implicit TLS, usually port 465) or ``none`` (a local
relay). Certificates are verified against the system's CAs or ``ca_file``. The password is
the secret. Messages of one outage share a thread: every message's ``References`` names
the outage's dedup key, so mail clients show the recovery under the alert.

Results: ``code`` is the SMTP reply code (250 when the message was accepted). A 5xx reply
(authentication refused, recipient unknown) is permanent; 4xx, timeouts and refused
connections are retried.
"""

from __future__ import annotations

import hashlib
import html
import ssl
import time
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Literal

import aiosmtplib

from ..model import DeliveryResult, Message
from .base import ANSWER_CHARS, Channel, logger
from .look import clip, emoji, footer

Security = Literal["starttls", "tls", "none"]


def _msgid(value: str) -> str:
    return f"<{hashlib.sha256(value.encode()).hexdigest()[:32]}@slamon>"


def build_email(
    message: Message, sender: str, recipients: Sequence[str], prefix: str
) -> EmailMessage:
    """The email of one notification: plain text first, HTML as the alternative."""
    mail = EmailMessage()
    mail["Subject"] = clip(f"{prefix}{emoji(message)} {message.title}", 250)
    mail["From"] = sender
    mail["To"] = ", ".join(recipients)
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = _msgid(message.key)
    mail["References"] = _msgid(message.dedup_key)
    mail["In-Reply-To"] = _msgid(message.dedup_key)
    mail["X-Slamon-Event"] = message.event.value
    mail.set_content(f"{message.title}\n\n{message.text}\n\n-- \n{footer(message)}\n")
    mail.add_alternative(
        "<!doctype html><html><body>"
        f"<h2>{html.escape(message.title)}</h2>"
        f'<pre style="font-family:inherit;white-space:pre-wrap">{html.escape(message.text)}</pre>'
        f'<p style="color:#666;font-size:small">{html.escape(footer(message))}</p>'
        "</body></html>",
        subtype="html",
    )
    return mail


class EmailChannel(Channel):
    """Sends each notification as one email through an SMTP server."""

    type = "email"

    def __init__(
        self,
        channel_id: str,
        *,
        host: str,
        port: int,
        sender: str,
        recipients: Sequence[str],
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        ca_file: str | None = None,
        verify_tls: bool = True,
        subject_prefix: str = "[slamon] ",
        timeout_s: float = 20.0,
    ) -> None:
        super().__init__(channel_id, secrets=[password] if password else [])
        self.host = host
        self.port = port
        self.sender = sender
        self.recipients = list(recipients)
        self.security = security
        self.username = username
        self._password = password
        self.ca_file = ca_file
        self.verify_tls = verify_tls
        self.subject_prefix = subject_prefix
        self.timeout_s = timeout_s

    @property
    def target(self) -> str:
        who = f"{self.username}:***@" if self.username else ""
        return (
            f"smtp://{who}{self.host}:{self.port} ({self.security}) to {', '.join(self.recipients)}"
        )

    def _tls_context(self) -> ssl.SSLContext | None:
        if self.security == "none":
            return None
        ctx = ssl.create_default_context(cafile=self.ca_file)
        if not self.verify_tls:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    async def send(self, fields: Mapping[str, Any]) -> DeliveryResult:
        started = time.perf_counter()
        try:
            mail = build_email(
                Message.from_fields(fields), self.sender, self.recipients, self.subject_prefix
            )
        except Exception as exc:
            return DeliveryResult(
                False,
                None,
                0.0,
                error=self.redact(f"cannot build the email: {exc}"),
                permanent=True,
            )
        smtp = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self._password,
            use_tls=self.security == "tls",
            start_tls=True if self.security == "starttls" else False,
            tls_context=self._tls_context(),
            timeout=self.timeout_s,
        )
        try:
            async with smtp:
                refused, answer = await smtp.send_message(mail)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            return self._failed(started, codes[0] if codes else None, f"recipients refused: {exc}")
        except aiosmtplib.SMTPResponseException as exc:
            return self._failed(started, exc.code, f"SMTP {exc.code}: {exc.message}")
        except (aiosmtplib.SMTPException, OSError, ssl.SSLError) as exc:
            return self._failed(started, None, f"{type(exc).__name__}: {exc}")
        latency_ms = (time.perf_counter() - started) * 1000
        note = ""
        if refused:
            note = "; refused: " + ", ".join(f"{k} ({v.code})" for k, v in refused.items())
        return DeliveryResult(
            True, 250, latency_ms, answer=self.redact(clip(f"{answer}{note}", ANSWER_CHARS))
        )

    def _failed(self, started: float, code: int | None, error: str) -> DeliveryResult:
        latency_ms = (time.perf_counter() - started) * 1000
        error = self.redact(clip(error, ANSWER_CHARS))
        logger.info("alert channel %s: email not sent: %s", self.id, error)
        permanent = code is not None and 500 <= code < 600
        return DeliveryResult(False, code, latency_ms, error=error, permanent=permanent)
