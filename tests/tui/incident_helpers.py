"""Shared steps of the incident and SLA pilot tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from textual.pilot import Pilot

from slamon_tui.app import SlamonApp
from slamon_tui.screens.incident_detail import IncidentDetailScreen
from slamon_tui.screens.incidents import IncidentsScreen
from slamon_tui.widgets.incident_table import IncidentTable

from .fake_daemon import FakeDaemon
from .helpers import wait_until


def seed(fake: FakeDaemon) -> None:
    """An overdue P1 over two services, an identified P3 with an update, and past ones."""
    inc = fake.incidents
    inc.add(
        "Payments failing for EU customers",
        severity="critical",
        priority="P1",
        services=["api", "down"],
        started_ago=timedelta(minutes=40),
    )
    inc.add(
        "Slow search results",
        severity="medium",
        priority="P3",
        status="identified",
        services=["slow"],
        description="Search is *slow*; see the runbook.",
        updates=[("identified", "Index rebuild **in progress**.\n\n- step one\n- step two")],
    )
    for i in range(23):
        inc.add(
            f"Old incident {i}",
            status="resolved",
            services=["api"],
            started_ago=timedelta(days=i % 6, hours=2),
            resolved_ago=timedelta(days=i % 6),
            root_cause="bad deploy",
            updates=[("resolved", f"fixed number {i}")],
        )
    inc.add(
        "Certificate expired on the edge",
        status="resolved",
        services=["flaky"],
        started_ago=timedelta(days=20),
        resolved_ago=timedelta(days=20),
        root_cause="renewal job stuck",
    )


async def loaded(pilot: Pilot[None], app: SlamonApp) -> None:
    """Wait for the first snapshot and the identity."""
    await wait_until(pilot, lambda: app.dashboard.model.loaded)
    await pilot.pause(0.1)


async def open_incidents(pilot: Pilot[None], app: SlamonApp) -> IncidentsScreen:
    """Press I and wait for both lists."""
    await pilot.press("I")
    await wait_until(pilot, lambda: isinstance(app.screen, IncidentsScreen))
    screen = app.screen
    assert isinstance(screen, IncidentsScreen)
    await wait_until(pilot, lambda: bool(screen.past) and screen.active.items is not None)
    await pilot.pause(0.1)
    return screen


async def open_detail(pilot: Pilot[None], app: SlamonApp, incident_id: int) -> IncidentDetailScreen:
    """From the incidents screen, put the cursor on ``incident_id`` and press Enter."""
    screen = app.screen
    assert isinstance(screen, IncidentsScreen)
    for table in screen.query(IncidentTable):
        keys = [str(k.value) for k in table.rows]
        if str(incident_id) in keys:
            table.focus()
            table.move_cursor(row=keys.index(str(incident_id)))
            break
    await pilot.press("enter")
    await wait_until(
        pilot,
        lambda: isinstance(app.screen, IncidentDetailScreen) and app.screen.incident is not None,
    )
    detail = app.screen
    assert isinstance(detail, IncidentDetailScreen)
    return detail


def last_params(fake: FakeDaemon, method: str) -> dict[str, Any]:
    """The params of the last call of ``method``."""
    return [r for r in fake.requests if r["method"] == method][-1]["params"]


def footer_keys(app: SlamonApp) -> set[str]:
    """The actions the footer offers on the current screen."""
    return {
        b.action
        for (_ns, b, enabled, _tip) in app.screen.active_bindings.values()
        if b.show and enabled
    }
