"""The engine on outages: confirm, group, announce, recover, remind, acknowledge, restart."""

from __future__ import annotations

import json

import pytest

from slamon_daemon.alerts.engine import DownService, UnknownAlert
from slamon_daemon.alerts.fields import FIELD_NAMES, render_json
from slamon_daemon.alerts.model import Action, Event, Severity
from slamon_daemon.alerts.state import AlertState, AlertStatus

from .engine_support import CHANNELS, Harness, svc

SERVICES = [svc("api"), svc("web"), svc("db")]


def test_one_outage_is_announced_when_its_window_closes() -> None:
    h = Harness(services=SERVICES)
    h.down("api", 100, cause="timeout", error="read timed out")
    (state,) = h.states.values()
    assert (
        state.status is AlertStatus.PENDING
        and state.alert_id == "down|api|2026-11-22T02:00:40+00:00"
    )
    assert h.tick(129) == []  # the 30 s window is still open
    chat, pager = h.tick(130)
    assert (chat.channel_id, pager.channel_id) == ("chat", "pager")
    for n in (chat, pager):
        assert (
            n.event is Event.DOWN and n.action is Action.TRIGGER and n.severity is Severity.CRITICAL
        )
        assert n.dedup_key == state.alert_id  # one outage, one dedup key
        assert n.key == f"{state.alert_id}|trigger|{n.channel_id}"
        assert set(FIELD_NAMES) <= set(n.fields)
        assert n.fields["title"] == "api down"
        assert (
            "Api (api) down since 2026-11-22 02:00:40 UTC (timeout: read timed out)"
            in n.fields["text"]
        )
        assert n.fields["node"] == "eu-1" and n.fields["channel"] == n.channel_id
    json.dumps(chat.fields)  # the outbox stores it as JSON
    assert h.states[state.alert_id].status is AlertStatus.FIRING
    assert h.states[state.alert_id].sent == {"chat": state.alert_id, "pager": state.alert_id}
    assert h.tick(200) == []  # announced once


def test_recovery_resolves_the_same_dedup_key() -> None:
    h = Harness(services=SERVICES)
    h.down("api", 100)
    h.tick(130)
    assert h.up("api", 400, episode=40) == []  # recoveries are grouped too
    chat, pager = h.tick(430)
    assert pager.action is Action.RESOLVE and pager.dedup_key == h.to("pager")[0].dedup_key
    assert pager.key.endswith("|resolve|pager")
    assert chat.event is Event.RECOVERY and chat.fields["title"] == "api recovered after 6 minutes"
    assert h.states[pager.alert_id or ""].status is AlertStatus.RESOLVED
    assert h.engine.alerts == {}  # resolved alerts leave memory (the store keeps them)


def test_send_recovery_false_opts_out() -> None:
    h = Harness(CHANNELS + "send_recovery = false\n", services=SERVICES)
    h.down("api", 100)
    h.tick(130)
    h.up("api", 400, episode=40)
    (chat,) = h.tick(430)
    assert chat.channel_id == "chat"


def test_outage_shorter_than_the_window_is_still_announced_then_resolved() -> None:
    h = Harness(services=SERVICES)
    h.down("api", 100)
    h.up("api", 110, episode=40)
    sent = h.tick(130)
    assert [n.action for n in sent] == [Action.TRIGGER, Action.TRIGGER]
    assert "recovered at 2026-11-22 02:01:50 UTC" in sent[0].fields["text"]
    assert [n.action for n in h.tick(160)] == [Action.RESOLVE, Action.RESOLVE]


def test_reminders_until_acknowledged_and_never_on_paging_channels() -> None:
    h = Harness(services=SERVICES)
    h.down("api", 100)
    h.tick(130)
    assert h.tick(130 + 3599) == []
    (r1,) = h.tick(130 + 3600)
    assert r1.channel_id == "chat" and r1.event is Event.REMINDER and r1.fields["reminder"] == 1
    assert r1.fields["title"].startswith("Still down: api for 1 hour")
    assert r1.dedup_key == h.to("chat")[0].dedup_key
    assert h.tick(130 + 3601) == []
    (r2,) = h.tick(130 + 7200)
    assert r2.key != r1.key and r2.fields["reminder"] == 2
    aid = r1.alert_id or ""
    h.take(h.engine.acknowledge(aid, "kim", h.at(8000)))
    assert h.states[aid].acked_by == "kim" and h.states[aid].acked_at == h.at(8000)
    assert h.tick(130 + 3 * 3600) == []  # acknowledged: no more reminders
    with pytest.raises(UnknownAlert):
        h.engine.acknowledge("down|nope|x", "kim", h.now)


def test_reminder_interval_per_channel_and_off() -> None:
    toml = CHANNELS + 'reminder_every = "10m"\n' + '[alerts]\nreminder_every = "off"\n'
    h = Harness(toml, services=SERVICES)
    h.down("api", 100)
    h.tick(130)
    (r,) = h.tick(130 + 600)
    assert r.channel_id == "pager"  # the paging channel asked for reminders; chat's are off


def test_storm_makes_one_message_per_channel() -> None:
    services = [svc(f"s{i:02d}") for i in range(50)]
    h = Harness(services=services)
    for i in range(50):
        h.down(f"s{i:02d}", 100 + i * 0.5)  # all within 25 s
    chat, pager = h.tick(130)
    assert chat.fields["title"].startswith("50 services down: s00, s01,")
    assert chat.fields["title"].endswith("and 40 more")
    assert len(chat.fields["services"]) == 50
    assert pager.dedup_key == "down|group|2026-11-22T02:01:40+00:00|pager"
    assert len(h.sent) == 2
    # 48 recover, 2 stay down: chat hears it (with who is still down); PagerDuty waits.
    for i in range(48):
        h.up(f"s{i:02d}", 600, episode=40 + i * 0.5)
    (rec,) = h.tick(630)
    assert rec.channel_id == "chat" and rec.fields["title"].startswith("48 services recovered")
    assert [s["id"] for s in rec.fields["still_down"]] == ["s48", "s49"]
    h.up("s48", 700, episode=40 + 48 * 0.5)
    h.up("s49", 700, episode=40 + 49 * 0.5)
    chat2, pager2 = h.tick(730)
    assert pager2.action is Action.RESOLVE and pager2.dedup_key == pager.dedup_key
    assert chat2.fields["still_down"] == []


def test_a_service_after_the_window_starts_a_new_group() -> None:
    h = Harness(services=SERVICES)
    h.down("api", 100)
    h.down("web", 131)
    first = h.tick(131)
    assert [n.fields["title"] for n in first] == ["api down", "api down"]
    second = h.tick(161)
    assert [n.fields["title"] for n in second] == ["web down", "web down"]


def test_routing_by_glob_tags_severity_and_service_override() -> None:
    toml = """
[[alert_channel]]
id = "payments"
type = "discord"
url = "https://d.example/api/webhooks/1/t"
services = ["pay-*"]

[[alert_channel]]
id = "prod"
type = "discord"
url = "https://d.example/api/webhooks/2/t"
tags = ["prod"]
min_severity = "critical"

[[alert_channel]]
id = "all"
type = "discord"
url = "https://d.example/api/webhooks/3/t"
rules = ["incident"]
"""
    services = [
        svc("pay-api", tags=frozenset({"prod"})),
        svc("search", tags=frozenset({"prod"}), severity=Severity.WARNING),
        svc("batch", channels=("payments",)),
    ]
    h = Harness(toml, services=services)
    for i, sid in enumerate(["pay-api", "search", "batch"]):
        h.down(sid, 100 + i)
    sent = h.tick(130)
    by_channel = {n.channel_id: [s["id"] for s in n.fields["services"]] for n in sent}
    assert by_channel == {"payments": ["pay-api", "batch"], "prod": ["pay-api"]}


def test_restart_neither_refires_nor_forgets() -> None:
    h = Harness(services=SERVICES)
    h.down("api", 100)
    h.tick(130)
    h.down("web", 200)  # pending when the daemon dies
    stored = [AlertState.from_dict(json.loads(json.dumps(s.to_dict()))) for s in h.states.values()]
    before = {n.key for n in h.sent}

    h2 = Harness(services=SERVICES)
    h2.engine.restore(stored)
    h2.now = h.at(210)
    h2.take(
        h2.engine.reconcile(h2.now, {"api": DownService(h.at(40)), "web": DownService(h.at(140))})
    )
    assert h2.sent == []  # nothing is announced again
    sent = h2.tick(230)  # web's window (opened at 200) closes as it would have
    assert [n.key for n in sent] == [
        "down|web|2026-11-22T02:02:20+00:00|trigger|chat",
        "down|web|2026-11-22T02:02:20+00:00|trigger|pager",
    ]
    assert not before & {n.key for n in sent}
    h2.up("api", 300, episode=40)  # api's alert was remembered: its recovery resolves it
    pager = [n for n in h2.tick(330) if n.channel_id == "pager"]
    assert [n.dedup_key for n in pager] == ["down|api|2026-11-22T02:00:40+00:00"]


def test_reconcile_resolves_what_recovered_while_the_daemon_was_down() -> None:
    h = Harness(services=SERVICES)
    h.down("api", 100)
    h.tick(130)
    h2 = Harness(services=SERVICES)
    h2.engine.restore(h.states.values())
    h2.take(h2.engine.reconcile(h.at(1000), {}))
    sent = h2.tick(1030)
    assert [(n.channel_id, n.action) for n in sent] == [
        ("chat", Action.RESOLVE),
        ("pager", Action.RESOLVE),
    ]


def test_editing_a_channel_does_not_orphan_state() -> None:
    h = Harness(services=SERVICES)
    h.down("api", 100)
    h.tick(130)
    edited = CHANNELS.replace("services/T/B/x", "services/T/B/new-token").replace('"rk"', '"rk2"')
    settings = Harness(edited).settings
    h.engine.configure(settings.alerts, settings.alert_channel, SERVICES)
    h.up("api", 300, episode=40)
    assert [n.channel_id for n in h.tick(330)] == ["chat", "pager"]


def test_disabled_alerts_keep_state_but_send_nothing() -> None:
    h = Harness("[alerts]\nenabled = false\n" + CHANNELS, services=SERVICES)
    h.down("api", 100)
    assert h.tick(130) == []
    assert next(iter(h.states.values())).status is AlertStatus.FIRING


def test_webhook_template_renders_engine_fields() -> None:
    h = Harness(services=SERVICES)
    h.down("api", 100)
    chat, _ = h.tick(130)
    body = render_json(
        '{"t": {{ title | tojson }}, "ids": {{ services | map(attribute="id") | list | tojson }}}',
        chat.fields,
    )
    assert body == {"t": "api down", "ids": ["api"]}
