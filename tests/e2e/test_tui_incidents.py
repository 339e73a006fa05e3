"""Incidents through the TUI on a real daemon (no fake): a SQLite store, the feed socket,
reporters made in the store and logged in over the feed.

1. A reporter, through the pilot, creates an incident over two services, posts two updates,
   resolves it, then finds it among the past incidents and by search.
2. Two app instances (two reporters) edit the same incident: the second sees the first's
   presence, saves against a stale version, gets the conflict dialog, chooses, and the
   incident read back over the feed holds both people's work.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from slamon_daemon.auth import hash_password
from slamon_daemon.config import Settings, load_settings
from slamon_daemon.daemon import Daemon
from slamon_daemon.models import Role
from slamon_daemon.targets import Target, respond
from slamon_tui.app import SlamonApp, make_app
from slamon_tui.client import FeedClient
from slamon_tui.screens.incident_conflict import ConflictScreen
from slamon_tui.screens.incident_detail import IncidentDetailScreen
from slamon_tui.screens.incident_edit import IncidentEditScreen
from slamon_tui.screens.incident_resolve import IncidentResolveScreen
from slamon_tui.screens.incident_update import IncidentUpdateScreen
from slamon_tui.screens.incidents import IncidentsScreen
from slamon_tui.widgets.incident_choices import ServicePicker
from slamon_tui.widgets.incident_conflict_row import ConflictChoice
from slamon_tui.widgets.incident_presence import PresenceLine
from slamon_tui.widgets.incident_table import IncidentTable
from tests.tui.helpers import screen_text, wait_until

USERS = {"rita": "rita-Reporter-pw-1", "rob": "rob-Reporter-pw-22"}
WAIT_S = 15.0


@pytest.fixture
def folder() -> Iterator[Path]:
    """A short directory under /tmp: the socket path must stay under ~100 bytes."""
    path = Path(tempfile.mkdtemp(prefix="slamon-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(autouse=True)
def _token_cache_in_tmp(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Logins made here are cached in the test's folder, never in ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder / "cache"))


def _write_config(folder: Path, url: str) -> Path:
    services = "".join(
        f'\n[[service]]\nid = "{sid}"\nname = "{name}"\nurl = "{url}"\ninterval = "1h"\n'
        for sid, name in (("api", "Public API"), ("payments", "Payments"))
    )
    path = folder / "slamon.toml"
    path.write_text(
        f'[daemon]\ndatabase_url = "sqlite:///{folder}/db.sqlite"\nsocket = "{folder}/s.sock"\n'
        f'spool_dir = "{folder}/spool"\nsecret_file = "{folder}/jwt.secret"\n'
        f'write_flush_interval = "100ms"\n{services}',
        encoding="utf-8",
    )
    return path


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Daemon]:
    """A daemon in this event loop with two reporters in its store."""
    daemon = Daemon(settings)
    runner = asyncio.create_task(daemon.run())
    try:
        await asyncio.wait_for(daemon.started.wait(), 20)
        for name, password in USERS.items():
            await daemon.store.create_user(
                name, f"{name}@example.com", hash_password(password), Role.REPORTER
            )
        yield daemon
    finally:
        daemon.request_stop()
        await asyncio.wait_for(runner, 20)


@asynccontextmanager
async def daemon_for_tests(folder: Path) -> AsyncIterator[Settings]:
    async with Target(respond(200)) as target:
        settings, _ = load_settings(_write_config(folder, target.url))
        async with running(settings):
            yield settings


def _app(settings: Settings) -> SlamonApp:
    return make_app(settings.daemon.socket, retry_initial=0.05, retry_max=0.3)


async def logged_in(pilot: Pilot[None], app: SlamonApp, user: str) -> None:
    """Wait for the dashboard, then log in over the feed as ``user``."""
    await wait_until(pilot, lambda: app.dashboard.model.loaded, WAIT_S)
    await app.session.log_in(user, USERS[user])
    await wait_until(pilot, lambda: app.identity.role == "reporter", WAIT_S)


async def read_incident(settings: Settings, incident_id: int) -> dict[str, Any]:
    """The incident as the daemon has it, read over the feed by a fresh client."""
    async with FeedClient(settings.daemon.socket) as client:
        login = await client.call("auth.login", {"username": "rita", "password": USERS["rita"]})
        client.token = login["access_token"]
        return await client.call("incident.get", {"id": incident_id})


async def open_incidents(pilot: Pilot[None], app: SlamonApp) -> IncidentsScreen:
    await pilot.press("I")
    await wait_until(pilot, lambda: isinstance(app.screen, IncidentsScreen), WAIT_S)
    screen = app.screen
    assert isinstance(screen, IncidentsScreen)
    await wait_until(pilot, lambda: bool(screen.past), WAIT_S)
    return screen


async def open_row(
    pilot: Pilot[None], app: SlamonApp, table_id: str, incident_id: int
) -> IncidentDetailScreen:
    table = app.screen.query_one(table_id, IncidentTable)
    await wait_until(pilot, lambda: str(incident_id) in [str(k.value) for k in table.rows], WAIT_S)
    table.focus()
    table.move_cursor(row=table.get_row_index(str(incident_id)))
    await pilot.press("enter")
    await wait_until(
        pilot,
        lambda: isinstance(app.screen, IncidentDetailScreen) and app.screen.incident is not None,
        WAIT_S,
    )
    detail = app.screen
    assert isinstance(detail, IncidentDetailScreen)
    await wait_until(pilot, lambda: detail.may_edit, WAIT_S)
    return detail


async def post_update(pilot: Pilot[None], app: SlamonApp, message: str, status: str) -> None:
    await pilot.press("u")
    await wait_until(pilot, lambda: isinstance(app.screen, IncidentUpdateScreen), WAIT_S)
    form = app.screen
    form.query_one("#f-status").value = status
    form.query_one("#f-message", TextArea).focus()
    await pilot.press(*message)
    await pilot.press("ctrl+s")
    await wait_until(pilot, lambda: isinstance(app.screen, IncidentDetailScreen), WAIT_S)


async def test_a_reporter_runs_an_incident_from_start_to_past(folder: Path) -> None:
    async with daemon_for_tests(folder) as settings:
        app = _app(settings)
        async with app.run_test(size=(100, 40)) as pilot:
            await logged_in(pilot, app, "rita")
            await open_incidents(pilot, app)
            await pilot.press("n")
            await wait_until(pilot, lambda: isinstance(app.screen, IncidentEditScreen), WAIT_S)
            editor = app.screen
            await pilot.press(*"Checkout fails with gateway timeouts")
            editor.query_one(ServicePicker).focus()
            await pilot.press("space", "down", "space")  # both services
            editor.query_one("#f-description", TextArea).focus()
            await pilot.press(*"Card payments time out at the gateway.")
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, IncidentDetailScreen), WAIT_S)
            detail = app.screen
            assert isinstance(detail, IncidentDetailScreen)
            iid = detail.incident_id
            await wait_until(pilot, lambda: "Public API, Payments" in screen_text(app), WAIT_S)
            await wait_until(pilot, lambda: detail.may_edit, WAIT_S)

            await post_update(pilot, app, "Gateway vendor **paged**.", "identified")
            await post_update(pilot, app, "Failover done; watching error rates.", "monitoring")
            await wait_until(pilot, lambda: "Timeline (2 updates" in screen_text(app), WAIT_S)

            await pilot.press("R")
            await wait_until(pilot, lambda: isinstance(app.screen, IncidentResolveScreen), WAIT_S)
            await pilot.press(*"Expired TLS certificate at the gateway")
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, IncidentDetailScreen), WAIT_S)
            await wait_until(pilot, lambda: "by rita" in screen_text(app), WAIT_S)

            stored = await read_incident(settings, iid)
            assert stored["status"] == "resolved" and stored["resolved_by"] == "rita"
            assert stored["services"] == ["api", "payments"]
            assert stored["root_cause"] == "Expired TLS certificate at the gateway"
            assert [u["status"] for u in stored["updates"]] == ["identified", "monitoring"]
            assert stored["updates"][0]["message"] == "Gateway vendor **paged**."

            # Among the past incidents …
            await pilot.press("escape")
            screen = app.screen
            assert isinstance(screen, IncidentsScreen)
            await wait_until(pilot, lambda: "1 resolved" in screen_text(app), WAIT_S)
            assert "Active incidents (0)" in screen_text(app)
            past = screen.query_one("#past-incidents", IncidentTable)
            assert [str(k.value) for k in past.rows] == [str(iid)]
            # … and by search, on a word of an update.
            await pilot.press("slash", *"failover", "enter")
            await wait_until(
                pilot, lambda: 'Search "failover": 1 found' in screen_text(app), WAIT_S
            )
            await open_row(pilot, app, "#past-incidents", iid)
            assert "Checkout fails" in screen_text(app)


async def test_two_reporters_edit_the_same_incident_and_nothing_is_lost(folder: Path) -> None:
    async with daemon_for_tests(folder) as settings:
        async with FeedClient(settings.daemon.socket) as client:
            login = await client.call("auth.login", {"username": "rita", "password": USERS["rita"]})
            client.token = login["access_token"]
            created = await client.call(
                "incident.create",
                {
                    "title": "Search is slow",
                    "severity": "medium",
                    "priority": "P3",
                    "services": ["api"],
                    "description": "Queries take seconds.",
                    "message": "Looking into it.",
                },
            )
        iid = created["id"]
        rita, rob = _app(settings), _app(settings)
        async with rita.run_test(size=(100, 40)) as p1, rob.run_test(size=(100, 40)) as p2:
            await logged_in(p1, rita, "rita")
            await logged_in(p2, rob, "rob")
            for pilot, app in ((p1, rita), (p2, rob)):
                await open_incidents(pilot, app)
                await open_row(pilot, app, "#active-incidents", iid)

            # Rob sees Rita arrive, then edit (presence pushed by the daemon).
            await p1.press("e")
            await wait_until(p1, lambda: isinstance(rita.screen, IncidentEditScreen), WAIT_S)
            rita.screen.query_one("#f-description", TextArea).focus()
            await wait_until(p2, lambda: "rita is editing description" in screen_text(rob), WAIT_S)
            await p2.press("e")
            await wait_until(p2, lambda: isinstance(rob.screen, IncidentEditScreen), WAIT_S)
            rob_editor = rob.screen
            await wait_until(
                p2,
                lambda: (
                    "rita is editing this"
                    in str(rob_editor.query_one("#label-description").render())
                ),
                WAIT_S,
            )
            assert "rita" in rob_editor.query_one(PresenceLine).text

            # Rita saves first.
            await p1.press("end", *" Rita: shard 3 is rebuilding.")
            rita.screen.query_one("#f-title", Input).value = "Search is slow in EU"
            await p1.press("ctrl+s")
            await wait_until(p1, lambda: isinstance(rita.screen, IncidentDetailScreen), WAIT_S)

            # Rob, still on the version he loaded, changes the description and the impact.
            rob_editor.query_one("#f-description", TextArea).focus()
            await p2.press("end", *" Rob: cache is cold.")
            rob_editor.query_one("#f-impact", TextArea).focus()
            await p2.press(*"EU searches take 10 s")
            await wait_until(p2, lambda: "Someone else saved" in screen_text(rob), WAIT_S)
            await p2.press("ctrl+s")
            await wait_until(p2, lambda: isinstance(rob.screen, ConflictScreen), WAIT_S)
            text = screen_text(rob)
            assert "Rita: shard 3" in text and "Rob: cache is cold" in text  # theirs and his
            assert "Search is slow in EU" in text  # Rita's title: kept, nothing to choose
            rows = {r.field.name: r for r in rob.screen.query(ConflictChoice)}
            assert rows["description"].field.kind == "both"
            assert rows["title"].field.kind == "theirs"
            rows["description"].focus()
            await p2.press("b")  # keep both texts
            await p2.press("ctrl+s")
            await wait_until(p2, lambda: isinstance(rob.screen, IncidentDetailScreen), WAIT_S)

            final = await read_incident(settings, iid)
            assert final["title"] == "Search is slow in EU"  # Rita's
            assert final["description"] == (
                "Queries take seconds. Rita: shard 3 is rebuilding.\n\n"
                "Queries take seconds. Rob: cache is cold."
            )
            assert final["impact"] == "EU searches take 10 s"  # Rob's
            assert final["version"] == 3 and final["severity"] == "medium"
            assert [u["message"] for u in final["updates"]] == ["Looking into it."]
