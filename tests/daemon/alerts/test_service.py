"""The alerting service over a real SQLite store: burn-rate ledgers seeded after a start, and
a restart that neither re-fires nor forgets (the store holds what the engine knew)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from slamon_daemon.alerts.burnrate import evaluate
from slamon_daemon.alerts.service import AlertingService
from slamon_daemon.models import Check, Outcome
from slamon_daemon.store import SqliteStore

from .service_kit import Clock, alerting_service, settings_of


async def _service(tmp_path: Path, store: SqliteStore, clock: Clock) -> AlertingService:
    return alerting_service(tmp_path, store, clock)


async def test_burn_rates_are_seeded_from_the_store_after_a_start(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    store = SqliteStore(tmp_path / "db.sqlite")
    await store.open()
    try:
        await store.migrate()
        # The last 2 hours: every minute a check, all failed (a hard burn).
        checks = [
            Check("api", now - timedelta(minutes=m), 5.0, Outcome.DOWN) for m in range(1, 121)
        ]
        await store.sync_services(settings_of(tmp_path).services)
        await store.write_batch(checks)
        svc = await _service(tmp_path, store, Clock(now))
        await svc._load()
        ledger = svc.engine.ledgers["api"]
        verdicts = {v.kind: v for v in evaluate(ledger, 99.9, now)}
        assert verdicts["page"].firing  # 100 % errors over 1 h and 5 min: 1000x
        assert verdicts["page"].long_rate is not None and verdicts["page"].long_rate > 900
    finally:
        await store.close()


async def test_a_restart_restores_open_alerts_and_sends_nothing_again(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    store = SqliteStore(tmp_path / "db.sqlite")
    await store.open()
    try:
        await store.migrate()
        clock = Clock(now)
        svc = await _service(tmp_path, store, clock)
        await svc._load()
        svc._take(svc.engine.service_down("api", now - timedelta(minutes=2), now))
        clock.t = now + timedelta(seconds=31)
        svc._take(svc.engine.tick(clock.t))
        await svc.flush()
        assert await store.outbox.pending_count() == 1
        again = await _service(tmp_path, store, clock)
        await again._load()  # restored; the live state holds nothing down: it recovers
        (restored,) = again.engine.alerts.values()
        assert restored.sent == {"ops": restored.alert_id}  # what was sent is known
        await again.flush()
        clock.t += timedelta(seconds=31)
        again._take(again.engine.tick(clock.t))
        await again.flush()
        # The trigger was not enqueued twice; the recovery was enqueued once.
        assert await store.outbox.pending_count() == 2
        rows = await store.outbox.claim_due("w", clock.t, 60, 10, 10)
        assert [r.payload["event"] for r in rows] == ["down", "recovery"]
    finally:
        await store.close()


async def test_a_run_restarted_after_a_failure_still_delivers(tmp_path: Path) -> None:
    """The daemon restarts a failed run (``_keep_running``): the restarted run must not
    deliver on an HTTP client the failed one closed."""
    import asyncio

    from .receivers import Receiver

    now = datetime.now(UTC)
    store = SqliteStore(tmp_path / "db.sqlite")
    await store.open()
    async with Receiver() as rx:
        try:
            await store.migrate()
            settings = settings_of(
                tmp_path,
                hook=rx.url("/hook"),
                alerts='\n[alerts]\ngrouping_window = "1s"\nslo_alerts = false\n',
            )
            clock = Clock(now)
            failures = [RuntimeError("a bug in a run")]

            async def ready() -> bool:
                if failures:
                    raise failures.pop()
                return True

            svc = alerting_service(tmp_path, store, clock, settings, ready)
            stop = asyncio.Event()
            try:
                await svc.run(stop)  # the first run fails, as the daemon would see it
            except RuntimeError:
                pass
            else:
                raise AssertionError("the first run should have failed")
            again = asyncio.create_task(svc.run(stop))  # what _keep_running does next
            try:
                for _ in range(200):
                    if svc.loaded:
                        break
                    await asyncio.sleep(0.05)
                assert svc.loaded
                tested = await svc.test_channel("ops", "tester")
                assert tested.ok, tested.error
                svc._take(svc.engine.service_down("api", now - timedelta(minutes=1), now))
                clock.t = now + timedelta(seconds=2)
                svc._take(svc.engine.tick(clock.t))
                await svc.flush()
                for _ in range(200):
                    if len(rx.requests) >= 2:
                        break
                    await asyncio.sleep(0.05)
                assert [r.path for r in rx.requests] == ["/hook", "/hook"]
                log = await store.outbox.deliveries(channel_id="ops", limit=10)
                assert [d.ok for d in log] == [True]
            finally:
                stop.set()
                await asyncio.wait_for(again, 30)
            assert svc.client.is_closed  # closed when stopped
        finally:
            await store.close()


async def test_an_incident_event_met_before_the_alerts_are_loaded_is_announced_after(
    tmp_path: Path,
) -> None:
    """The daemon answers before its alerts are loaded: an incident created in between is
    held and announced once they are (it was dropped: no incident message at all)."""
    import asyncio

    store = SqliteStore(tmp_path / "db.sqlite")
    await store.open()
    try:
        await store.migrate()
        svc = await _service(tmp_path, store, Clock(datetime.now(UTC)))
        asked: list[int] = []

        async def get_incident(incident_id: int) -> None:
            asked.append(incident_id)

        svc._get_incident = get_incident  # type: ignore[method-assign]
        svc.publish("incident", {"action": "created", "incident": {"id": 7}})
        svc.publish("incident", {"action": "opened_by_rule", "incident": {"id": 9}})
        await asyncio.sleep(0.05)
        assert not svc.loaded and asked == []
        await svc._load()
        svc.publish("incident", {"action": "resolved", "incident": {"id": 8}})
        for _ in range(200):
            if len(asked) >= 2:
                break
            await asyncio.sleep(0.01)
        assert asked == [7, 8]
    finally:
        await store.close()


@pytest.mark.parametrize("held_at", ["reading the channels", "after reading them"])
async def test_a_reload_while_the_alerts_load_keeps_the_new_channels(
    tmp_path: Path, held_at: str
) -> None:
    """A reload that comes while the alerts load (the daemon answers meanwhile) kept the old
    channels: the load had read them from the old file and the reload left the reading to
    the load (CI saw it in tests/e2e/test_alerts.py)."""
    import asyncio

    store = SqliteStore(tmp_path / "db.sqlite")
    await store.open()
    try:
        await store.migrate()
        svc = await _service(tmp_path, store, Clock(datetime.now(UTC)))
        hold, reached = asyncio.Event(), asyncio.Event()
        owner = store if held_at == "reading the channels" else store.outbox
        name = "list_channel_rows" if owner is store else "release_earlier_leases"
        real = getattr(owner, name)

        async def held(*args: object) -> object:
            reached.set()
            await hold.wait()
            return await real(*args)

        setattr(owner, name, held)
        load = asyncio.create_task(svc._load())
        await asyncio.wait_for(reached.wait(), 5)
        assert not svc.loaded
        two = '\n[[alert_channel]]\nid = "two"\ntype = "webhook"\nurl = "http://127.0.0.1:9/2"\n'
        reload = asyncio.create_task(svc.reload(settings_of(tmp_path, alerts=two), "t"))
        await asyncio.sleep(0.05)
        hold.set()
        changes = await reload
        assert changes and "ops, two" in changes[0]
        await load
        assert svc.loaded and list(svc.channels) == ["ops", "two"]
        assert sorted(r.id for r in await store.list_channel_rows()) == ["ops", "two"]
    finally:
        await store.close()
