"""Each channel's request, as a real local receiver gets it, against the vendor's schema."""

from __future__ import annotations

import html
import json
import logging
from email.header import decode_header

import httpx
import pytest

from slamon_daemon.alerts.channels.discord import DiscordChannel
from slamon_daemon.alerts.channels.google_chat import GoogleChatChannel
from slamon_daemon.alerts.channels.mattermost import MattermostChannel
from slamon_daemon.alerts.channels.ntfy import NtfyChannel
from slamon_daemon.alerts.channels.opsgenie import OpsgenieChannel
from slamon_daemon.alerts.channels.pagerduty import PagerDutyChannel
from slamon_daemon.alerts.channels.slack import SlackChannel
from slamon_daemon.alerts.channels.teams import CARD_CONTENT_TYPE, TeamsChannel
from slamon_daemon.alerts.channels.telegram import TelegramChannel
from slamon_daemon.alerts.channels.webhook import WebhookChannel

from .conftest import make_fields, resolve_fields
from .receivers import Receiver, answer

SLACK_TOKEN = "T0AAA/B0BBB/XyZsecretSlackToken"


async def test_slack_blocks(receiver: Receiver, client: httpx.AsyncClient) -> None:
    ch = SlackChannel("ops", client, url=receiver.url(f"/services/{SLACK_TOKEN}"))
    result = await ch.send(make_fields(title="a <b> & c"))
    assert result.ok and result.code == 200 and result.answer == "ok"
    body = receiver.last_json()
    assert receiver.last.method == "POST"
    assert receiver.last.headers["content-type"] == "application/json"
    assert "a <b> & c" in body["text"]  # the notification fallback
    header, section, context = body["blocks"]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text"
    assert header["text"]["text"].startswith("🔴 a <b> & c")
    assert len(header["text"]["text"]) <= 150
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert "core-db down since" in section["text"]["text"]
    assert context["type"] == "context" and context["elements"][0]["type"] == "mrkdwn"
    assert "critical · down" in context["elements"][0]["text"]


async def test_slack_mrkdwn_is_escaped(receiver: Receiver, client: httpx.AsyncClient) -> None:
    ch = SlackChannel("ops", client, url=receiver.url("/services/x/y"))
    await ch.send(make_fields(text="<!channel> & <http://evil|click>"))
    section = receiver.last_json()["blocks"][1]["text"]["text"]
    assert section == "&lt;!channel&gt; &amp; &lt;http://evil|click&gt;"


async def test_slack_long_header_is_clipped(receiver: Receiver, client: httpx.AsyncClient) -> None:
    ch = SlackChannel("ops", client, url=receiver.url("/services/x/y"))
    await ch.send(make_fields(title="x" * 400))
    header = receiver.last_json()["blocks"][0]["text"]["text"]
    assert len(header) == 150 and header.endswith("…")


async def test_discord_content_and_embed(receiver: Receiver, client: httpx.AsyncClient) -> None:
    ch = DiscordChannel("dc", client, url=receiver.url("/api/webhooks/123/tok"))
    result = await ch.send(make_fields())
    assert result.ok
    body = receiver.last_json()
    assert body["content"].startswith("🔴 core-db down")
    assert body["allowed_mentions"] == {"parse": []}  # "@everyone" in a name pings no one
    (embed,) = body["embeds"]
    assert embed["title"].startswith("core-db down")
    assert "Dependent services affected" in embed["description"]
    assert embed["color"] == 0xD93F0B
    assert embed["timestamp"] == "2026-11-22T02:00:30+00:00"
    assert embed["fields"] == [{"name": "Core DB", "value": "read timed out", "inline": True}]


async def test_discord_resolve_is_green(receiver: Receiver, client: httpx.AsyncClient) -> None:
    ch = DiscordChannel("dc", client, url=receiver.url("/api/webhooks/123/tok"))
    await ch.send(resolve_fields())
    assert receiver.last_json()["embeds"][0]["color"] == 0x2DA44E
    assert receiver.last_json()["content"].startswith("✅")


async def test_teams_adaptive_card(receiver: Receiver, client: httpx.AsyncClient) -> None:
    receiver.default = answer(202, b"")
    ch = TeamsChannel(
        "teams", client, url=receiver.url("/workflows/abc/triggers/manual/run?sig=s1gnature")
    )
    result = await ch.send(make_fields())
    assert result.ok and result.code == 202
    body = receiver.last_json()
    assert body["type"] == "message"
    (att,) = body["attachments"]
    assert att["contentType"] == CARD_CONTENT_TYPE == "application/vnd.microsoft.card.adaptive"
    card = att["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    title, text, facts = card["body"]
    assert title["type"] == "TextBlock" and title["color"] == "Attention" and title["wrap"]
    assert text["type"] == "TextBlock" and "core-db down since" in text["text"]
    assert facts["type"] == "FactSet"
    assert {"title": "Severity", "value": "critical"} in facts["facts"]
    assert {"title": "Services", "value": "Core DB"} in facts["facts"]
    assert receiver.last_query()["sig"] == ["s1gnature"]


async def test_mattermost(receiver: Receiver, client: httpx.AsyncClient) -> None:
    ch = MattermostChannel(
        "mm", client, url=receiver.url("/hooks/xyz123"), channel="town-square", username="slamon"
    )
    assert (await ch.send(make_fields())).ok
    body = receiver.last_json()
    assert body["text"].startswith("#### 🔴 core-db down")
    assert body["channel"] == "town-square" and body["username"] == "slamon"
    (att,) = body["attachments"]
    assert att["color"] == "#d93f0b" and "core-db down since" in att["text"]
    assert att["fallback"].startswith("core-db down")


async def test_google_chat_threads_by_dedup_key(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    url = receiver.url("/v1/spaces/AAA/messages?key=k3y&token=t0ken")
    ch = GoogleChatChannel("gc", client, url=url)
    assert (await ch.send(make_fields())).ok
    q = receiver.last_query()
    assert q["key"] == ["k3y"] and q["token"] == ["t0ken"]  # the URL's own query survives
    assert q["threadKey"] == [make_fields()["dedup_key"]]
    assert q["messageReplyOption"] == ["REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"]
    assert receiver.last_json()["text"].startswith("🔴 *core-db down")
    await ch.send(resolve_fields())
    assert receiver.last_query()["threadKey"] == [make_fields()["dedup_key"]]


async def test_ntfy_headers(receiver: Receiver, client: httpx.AsyncClient) -> None:
    ch = NtfyChannel(
        "nt", client, topic="secret-topic-42", base_url=receiver.base_url, token="tk_abcdef"
    )
    assert (await ch.send(make_fields())).ok
    req = receiver.last
    assert receiver.last_path() == "/secret-topic-42"
    assert req.headers["title"].startswith("core-db down")
    assert req.headers["priority"] == "5"
    assert req.headers["tags"] == "rotating_light,slamon"
    assert req.headers["authorization"] == "Bearer tk_abcdef"
    assert req.body.decode().startswith("core-db down since")
    await ch.send(resolve_fields())
    assert receiver.last.headers["priority"] == "3"
    assert receiver.last.headers["tags"] == "white_check_mark,slamon"
    assert ch.target == f"{receiver.base_url}/***"


async def test_ntfy_non_ascii_title_is_rfc2047(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    ch = NtfyChannel("nt", client, topic="t0pic", base_url=receiver.base_url)
    await ch.send(make_fields(title="얼굴 비교 down", severity="warning"))
    raw = receiver.last.headers["title"]
    assert raw.startswith("=?utf-8?")
    text, charset = decode_header(raw)[0]
    assert isinstance(text, bytes) and text.decode(charset or "utf-8") == "얼굴 비교 down"
    assert receiver.last.headers["priority"] == "4"


async def test_telegram_send_message(receiver: Receiver, client: httpx.AsyncClient) -> None:
    receiver.default = answer(200, json.dumps({"ok": True, "result": {"message_id": 1}}))
    token = "123456:ABC-secretBotToken"
    ch = TelegramChannel(
        "tg", client, bot_token=token, chat_id="-1001234", base_url=receiver.base_url
    )
    result = await ch.send(make_fields(title="api <v2> & co"))
    assert result.ok
    assert receiver.last_path() == f"/bot{token}/sendMessage"
    body = receiver.last_json()
    assert body["chat_id"] == "-1001234"
    assert body["parse_mode"] == "HTML"
    assert body["text"].startswith("<b>🔴 api &lt;v2&gt; &amp; co</b>\n")
    assert token not in repr(ch) and token not in ch.target and token not in result.answer


async def test_telegram_long_text_is_cut_outside_markup(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    ch = TelegramChannel("tg", client, bot_token="1:abcd", chat_id="1", base_url=receiver.base_url)
    await ch.send(make_fields(text="<&>" * 3000))
    text = receiver.last_json()["text"]
    # Telegram counts characters after entity parsing: what the reader sees.
    visible = html.unescape(text.replace("<b>", "").replace("</b>", ""))
    assert len(visible) == 4096 and visible.endswith("…")
    assert text.endswith("…") and "<&>" not in text


async def test_pagerduty_trigger_then_resolve_same_dedup_key(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    receiver.default = answer(202, json.dumps({"status": "success", "message": "Event processed"}))
    ch = PagerDutyChannel(
        "pd", client, routing_key="R0UT1NGKEY0123456789", base_url=receiver.base_url
    )
    trig = await ch.send(make_fields())
    assert trig.ok and trig.code == 202
    assert receiver.last_path() == "/v2/enqueue"
    body = receiver.last_json()
    assert body["routing_key"] == "R0UT1NGKEY0123456789"
    assert body["event_action"] == "trigger"
    assert body["dedup_key"] == make_fields()["dedup_key"]
    payload = body["payload"]
    assert payload["summary"].startswith("core-db down")
    assert len(payload["summary"]) <= 1024
    assert payload["source"] == "core-db"
    assert payload["severity"] in ("critical", "error", "warning", "info")
    assert payload["severity"] == "critical"
    assert payload["timestamp"] == "2026-11-22T02:00:30+00:00"
    assert payload["custom_details"]["dependents"][0]["id"] == "api"
    res = await ch.send(resolve_fields())
    assert res.ok
    body2 = receiver.last_json()
    assert body2 == {
        "routing_key": "R0UT1NGKEY0123456789",
        "event_action": "resolve",
        "dedup_key": body["dedup_key"],
    }
    assert "R0UT1NGKEY" not in repr(ch) and "R0UT1NGKEY" not in ch.target


async def test_pagerduty_skips_info(receiver: Receiver, client: httpx.AsyncClient) -> None:
    ch = PagerDutyChannel("pd", client, routing_key="rk-rk-rk", base_url=receiver.base_url)
    result = await ch.send(make_fields(event="incident_updated", action="info"))
    assert result.ok and result.code is None and result.answer.startswith("skipped")
    assert receiver.requests == []


async def test_opsgenie_create_and_close(receiver: Receiver, client: httpx.AsyncClient) -> None:
    receiver.default = answer(202, json.dumps({"result": "Request will be processed"}))
    ch = OpsgenieChannel(
        "og",
        client,
        api_key="genie-key-0000",
        base_url=receiver.base_url,
        responders=[{"type": "team", "name": "ops"}],
    )
    assert (await ch.send(make_fields(title="t" * 200))).ok
    assert receiver.last_path() == "/v2/alerts"
    assert receiver.last.headers["authorization"] == "GenieKey genie-key-0000"
    body = receiver.last_json()
    assert len(body["message"]) == 130
    assert body["alias"] == make_fields()["dedup_key"]
    assert body["priority"] == "P1"
    assert body["responders"] == [{"type": "team", "name": "ops"}]
    assert "core-db down since" in body["description"]
    assert (await ch.send(resolve_fields())).ok
    from urllib.parse import quote

    assert receiver.last_path() == f"/v2/alerts/{quote(body['alias'], safe='')}/close"
    assert receiver.last_query()["identifierType"] == ["alias"]
    assert receiver.last_json()["source"] == "slamon"


async def test_webhook_default_body_is_every_field(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    ch = WebhookChannel(
        "wh", client, url=receiver.url("/hook"), headers={"Authorization": "Bearer s3cr3t"}
    )
    assert (await ch.send(make_fields())).ok
    assert receiver.last_json() == make_fields()
    assert receiver.last.headers["authorization"] == "Bearer s3cr3t"
    assert receiver.last.headers["content-type"] == "application/json"


async def test_webhook_template_is_rendered(receiver: Receiver, client: httpx.AsyncClient) -> None:
    template = (
        '{"summary": {{ title | tojson }}, "down": {{ services | map(attribute="id") | list | tojson }},'
        ' "n": {{ dependents | length }}, "sev": {{ severity | upper | tojson }}}'
    )
    ch = WebhookChannel("wh", client, url=receiver.url("/hook"), body_template=template)
    assert (await ch.send(make_fields(title='quote " and\nnewline'))).ok
    assert receiver.last_json() == {
        "summary": 'quote " and\nnewline',
        "down": ["core-db"],
        "n": 2,
        "sev": "CRITICAL",
    }


async def test_webhook_sandbox_refuses_unsafe_template(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    template = '{"x": {{ title.__class__.__mro__ | tojson }}}'
    ch = WebhookChannel("wh", client, url=receiver.url("/hook"), body_template=template)
    result = await ch.send(make_fields())
    assert not result.ok and result.permanent
    assert "cannot build the message" in (result.error or "")
    assert receiver.requests == []


@pytest.mark.parametrize("level", [logging.DEBUG])
async def test_no_secret_in_logs_reprs_or_results(
    receiver: Receiver, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, level: int
) -> None:
    caplog.set_level(level)
    receiver.default = answer(403, f"invalid_token {SLACK_TOKEN}")
    ch = SlackChannel("ops", client, url=receiver.url(f"/services/{SLACK_TOKEN}"))
    result = await ch.send(make_fields())
    assert not result.ok and result.permanent and result.code == 403
    seen = " ".join([repr(ch), ch.target, str(result), caplog.text])
    for part in (SLACK_TOKEN, "XyZsecretSlackToken", "B0BBB"):
        assert part not in seen
    assert ch.target == f"{receiver.base_url}/services/***"
    assert "***" in result.answer


async def test_test_send_reaches_every_http_channel_type(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    """Every chat channel posts the test message; a paging channel opens a test alert and
    closes it at once (the receiver's answer is what test-send shows)."""
    from datetime import UTC, datetime

    from slamon_daemon.alerts.messages import test_fields

    fields = test_fields("ops", "eu-1", datetime(2026, 11, 22, tzinfo=UTC), "kim")
    chats = [
        SlackChannel("a", client, url=receiver.url("/s/a/b")),
        DiscordChannel("b", client, url=receiver.url("/d/a/b")),
        TeamsChannel("c", client, url=receiver.url("/t/a/b")),
        MattermostChannel("d", client, url=receiver.url("/m/a")),
        GoogleChatChannel("e", client, url=receiver.url("/g/a?key=k")),
        NtfyChannel("f", client, topic="t0pic", base_url=receiver.base_url),
        TelegramChannel("g", client, bot_token="1:x", chat_id="1", base_url=receiver.base_url),
        WebhookChannel("h", client, url=receiver.url("/w")),
    ]
    for ch in chats:
        result = await ch.send_test(fields)
        assert result.ok and result.code == 200, (ch, result)
    assert len(receiver.requests) == len(chats)
    assert "slamon test message for channel ops" in receiver.requests[0].body.decode()
    pd = PagerDutyChannel("p", client, routing_key="rkey", base_url=receiver.base_url)
    receiver.requests.clear()
    receiver.default = answer(202, '{"status": "success"}')
    result = await pd.send_test(fields)
    assert result.ok and result.code == 202 and "success" in result.answer
    trigger, resolve = (json.loads(r.body) for r in receiver.requests)
    assert trigger["event_action"] == "trigger" and trigger["payload"]["severity"] == "info"
    assert resolve == {
        "routing_key": "rkey",
        "event_action": "resolve",
        "dedup_key": trigger["dedup_key"],
    }
