"""What every channel shares: the send contract, HTTP sending, and failure classification.

A channel turns a notification's fields into one request to a receiver and says what came
of it as a ``DeliveryResult``; it never raises for a failed delivery. HTTP channels share
``HttpChannel.send``:

* 2xx is delivered;
* 408, 429 and 5xx, timeouts and connection failures are retried (``permanent`` false);
  ``retry_after_s`` comes from ``Retry-After`` (seconds or an HTTP date) on 429 and 503;
* any other 4xx is permanent: the same request cannot succeed (a revoked webhook, a
  malformed payload), so the outbox stops retrying it and records why.

Secrets never leave a channel: ``repr()`` and ``target`` show masked values, and every error
text and receiver answer passes through the channel's ``Redactor`` first.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import httpx

from ..model import DeliveryResult, Message
from ..redact import Redactor, mask_url, url_secrets

logger = logging.getLogger("slamon.alerts")

ANSWER_CHARS = 500
"""How much of a receiver's answer a result keeps (shown by test-send and the delivery log)."""

MAX_RETRY_AFTER_S = 6 * 3600.0
"""A Retry-After beyond this is taken as this: a broken header must not mute a channel for a year."""

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER_S)


def is_permanent_status(code: int) -> bool:
    """True for an HTTP status that repeating the request cannot change (4xx but 408, 429)."""
    return 400 <= code < 500 and code not in (408, 429)


class Channel(ABC):
    """A destination of notifications. ``send`` never raises for a failed delivery."""

    type: ClassVar[str]
    paging: ClassVar[bool] = False
    """Paging channels (PagerDuty, Opsgenie) open and close alerts on the receiver's side:
    they act on trigger and resolve only, and get no reminders unless asked."""

    def __init__(self, channel_id: str, *, secrets: Sequence[str] = ()) -> None:
        self.id = channel_id
        self.redact = Redactor(secrets)

    @property
    @abstractmethod
    def target(self) -> str:
        """Where messages go, with every secret masked (for lists, logs and the audit log)."""

    @abstractmethod
    async def send(self, fields: Mapping[str, Any]) -> DeliveryResult:
        """Deliver one notification; the result says what the receiver answered."""

    async def send_test(self, fields: Mapping[str, Any]) -> DeliveryResult:
        """Deliver a test message (``messages.test_fields``). Paging channels open a test
        alert and close it at once, so the test reaches their receiver too."""
        if not self.paging:
            return await self.send(fields)
        opened = await self.send({**fields, "action": "trigger"})
        if opened.ok:
            closed = await self.send({**fields, "action": "resolve"})
            if not closed.ok:
                return closed
        return opened

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, target={self.target!r})"


@dataclass(slots=True)
class HttpRequest:
    """One request to a receiver."""

    url: str
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    params: dict[str, str] = field(default_factory=dict)


class Skip(Exception):
    """A channel has nothing to send for this notification (e.g. an info event to PagerDuty)."""


class HttpChannel(Channel):
    """A channel that makes one HTTP request per notification through a shared client."""

    def __init__(
        self,
        channel_id: str,
        client: httpx.AsyncClient,
        *,
        timeout_s: float = 10.0,
        secrets: Sequence[str] = (),
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(channel_id, secrets=secrets)
        self.client = client
        self.timeout_s = timeout_s
        self.clock = clock

    @abstractmethod
    def build(self, message: Message) -> HttpRequest:
        """The request that delivers ``message`` (raise ``Skip`` when there is none)."""

    def retry_after_from_body(self, response: httpx.Response) -> float | None:
        """Receivers that say when to retry in the body (Telegram, Discord) override this."""
        return None

    async def send(self, fields: Mapping[str, Any]) -> DeliveryResult:
        started = time.perf_counter()
        try:
            request = self.build(Message.from_fields(fields))
        except Skip as why:
            return DeliveryResult(True, None, 0.0, answer=f"skipped: {why}")
        except Exception as exc:  # a template or field problem: retrying cannot help
            return DeliveryResult(
                False,
                None,
                0.0,
                error=self.redact(f"cannot build the message: {exc}"),
                permanent=True,
            )
        try:
            # Merged by hand: httpx's params= would replace the query the URL already has
            # (Google Chat's key and token live there).
            url = httpx.URL(request.url)
            if request.params:
                url = url.copy_merge_params(request.params)
            response = await self.client.request(
                request.method,
                url,
                json=request.json,
                content=request.content,
                headers=request.headers,
                timeout=self.timeout_s,
            )
        except httpx.TimeoutException:
            return self._failed(started, f"no answer within {self.timeout_s:g}s (timeout)")
        except httpx.ConnectError as exc:
            return self._failed(started, f"cannot connect: {exc or 'connection refused'}")
        except httpx.HTTPError as exc:
            return self._failed(started, f"{type(exc).__name__}: {exc}")
        latency_ms = (time.perf_counter() - started) * 1000
        return self._judge(response, latency_ms)

    def _failed(self, started: float, error: str) -> DeliveryResult:
        latency_ms = (time.perf_counter() - started) * 1000
        logger.info("alert channel %s: delivery failed: %s", self.id, self.redact(error))
        return DeliveryResult(False, None, latency_ms, error=self.redact(error))

    def _judge(self, response: httpx.Response, latency_ms: float) -> DeliveryResult:
        code = response.status_code
        answer = self.redact(response.text[:ANSWER_CHARS])
        if 200 <= code < 300:
            return DeliveryResult(True, code, latency_ms, answer=answer)
        retry_after = None
        if code in (429, 503):
            retry_after = parse_retry_after(response.headers.get("retry-after"), self.clock())
            if retry_after is None:
                retry_after = self.retry_after_from_body(response)
        error = f"HTTP {code}" + (f": {answer[:200]}" if answer else "")
        logger.info("alert channel %s: receiver answered HTTP %s", self.id, code)
        return DeliveryResult(
            False,
            code,
            latency_ms,
            error=error,
            retry_after_s=retry_after,
            permanent=is_permanent_status(code),
            answer=answer,
        )


class UrlChannel(HttpChannel):
    """An HTTP channel whose whole URL is the secret (Slack, Discord, Teams, webhooks …)."""

    def __init__(
        self,
        channel_id: str,
        client: httpx.AsyncClient,
        *,
        url: str,
        timeout_s: float = 10.0,
        clock: Clock = utc_now,
        extra_secrets: Sequence[str] = (),
    ) -> None:
        super().__init__(
            channel_id,
            client,
            timeout_s=timeout_s,
            secrets=[*url_secrets(url), *extra_secrets],
            clock=clock,
        )
        self.url = url

    @property
    def target(self) -> str:
        return mask_url(self.url)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, target={self.target!r})"
