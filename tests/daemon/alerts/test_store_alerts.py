"""The alert tables through the store, on both backends: alert state with its outbox in one
transaction, acknowledgements, silences, channels with sealed secrets, the delivery log."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from slamon_daemon.alerts.config_check import load_alert_settings
from slamon_daemon.alerts.model import Action, DeliveryResult, Event, Notification, Rule, Severity
from slamon_daemon.alerts.outbox import DeliveryAttempt
from slamon_daemon.alerts.persist import StoreOutbox, alert_row, alert_state, outbox_row
from slamon_daemon.alerts.records import from_record, to_record
from slamon_daemon.alerts.secretbox import SecretBox, load_or_create_key
from slamon_daemon.alerts.state import AlertState, AlertStatus, alert_id
from slamon_daemon.store.alerts import ChannelRow

T0 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


def _alert() -> AlertState:
    return AlertState(
        alert_id(Rule.DOWN, "core-db", T0),
        Rule.DOWN,
        "core-db",
        "core-db",
        T0,
        AlertStatus.FIRING,
        Severity.CRITICAL,
        opened_at=T0,
        fired_at=T0 + timedelta(seconds=30),
        sent={"chat": "down|core-db|x"},
        details={"cause": "timeout", "error": None},
    )


def _note(key: str) -> Notification:
    return Notification(
        key, "chat", None, Event.DOWN, Action.TRIGGER, Severity.CRITICAL, key, {"title": key}, T0
    )


async def test_alert_state_and_outbox_are_saved_together_and_restored(store: Any) -> None:
    a = _alert()
    n = await store.save_alert_changes([alert_row(a)], [outbox_row(_note("k1"))], T0)
    assert n == 1
    # The same changes again (a replay after a restart) enqueue nothing new.
    assert await store.save_alert_changes([alert_row(a)], [outbox_row(_note("k1"))], T0) == 0
    (back,) = [alert_state(r) for r in await store.open_alerts()]
    assert back == a
    a.acked_by, a.acked_at = "alice", T0 + timedelta(minutes=1)
    await store.save_alert_changes([alert_row(a)], [], T0)
    (back,) = await store.open_alerts()
    assert (back.acked_by, back.acked_at) == ("alice", a.acked_at)
    a.status, a.resolved_at = AlertStatus.RESOLVED, T0 + timedelta(minutes=5)
    await store.save_alert_changes([alert_row(a)], [], a.resolved_at)
    assert await store.open_alerts() == []
    (recent,) = await store.recent_alerts(T0)
    assert recent.status == "resolved" and recent.acked_by == "alice"


async def test_silences(store: Any) -> None:
    s = await store.create_silence(
        ["api-*"], ["down"], "deploy", "bob", T0, T0 + timedelta(hours=1)
    )
    assert s.id > 0 and s.services == ["api-*"] and s.rules == ["down"]
    assert [x.id for x in await store.list_silences(since=T0)] == [s.id]
    gone = await store.cancel_silence(s.id, "carol", T0 + timedelta(minutes=1))
    assert gone is not None and gone.cancelled_by == "carol"
    assert await store.list_silences(since=T0) == []
    assert await store.cancel_silence(999, "carol", T0) is None


async def test_channels_keep_secrets_sealed(store: Any, tmp_path: Path) -> None:
    box = SecretBox(load_or_create_key(tmp_path / "keys" / "alerts.key"))
    cfg = load_alert_settings(
        {
            "alert_channel": [
                {"id": "ops", "type": "slack", "url": "https://h.example/services/SECRET"}
            ]
        },
        "t",
    ).alert_channel[0]
    config_json, secrets_json = to_record(cfg, box)
    row = ChannelRow("ops", "slack", "ops", "admin", config_json, secrets_json, True, "alice")
    await store.save_channel_row(row, T0)
    (stored,) = await store.list_channel_rows()
    assert "SECRET" not in stored.config + stored.secrets
    assert from_record(stored.config, stored.secrets, box) == cfg
    assert await store.sync_config_channels([], T0) == []  # admin channels stay
    assert await store.delete_channel_row("ops") is True
    assert await store.list_channel_rows() == []


async def test_delivery_log_and_health(store: Any) -> None:
    ob = StoreOutbox(store.outbox)
    await ob.enqueue([_note("a"), _note("b")])
    a, b = await ob.claim_due("w", T0, 60, 10, 10)
    await ob.record_attempt(
        DeliveryAttempt(a.id, "chat", T0, DeliveryResult(False, 500, 3.0, "HTTP 500"))
    )
    await ob.schedule_retry(a.id, T0 + timedelta(seconds=5), "HTTP 500")
    await ob.record_attempt(
        DeliveryAttempt(a.id, "chat", T0 + timedelta(seconds=5), DeliveryResult(True, 200, 2.0))
    )
    await ob.mark_delivered(a.id, T0 + timedelta(seconds=5))
    log = await store.outbox.deliveries()
    assert [(d.ok, d.code, d.title) for d in log] == [(True, 200, "a"), (False, 500, "a")]
    assert [d.code for d in await store.outbox.deliveries(failures_only=True)] == [500]
    health = (await store.outbox.health())["chat"]
    assert (health.pending, health.delivered, health.last_attempt_ok) == (1, 1, True)
    assert json.loads(json.dumps(b.payload)) == {"title": "b"}


def test_the_audit_log_masks_a_channels_secrets() -> None:
    from slamon_daemon.audit import audit_changes

    changes = audit_changes(
        {"channel": {"id": "ops", "type": "telegram", "bot_token": "123:SECRET", "chat_id": "42"}}
    )
    assert changes == {
        "channel": {"id": "ops", "type": "telegram", "bot_token": "***", "chat_id": "42"}
    }


async def test_leases_of_an_earlier_process_of_this_node_are_released(store: Any) -> None:
    """A slamond killed mid-send leaves its items leased; the next one of the same node
    ends those leases at once (not those of another node, nor its own)."""
    ob = StoreOutbox(store.outbox)
    leases = {"a": "eu-1:100", "b": "eu-10:200", "c": "eu-1:300"}  # channel -> worker
    await ob.enqueue([replace(_note(f"k-{c}"), channel_id=c) for c in leases])
    for channel, worker in leases.items():
        (item,) = await ob.claim_due(worker, T0, 300, 1, 1)
        assert item.channel_id == channel
    assert await ob.claim_due("eu-1:300", T0, 300, 10, 10) == []  # all leased
    assert await store.outbox.release_earlier_leases("eu-1:", "eu-1:300") == 1
    (again,) = await ob.claim_due("eu-1:300", T0, 300, 10, 10)
    assert again.key == "k-a"  # the dead process's; eu-10's and its own stay leased
    assert await store.outbox.release_earlier_leases("eu-1:", "eu-1:300") == 0
