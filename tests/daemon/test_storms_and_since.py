"""Issue 12 in the daemon, through a real daemon and its socket: a storm of outages opens one
auto-incident, the daemon's updates are never the first response, "since" survives a
restart, status.get carries group, tags and the open episode, and search reads root cause
and resolution notes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from slamon_daemon.models import Incident, IncidentUpdate
from slamon_daemon.store.base import Store
from slamon_daemon.targets import Target, free_port, respond

from .support import remove_dir, short_dir, wait_until
from .test_incident_feed import _incidents, config, connect, running


@pytest.fixture
def folder() -> Iterator[Path]:
    d = short_dir()
    yield d
    remove_dir(d)


STORM = 'auto_incident_after = "1s"\nauto_incident_group_window = "5m"'


def down_services(ports: list[int]) -> tuple[dict[str, Any], ...]:
    return tuple(
        {
            "id": f"svc-{i}",
            "name": f"Service {i}",
            "url": f"http://127.0.0.1:{port}/",
            "interval": "200ms",
            "timeout": "1s",
            "confirm_failures": 2,
            "group": "Core",
            "tags": ["eu", f"n{i}"],
        }
        for i, port in enumerate(ports)
    )


async def test_services_failing_together_open_one_incident_listing_them(folder: Path) -> None:
    ports = [free_port() for _ in range(4)]
    cfg = config(folder, services=down_services(ports), extra=STORM)
    async with running(cfg, users=False) as daemon:
        c = await connect(folder)
        try:

            async def all_listed() -> bool:
                incidents = await _incidents(c)
                return len(incidents) >= 1 and len(incidents[0]["services"]) == 4

            await wait_until(all_listed, timeout=30, what="one incident listing all four")
            incidents = await _incidents(c)
            assert len(incidents) == 1, [i["title"] for i in incidents]
            [inc] = incidents
            assert sorted(inc["services"]) == ["svc-0", "svc-1", "svc-2", "svc-3"]
            assert inc["title"].startswith("4 services are down: ")
            assert inc["created_by"] == "system"
            full = await c.result("incident.get", {"id": inc["id"]})
            joined = [u for u in full["updates"] if "is down too" in u["message"]]
            assert len(joined) == 3 and all(u["author"] == "system" for u in joined)
            # The daemon's updates are not a response: the incident still waits for one.
            assert full["first_update_at"] is None

            # Two services come back: the incident says so, and stays investigating while
            # others are still down.
            async with Target(respond(200), port=ports[0]), Target(respond(200), port=ports[1]):

                async def two_recoveries() -> bool:
                    got = await c.result("incident.get", {"id": inc["id"]})
                    return sum("recovered" in u["message"] for u in got["updates"]) == 2

                await wait_until(two_recoveries, timeout=30, what="two recovery updates")
                got = await c.result("incident.get", {"id": inc["id"]})
                assert got["status"] == "investigating"
                last = [u for u in got["updates"] if "recovered" in u["message"]][-1]
                assert "Still down:" in last["message"]
                assert got["first_update_at"] is None

            # status.get: group, tags, and the open episode of a down service.
            status = await c.result("status.get")
            entry = next(s for s in status["services"] if s["id"] == "svc-3")
            assert entry["group"] == "Core" and entry["tags"] == ["eu", "n3"]
            episode = daemon.state.services["svc-3"].episode
            assert episode is not None
            assert entry["episode"]["started_at"] == episode.started_at.isoformat()
            assert entry["episode"]["cause"] == "connection_error"
            assert entry["episode"]["error"]
        finally:
            await c.close()


async def test_since_survives_a_restart(folder: Path) -> None:
    port = free_port()
    services = (
        {
            "id": "api",
            "url": f"http://127.0.0.1:{port}/",
            "interval": "200ms",
            "timeout": "1s",
        },
    )
    cfg = config(folder, services=services)
    async with Target(respond(200), port=port):
        async with running(cfg, users=False) as daemon:
            await wait_until(
                lambda: daemon.state.services["api"].status.value == "operational",
                what="the service up",
            )
            since = daemon.state.services["api"].status_since
            overall_since = daemon.state.overall_since
            made = daemon.checks_made
            await wait_until(lambda: daemon.checks_made >= made + 3, what="more checks")
        async with running(cfg, users=False) as daemon:
            st = daemon.state.services["api"]
            # Before any new check: warmed from the store, dated from the stored transition.
            assert st.status.value == "operational"
            assert st.status_since == since
            assert daemon.state.overall_since == overall_since
            c = await connect(folder)
            try:
                status = await c.result("status.get")
                assert status["services"][0]["status_since"] == since.isoformat()
            finally:
                await c.close()


T0 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


async def test_search_finds_root_cause_and_resolution_notes(store: Store) -> None:
    inc = await store.create_incident(
        Incident(
            title="Checkout errors",
            status="investigating",
            severity="high",
            priority=2,
            started_at=T0,
            created_by="rita",
            created_at=T0,
        )
    )
    assert inc.id is not None
    assert await store.search_incidents("hugepages") == []
    await store.save_incident(
        inc.id,
        inc.version,
        {"root_cause": "Kernel hugepages exhausted", "resolution_notes": "Rebooted zanzibar"},
        ["root_cause", "resolution_notes"],
        "rita",
        T0,
    )
    assert [i.id for i in await store.search_incidents("hugepages")] == [inc.id]
    assert [i.id for i in await store.search_incidents("zanzib")] == [inc.id]


async def test_a_system_update_never_sets_the_first_response(store: Store) -> None:
    inc = await store.create_incident(
        Incident(
            title="api is down",
            status="investigating",
            severity="high",
            priority=1,
            started_at=T0,
            created_by="system",
            created_at=T0,
        )
    )
    assert inc.id is not None
    saved = await store.add_incident_update(
        inc.id, IncidentUpdate("monitoring", "recovered", "system", T0, True), {}, T0
    )
    assert saved.first_update_at is None
    human = await store.add_incident_update(
        inc.id, IncidentUpdate("monitoring", "on it", "rita", T0, True), {}, T0
    )
    assert human.first_update_at == T0
