"""How channels report receivers that fail: 5xx, 429 with Retry-After, 4xx, hangs, refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from slamon_daemon.alerts.channels.base import MAX_RETRY_AFTER_S, parse_retry_after
from slamon_daemon.alerts.channels.discord import DiscordChannel
from slamon_daemon.alerts.channels.pagerduty import PagerDutyChannel
from slamon_daemon.alerts.channels.slack import SlackChannel
from slamon_daemon.alerts.channels.telegram import TelegramChannel
from slamon_daemon.targets import free_port

from .conftest import make_fields
from .receivers import Receiver, answer, hang_answer

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


def slack(receiver: Receiver, client: httpx.AsyncClient, **kw: float) -> SlackChannel:
    return SlackChannel(
        "ops", client, url=receiver.url("/services/T/B/secrettoken"), clock=lambda: NOW, **kw
    )


async def test_500_is_retryable(receiver: Receiver, client: httpx.AsyncClient) -> None:
    receiver.queue(answer(500, "boom"))
    r = await slack(receiver, client).send(make_fields())
    assert (r.ok, r.code, r.permanent, r.retry_after_s) == (False, 500, False, None)
    assert r.error == "HTTP 500: boom"
    assert r.latency_ms > 0


async def test_429_with_retry_after_seconds(receiver: Receiver, client: httpx.AsyncClient) -> None:
    receiver.queue(answer(429, "rate limited", {"Retry-After": "7"}))
    r = await slack(receiver, client).send(make_fields())
    assert (r.ok, r.code, r.permanent, r.retry_after_s) == (False, 429, False, 7.0)


async def test_429_with_retry_after_http_date(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    when = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    receiver.queue(answer(429, "", {"Retry-After": when}))
    r = await slack(receiver, client).send(make_fields())
    assert r.retry_after_s == 90.0 and not r.permanent


async def test_503_retry_after(receiver: Receiver, client: httpx.AsyncClient) -> None:
    receiver.queue(answer(503, "maintenance", {"Retry-After": "120"}))
    r = await slack(receiver, client).send(make_fields())
    assert (r.code, r.retry_after_s, r.permanent) == (503, 120.0, False)


async def test_retry_after_ignored_on_other_statuses(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    receiver.queue(answer(500, "", {"Retry-After": "30"}))
    r = await slack(receiver, client).send(make_fields())
    assert r.retry_after_s is None


@pytest.mark.parametrize(
    ("code", "permanent"),
    [(400, True), (403, True), (404, True), (410, True), (408, False), (429, False), (502, False)],
)
async def test_which_statuses_are_permanent(
    receiver: Receiver, client: httpx.AsyncClient, code: int, permanent: bool
) -> None:
    receiver.queue(answer(code, "no"))
    r = await slack(receiver, client).send(make_fields())
    assert not r.ok and r.code == code and r.permanent is permanent


async def test_hanging_receiver_times_out(receiver: Receiver, client: httpx.AsyncClient) -> None:
    receiver.queue(hang_answer())
    r = await slack(receiver, client, timeout_s=0.3).send(make_fields())
    assert not r.ok and not r.permanent and r.code is None
    assert "timeout" in (r.error or "")


async def test_refused_connection_is_retryable(client: httpx.AsyncClient) -> None:
    port = free_port()
    ch = SlackChannel("ops", client, url=f"http://127.0.0.1:{port}/services/T/B/secrettoken")
    r = await ch.send(make_fields())
    assert not r.ok and not r.permanent and r.code is None
    assert (r.error or "").startswith("cannot connect")
    assert "secrettoken" not in (r.error or "")


async def test_telegram_retry_after_in_body(receiver: Receiver, client: httpx.AsyncClient) -> None:
    body = {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 5",
        "parameters": {"retry_after": 5},
    }
    receiver.queue(answer(429, json.dumps(body)))
    ch = TelegramChannel("tg", client, bot_token="1:tok", chat_id="9", base_url=receiver.base_url)
    r = await ch.send(make_fields())
    assert r.retry_after_s == 5.0 and not r.permanent


async def test_telegram_chat_not_found_is_permanent(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    receiver.queue(
        answer(400, json.dumps({"ok": False, "description": "Bad Request: chat not found"}))
    )
    ch = TelegramChannel("tg", client, bot_token="1:tok", chat_id="9", base_url=receiver.base_url)
    r = await ch.send(make_fields())
    assert r.permanent and "chat not found" in (r.error or "")


async def test_discord_retry_after_in_body(receiver: Receiver, client: httpx.AsyncClient) -> None:
    receiver.queue(
        answer(429, json.dumps({"message": "You are being rate limited.", "retry_after": 1.5}))
    )
    ch = DiscordChannel("dc", client, url=receiver.url("/api/webhooks/1/t0k"))
    r = await ch.send(make_fields())
    assert r.retry_after_s == 1.5


async def test_pagerduty_bad_request_is_permanent(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    receiver.queue(
        answer(
            400, json.dumps({"status": "invalid event", "errors": ["routing_key R0UTE invalid"]})
        )
    )
    ch = PagerDutyChannel("pd", client, routing_key="R0UTE", base_url=receiver.base_url)
    r = await ch.send(make_fields())
    assert r.permanent and r.code == 400
    assert "R0UTE" not in (r.error or "") + r.answer  # the receiver echoed the key: masked


def test_parse_retry_after() -> None:
    assert parse_retry_after("0", NOW) == 0.0
    assert parse_retry_after(" 12 ", NOW) == 12.0
    assert parse_retry_after("2.5", NOW) == 2.5
    assert parse_retry_after("-4", NOW) == 0.0
    assert parse_retry_after(format_datetime(NOW - timedelta(minutes=1), usegmt=True), NOW) == 0.0
    assert parse_retry_after("Sun, 22 Nov 2026 02:01:00 GMT", NOW) == 60.0
    assert parse_retry_after("99999999", NOW) == MAX_RETRY_AFTER_S
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after("", NOW) is None
    assert parse_retry_after(None, NOW) is None
    assert parse_retry_after("nan", NOW) is None
