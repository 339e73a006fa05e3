"""Every channel type end to end (issue 11 points 4 and 8): one real slamond whose channels'
base URLs point at local receivers on 127.0.0.1 that check each vendor's payload shape, a
local SMTP server (aiosmtpd) for email, and receivers that answer 429 with Retry-After or
500 before they take a message.

* an outage and its recovery reach slack, discord, teams, mattermost, google_chat, ntfy,
  telegram, pagerduty (one dedup_key: the recovery resolves the same incident), opsgenie
  (create, then close by alias), a templated webhook and email, each in its vendor's shape;
* a 429 with ``Retry-After: 2`` is waited at least 2 s, then delivered;
* 500, 500, 200: delivered with backoff, every attempt in ``slamon alert deliveries``;
* a receiver that hangs (past the channel's timeout) or refuses connections gets the message
  once it answers.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller

from slamon_daemon.targets import Request, free_port
from tests.daemon.alerts.receivers import Receiver, answer, hang_answer
from tests.daemon.alerts.test_email import Mailbox

from .alert_world import AlertWorld, daemon_section, running, service_section
from .loop_thread import LoopThread
from .test_alerts import Switch, slamon, until

pytestmark = pytest.mark.asyncio(loop_scope="module")

SERVICES = ["api", "limited", "flaky", "hung", "refused"]
VENDORS = [
    "slack",
    "discord",
    "teams",
    "mattermost",
    "google_chat",
    "ntfy",
    "telegram",
    "pagerduty",
    "opsgenie",
    "webhook",
]
ROUTING_KEY = "R0UT1NGKEY0123456789"
BOT_TOKEN = "123456:ABC-secretBotToken"
TEMPLATE = """
{"summary": {{ title | tojson }},
 "status": {{ ("resolved" if action == "resolve" else "firing") | tojson }},
 "services": {{ services | map(attribute="id") | list | tojson }},
 "dedup": {{ dedup_key | tojson }}}
"""
RETRY_BASE_S = 1.0
"""[alerts] retry_base: the first retry comes after half of it at the earliest (jitter), the
second after half of twice it."""


class TimedReceiver(Receiver):
    """A receiver that also notes when each request came (monotonic seconds)."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    async def _behaviour(self, req: Request, w: asyncio.StreamWriter) -> None:
        self.times.append(time.monotonic())
        await super()._behaviour(req, w)

    def bodies(self) -> list[Any]:
        return [json.loads(r.body) for r in self.requests]


@dataclass
class World(AlertWorld):
    rx: dict[str, TimedReceiver]
    mailbox: Mailbox
    servers: LoopThread


def _channel(cid: str, rx: TimedReceiver) -> str:
    base = rx.base_url
    keys: dict[str, str] = {
        "slack": f'url = "{base}/services/T0/B0/XyZsecret"',
        "discord": f'url = "{base}/api/webhooks/123/tok"',
        "teams": f'url = "{base}/workflows/abc/triggers/manual/run?sig=s1gnature"',
        "mattermost": f'url = "{base}/hooks/xyz"\nchannel = "town-square"\nusername = "slamon"',
        "google_chat": f'url = "{base}/v1/spaces/AAA/messages?key=k3y&token=t0ken"',
        "ntfy": f'base_url = "{base}"\ntopic = "secret-topic-42"\ntoken = "tk_abcdef"',
        "telegram": f'base_url = "{base}"\nbot_token = "{BOT_TOKEN}"\nchat_id = "-1001234"',
        "pagerduty": f'base_url = "{base}"\nrouting_key = "{ROUTING_KEY}"',
        "opsgenie": (
            f'base_url = "{base}"\napi_key = "genie-key-0000"\n'
            'responders = [{type = "team", name = "ops"}]'
        ),
        "webhook": (
            f'url = "{base}/hook"\nheaders = {{Authorization = "Bearer s3cr3t"}}\n'
            f"body_template = '''{TEMPLATE}'''"
        ),
        "limited": f'type = "webhook"\nurl = "{base}/limited"\nservices = ["limited"]',
        "flaky": f'type = "webhook"\nurl = "{base}/flaky"\nservices = ["flaky"]',
        "hung": f'type = "webhook"\nurl = "{base}/hung"\nservices = ["hung"]\ntimeout = "1s"',
        "refused": f'type = "webhook"\nurl = "{base}/refused"\nservices = ["refused"]',
    }
    if cid in ("limited", "flaky", "hung", "refused"):
        return f'[[alert_channel]]\nid = "{cid}"\n{keys[cid]}\n'
    return (
        f'[[alert_channel]]\nid = "{cid.replace("_", "-")}"\ntype = "{cid}"\n'
        f'services = ["api"]\n{keys[cid]}\n'
    )


def _config(
    folder: Path, switches: dict[str, Switch], rx: dict[str, TimedReceiver], smtp_port: int
) -> Path:
    parts = [
        daemon_section(folder),
        '[alerts]\nslo_alerts = false\ngrouping_window = "1s"\nreminder_every = "off"\n'
        f'retry_base = "{RETRY_BASE_S}s"\nretry_max = "5s"\n',
        *(_channel(cid, r) for cid, r in rx.items()),
        '[[alert_channel]]\nid = "mail"\ntype = "email"\nservices = ["api"]\n'
        f'host = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\n'
        'sender = "slamon@example.com"\nto = ["oncall@example.com"]\n',
    ]
    parts += [service_section(sid, sw) for sid, sw in switches.items()]
    path = folder / "slamon.toml"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    folder = tmp_path_factory.mktemp("channels")
    switches = {sid: Switch() for sid in SERVICES}
    rx = {cid: TimedReceiver() for cid in [*VENDORS, "limited", "flaky", "hung", "refused"]}
    # What each vendor answers when it takes a message.
    rx["teams"].default = answer(202, b"")
    rx["telegram"].default = answer(200, json.dumps({"ok": True, "result": {"message_id": 1}}))
    rx["pagerduty"].default = answer(202, json.dumps({"status": "success"}))
    rx["opsgenie"].default = answer(202, json.dumps({"result": "Request will be processed"}))
    mailbox = Mailbox()
    smtp_port = free_port()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    servers = LoopThread()
    rx["refused"].target.port = free_port()  # nothing listens there until the test starts it
    try:
        async with running(
            folder, switches, rx.values(), lambda: _config(folder, switches, rx, smtp_port), servers
        ) as w:
            yield World(w.d, w.config, switches, rx, mailbox, servers)
        log = w.d.log_text()  # after the daemon stopped: its whole log
    finally:
        smtp.stop()
    for secret in (ROUTING_KEY, BOT_TOKEN, "genie-key-0000", "secret-topic-42", "s3cr3t"):
        assert secret not in log


def _query(req: Request) -> dict[str, list[str]]:
    return parse_qs(urlsplit(req.path).query)


def _path(req: Request) -> str:
    return urlsplit(req.path).path


async def test_every_channel_type_gets_the_outage_and_its_recovery_in_its_shape(
    world: World,
) -> None:
    rx = world.rx
    world.switches["api"].up = False
    await until(lambda: all(len(rx[c].requests) >= 1 for c in VENDORS), 60)
    await until(lambda: len(world.mailbox.messages) >= 1, 60)
    world.switches["api"].up = True
    await until(lambda: all(len(rx[c].requests) >= 2 for c in VENDORS), 60)
    await until(lambda: len(world.mailbox.messages) >= 2, 60)
    for c in VENDORS:
        assert len(rx[c].requests) == 2, c  # one trigger, one resolve: nothing twice
        assert all(r.method == "POST" for r in rx[c].requests), c

    # Slack: Block Kit, a fallback text.
    down, up = rx["slack"].bodies()
    header, section, context = down["blocks"]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text"
    assert header["text"]["text"].startswith("🔴 api down")
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert "api (api) down since" in section["text"]["text"]
    assert context["type"] == "context" and "critical · down" in context["elements"][0]["text"]
    assert "api down" in down["text"]
    assert up["blocks"][0]["text"]["text"].startswith("✅ api recovered")
    assert _path(rx["slack"].requests[0]) == "/services/T0/B0/XyZsecret"

    # Discord: content, one embed, no mentions; red then green.
    down, up = rx["discord"].bodies()
    assert down["content"].startswith("🔴 api down")
    assert down["allowed_mentions"] == {"parse": []}
    (embed,) = down["embeds"]
    assert embed["title"].startswith("api down") and embed["color"] == 0xD93F0B
    assert up["embeds"][0]["color"] == 0x2DA44E

    # Teams: an Adaptive Card 1.4 in a message; the Workflows URL's signature kept.
    down, up = rx["teams"].bodies()
    assert down["type"] == "message"
    (att,) = down["attachments"]
    assert att["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = att["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    title, text, facts = card["body"]
    assert title["type"] == "TextBlock" and title["text"].startswith("🔴 api down")
    assert facts["type"] == "FactSet"
    assert {"title": "Severity", "value": "critical"} in facts["facts"]
    assert _query(rx["teams"].requests[0])["sig"] == ["s1gnature"]

    # Mattermost: markdown text and a coloured attachment, to the configured channel.
    down, up = rx["mattermost"].bodies()
    assert down["text"].startswith("#### 🔴 api down")
    assert down["channel"] == "town-square" and down["username"] == "slamon"
    assert down["attachments"][0]["color"] == "#d93f0b"

    # Google Chat: text, the URL's key and token kept, one thread for the outage.
    down, up = rx["google_chat"].bodies()
    assert down["text"].startswith("🔴 *api down")
    q_down, q_up = (_query(r) for r in rx["google_chat"].requests)
    assert q_down["key"] == ["k3y"] and q_down["token"] == ["t0ken"]
    assert q_down["threadKey"] == q_up["threadKey"]
    assert q_down["messageReplyOption"] == ["REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"]

    # ntfy: the body is the text; title, priority and tags in headers; the token as Bearer.
    d_req, u_req = rx["ntfy"].requests
    assert _path(d_req) == "/secret-topic-42"
    assert d_req.headers["title"].startswith("api down")
    assert d_req.headers["priority"] == "5" and d_req.headers["tags"] == "rotating_light,slamon"
    assert d_req.headers["authorization"] == "Bearer tk_abcdef"
    assert d_req.body.decode().startswith("api (api) down since")
    assert u_req.headers["priority"] == "3"
    assert u_req.headers["tags"] == "white_check_mark,slamon"

    # Telegram: sendMessage with HTML to the chat.
    down, up = rx["telegram"].bodies()
    assert _path(rx["telegram"].requests[0]) == f"/bot{BOT_TOKEN}/sendMessage"
    assert down["chat_id"] == "-1001234" and down["parse_mode"] == "HTML"
    assert down["text"].startswith("<b>🔴 api down")

    # PagerDuty Events v2: a trigger, then a resolve of the same dedup_key.
    trig, res = rx["pagerduty"].bodies()
    assert [_path(r) for r in rx["pagerduty"].requests] == ["/v2/enqueue", "/v2/enqueue"]
    assert trig["routing_key"] == ROUTING_KEY and trig["event_action"] == "trigger"
    assert trig["payload"]["summary"].startswith("api down")
    assert trig["payload"]["source"] == "api" and trig["payload"]["severity"] == "critical"
    assert trig["dedup_key"]
    assert res == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": trig["dedup_key"],
    }

    # Opsgenie: create with an alias, then close by that alias.
    create, close = rx["opsgenie"].bodies()
    c_req, x_req = rx["opsgenie"].requests
    assert _path(c_req) == "/v2/alerts"
    assert c_req.headers["authorization"] == "GenieKey genie-key-0000"
    assert create["message"].startswith("api down") and create["priority"] == "P1"
    assert create["responders"] == [{"type": "team", "name": "ops"}]
    assert _path(x_req) == f"/v2/alerts/{quote(create['alias'], safe='')}/close"
    assert _query(x_req)["identifierType"] == ["alias"] and close["source"] == "slamon"
    assert create["alias"] == trig["dedup_key"]  # one key for the outage on every channel

    # The webhook: its template's JSON, its header.
    down, up = rx["webhook"].bodies()
    assert down == {
        "summary": "api down",
        "status": "firing",
        "services": ["api"],
        "dedup": trig["dedup_key"],
    }
    assert up["status"] == "resolved" and up["dedup"] == down["dedup"]
    assert up["summary"].startswith("api recovered")
    assert rx["webhook"].requests[0].headers["authorization"] == "Bearer s3cr3t"
    assert rx["webhook"].requests[0].headers["content-type"] == "application/json"

    # Email: plain text and HTML, one thread.
    m_down, m_up = world.mailbox.messages[:2]
    assert "api down" in str(m_down["Subject"]) and "api recovered" in str(m_up["Subject"])
    assert m_down["To"] == "oncall@example.com" and m_down["From"] == "slamon@example.com"
    kinds = [p.get_content_type() for p in m_down.walk() if not p.is_multipart()]
    assert kinds == ["text/plain", "text/html"]
    assert m_up["References"] == m_down["References"]

    channels = {c["id"]: c for c in await world.call("alert.channels")}
    assert channels["pagerduty"]["routing_key"] == "***"
    assert channels["telegram"]["bot_token"] == "***"


async def test_a_429_with_retry_after_is_waited_then_delivered(world: World) -> None:
    rx = world.rx["limited"]
    rx.queue(answer(429, "slow down", {"Retry-After": "2"}))
    world.switches["limited"].up = False
    await until(lambda: len(rx.requests) >= 2, 60)
    assert rx.times[1] - rx.times[0] >= 2.0  # not before the receiver said (a lower bound)
    first, second = rx.bodies()
    assert first["key"] == second["key"] and first["event"] == "down"
    await until(lambda: _delivered(world, "limited"), 60)
    log = (await world.call("alert.deliveries", {"channel": "limited"}))["deliveries"]
    assert [(x["code"], x["retry_after_s"]) for x in log] == [(429, 2.0), (200, None)]
    assert log[-1]["status"] == "delivered"
    world.switches["limited"].up = True


async def _delivered(world: World, channel: str) -> bool:
    log = (await world.call("alert.deliveries", {"channel": channel}))["deliveries"]
    return any(x["ok"] for x in log)


async def test_a_500_is_retried_with_backoff_and_every_attempt_recorded(world: World) -> None:
    rx = world.rx["flaky"]
    rx.queue(answer(500, "boom"), answer(500, "boom again"))
    world.switches["flaky"].up = False
    await until(lambda: len(rx.requests) >= 3, 60)
    await until(lambda: _delivered(world, "flaky"), 60)
    keys = {b["key"] for b in rx.bodies()}
    assert len(keys) == 1  # the same notification, tried three times
    gaps = [b - a for a, b in zip(rx.times, rx.times[1:], strict=False)]
    # Backoff with equal jitter: each wait at least half its delay (lower bounds only).
    assert gaps[0] >= RETRY_BASE_S / 2 and gaps[1] >= RETRY_BASE_S
    code, out, err = await asyncio.to_thread(
        slamon, world.config, "alert", "deliveries", "--channel", "flaky"
    )
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 3
    assert [line.split()[0] for line in lines] == ["FAIL", "FAIL", "ok"]  # failures first
    assert all(" 500 " in line for line in lines[:2]) and " 200 " in lines[2]
    assert all("flaky down" in line for line in lines)
    world.switches["flaky"].up = True


async def test_a_receiver_that_hangs_or_refuses_gets_the_message_once_it_answers(
    world: World,
) -> None:
    hung, refused = world.rx["hung"], world.rx["refused"]
    hung.queue(hang_answer())  # the first attempt gets no answer within the 1 s timeout
    world.switches["hung"].up = False
    world.switches["refused"].up = False

    async def failed_once(channel: str) -> bool:
        log = (await world.call("alert.deliveries", {"channel": channel}))["deliveries"]
        return any(not x["ok"] for x in log)

    await until(lambda: failed_once("refused"), 60)
    await world.servers.run(refused.target.start())  # the receiver comes up on its port
    await until(lambda: _delivered(world, "refused"), 60)
    await until(lambda: _delivered(world, "hung"), 60)
    for channel, error in [
        ("hung", "no answer within 1s (timeout)"),
        ("refused", "cannot connect"),
    ]:
        log = (await world.call("alert.deliveries", {"channel": channel}))["deliveries"]
        assert not log[0]["ok"] and log[0]["code"] is None and error in log[0]["error"]
        assert log[-1]["ok"] and log[-1]["code"] == 200 and log[-1]["event"] == "down"
    assert [json.loads(r.body)["event"] for r in refused.requests] == ["down"]
    assert len({json.loads(r.body)["key"] for r in hung.requests}) == 1
    world.switches["hung"].up = True
    world.switches["refused"].up = True
