"""Things the alert methods can act on, for the tests that call every method (test_roles,
test_store_unavailable): an open alert, a silence, an admin channel."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from slamon_daemon.alerts.model import Rule, Severity
from slamon_daemon.alerts.persist import alert_row
from slamon_daemon.alerts.state import AlertState, AlertStatus, alert_id
from slamon_daemon.daemon import Daemon


async def seed_alerts(daemon: Daemon, service_id: str = "api") -> dict[str, Any]:
    """An open alert of ``service_id``, an active silence and two admin channels
    ("seeded" to test, "seeded-del" to delete) whose receiver refuses connections."""
    svc = daemon.alerting
    assert svc is not None
    for _ in range(200):
        if svc.loaded:
            break
        await asyncio.sleep(0.05)
    assert svc.loaded
    now = datetime.now(UTC)
    episode = now - timedelta(minutes=5)
    a = AlertState(
        alert_id(Rule.DOWN, service_id, episode),
        Rule.DOWN,
        service_id,
        service_id,
        episode,
        AlertStatus.FIRING,
        Severity.CRITICAL,
        opened_at=episode,
        fired_at=now,
    )
    await daemon.store.save_alert_changes([alert_row(a)], [], now)  # type: ignore[attr-defined]
    svc.engine.restore([a])
    silence = await svc.silence(["nothing-*"], [], "seeded", "test", 3600)
    for cid in ("seeded", "seeded-del"):
        await svc.save_channel(
            {"id": cid, "type": "webhook", "url": "http://127.0.0.1:9/hook"}, "test"
        )
    return {"alert_id": a.alert_id, "silence_id": silence["id"]}


def alert_write_params(seed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Valid params of every mutating alert method."""
    return {
        "alert.ack": {"id": seed["alert_id"]},
        "alert.silence": {"services": ["api"], "reason": "deploy", "duration": "1h"},
        "alert.unsilence": {"id": seed["silence_id"]},
        "alert.channel_test": {"id": "seeded"},
        "alert.channel_save": {
            "channel": {
                "id": "new-chan",
                "type": "slack",
                "url": "https://hooks.example.com/services/T0/B0/SECRET",
            }
        },
        "alert.channel_delete": {"id": "seeded-del"},
    }
