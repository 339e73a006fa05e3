"""The dashboard's active incidents, the incidents screen (I) and an incident's detail, on the
fake daemon: lists, paging, search, live events, presence, and what a viewer may not do."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Markdown

from slamon_tui.screens.incident_detail import IncidentDetailScreen
from slamon_tui.screens.incident_edit import IncidentEditScreen
from slamon_tui.screens.incidents import IncidentsScreen
from slamon_tui.widgets.incident_panel import IncidentPanel
from slamon_tui.widgets.incident_presence import PresenceLine
from slamon_tui.widgets.incident_timeline import TimelineEntry

from .conftest import demo_snapshot
from .fake_daemon import FakeDaemon
from .helpers import fast_app, screen_text, wait_until
from .incident_helpers import (
    footer_keys,
    last_params,
    loaded,
    open_detail,
    open_incidents,
    seed,
)


async def test_dashboard_panel_shows_active_incidents_above_the_services(
    sock_path: Path,
) -> None:
    async with FakeDaemon(sock_path, demo_snapshot()) as fake:
        seed(fake)
        app = fast_app(sock_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await loaded(pilot, app)
            panel = app.dashboard.query_one(IncidentPanel)
            await wait_until(
                pilot, lambda: panel.display and "Active incidents" in screen_text(app)
            )
            lines = screen_text(app).splitlines()
            title = next(i for i, ln in enumerate(lines) if "Active incidents (2)" in ln)
            services = next(i for i, ln in enumerate(lines) if "Service" in ln and "Status" in ln)
            assert title < services  # above the services
            assert "1 overdue" in lines[title]
            p1 = next(ln for ln in lines if "Payments failing" in ln)
            # Priority, severity, status, services, age; overdue as a word, not only colour.
            assert "P1" in p1 and "critical" in p1 and "investig" in p1 and "Public API" in p1
            assert "40m" in p1 and "OVERDUE" in p1
            p3 = next(ln for ln in lines if "Slow search" in ln)
            assert "P3" in p3 and "identified" in p3 and "ago" in p3 and "OVERDUE" not in p3
            # The most urgent first.
            assert lines.index(p1) < lines.index(p3)

            # Live: a new incident appears, a resolved one goes, without a resync.
            fake.incidents.change_as("bob", 2, status="resolved", root_cause="index")
            await wait_until(pilot, lambda: "Slow search" not in screen_text(app))
            fake.incidents.add("DNS flapping", priority="P2", services=["flaky"])
            fake.incidents._publish(
                "incident",
                {"action": "created", "incident": fake.incidents.wire(fake.incidents.items[27])},
            )
            await wait_until(pilot, lambda: "DNS flapping" in screen_text(app))
            assert fake.count("status.get") == 2  # the rows, then the whole picture


async def test_the_panel_is_hidden_without_active_incidents(sock_path: Path) -> None:
    async with FakeDaemon(sock_path, demo_snapshot()) as fake:
        app = fast_app(sock_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await loaded(pilot, app)
            assert not app.dashboard.query_one(IncidentPanel).display
            assert "Active incidents" not in screen_text(app)
            fake.incidents.add("Brand new", priority="P4")
            fake.incidents._publish(
                "incident",
                {"action": "created", "incident": fake.incidents.wire(fake.incidents.items[1])},
            )
            await wait_until(pilot, lambda: "Brand new" in screen_text(app))


async def test_incidents_screen_lists_pages_and_searches(sock_path: Path) -> None:
    async with FakeDaemon(sock_path, demo_snapshot()) as fake:
        seed(fake)
        app = fast_app(sock_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await loaded(pilot, app)
            screen = await open_incidents(pilot, app)
            text = screen_text(app)
            assert "Active incidents (2)" in text and "1 overdue" in text
            for column in ("P", "Severity", "Status", "Title", "Services", "Age", "Updated"):
                assert column in text
            assert "Past incidents · last 7 days · 23 resolved · page 1 of 2" in text
            assert last_params(fake, "incident.past") == {"days": 7, "page": 1, "limit": 20}

            await pilot.press("pagedown")
            await wait_until(pilot, lambda: "page 2 of 2" in screen_text(app))
            assert last_params(fake, "incident.past")["page"] == 2
            await pilot.press("pagedown")  # no page 3
            await pilot.press("left_square_bracket")
            await wait_until(pilot, lambda: "page 1 of 2" in screen_text(app))
            await pilot.press("right_square_bracket")
            await wait_until(pilot, lambda: "page 2 of 2" in screen_text(app))

            await pilot.press("d")  # 30 days, back to page 1
            await wait_until(
                pilot, lambda: "last 30 days · 24 resolved · page 1" in screen_text(app)
            )
            assert last_params(fake, "incident.past") == {"days": 30, "page": 1, "limit": 20}
            await pilot.press("d")
            await wait_until(pilot, lambda: "last 90 days" in screen_text(app))

            await pilot.press("slash")
            await pilot.press(*"certif")
            await pilot.press("enter")
            await wait_until(pilot, lambda: 'Search "certif": 1 found' in screen_text(app))
            assert "Certificate expire" in screen_text(app)
            assert last_params(fake, "incident.search") == {"query": "certif"}
            await pilot.press("escape")
            await wait_until(pilot, lambda: "Past incidents" in screen_text(app))
            assert screen.search_query is None
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is app.dashboard)


async def test_incident_events_update_the_lists_live(sock_path: Path) -> None:
    async with FakeDaemon(sock_path, demo_snapshot()) as fake:
        seed(fake)
        app = fast_app(sock_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await loaded(pilot, app)
            await open_incidents(pilot, app)
            fake.incidents.change_as("bob", 1, title="Cards down")
            await wait_until(pilot, lambda: "Cards down" in screen_text(app))
            past_calls = fake.count("incident.past")
            fake.incidents.change_as("bob", 1, status="resolved", root_cause="x")
            await wait_until(pilot, lambda: "Active incidents (1)" in screen_text(app))
            # The past list is asked again to show it among the resolved.
            await wait_until(pilot, lambda: fake.count("incident.past") > past_calls)
            await wait_until(pilot, lambda: "24 resolved" in screen_text(app))


async def test_detail_shows_fields_markdown_timeline_and_presence(sock_path: Path) -> None:
    async with FakeDaemon(sock_path, demo_snapshot()) as fake:
        seed(fake)
        app = fast_app(sock_path)
        async with app.run_test(size=(100, 40)) as pilot:
            await loaded(pilot, app)
            await open_incidents(pilot, app)
            detail = await open_detail(pilot, app, 2)
            await wait_until(pilot, lambda: fake.count("presence.set") == 1)
            assert last_params(fake, "presence.set") == {"incident_id": 2, "mode": "viewing"}
            text = screen_text(app)
            for expected in (
                "#2  Slow search results",
                "P3",
                "medium severity",
                "identified",
                "Services",
                "Slow service",
                "Started",
                "Progress",
                "Duration",
                "Response",
                "Impact",
                "Root cause",
                "Opened by",
                "alice",
                "Timeline (1 update",
            ):
                assert expected in text, expected
            entries = list(detail.query(TimelineEntry))
            assert len(entries) == 1
            md = entries[0].query_one(Markdown)
            # Rendered, not raw: the list items and bold text lose their markdown marks.
            assert "step one" in text and "- step one" not in text
            assert "in progress" in text and "**in progress**" not in text
            assert md.source.startswith("Index rebuild")
            assert "*slow*" not in text and "slow; see the runbook" in text

            # Someone else arrives and starts editing the title.
            fake.incidents.presence_of("bob", 2, "editing", "title")
            line = detail.query_one(PresenceLine)
            await wait_until(pilot, lambda: "bob is editing title" in screen_text(app))
            fake.incidents.presence_of("carol", 2, "viewing", session=9001)
            await wait_until(pilot, lambda: "carol is viewing" in line.text)
            fake.incidents.leave(9000)
            await wait_until(pilot, lambda: "bob" not in line.text)
            assert "me" not in line.text and "uid" not in line.text  # never ourselves

            # A new update from someone else is added to the timeline, newest first.
            fake.incidents._incident_add_update(
                {"id": 2, "message": "Rebuild **done**", "status": "monitoring"},
                {"name": "bob", "role": "reporter"},
                9000,
            )
            await wait_until(pilot, lambda: len(detail.query(TimelineEntry)) == 2)
            await wait_until(pilot, lambda: "Timeline (2 updates" in screen_text(app))
            first = list(detail.query(TimelineEntry))[0]
            assert "bob · monitoring" in str(first.query_one(".timeline-heading").render())

            await pilot.press("escape")
            await wait_until(pilot, lambda: isinstance(app.screen, IncidentsScreen))
            await wait_until(pilot, lambda: fake.count("presence.clear") == 1)


async def test_a_viewer_sees_no_edit_actions(sock_path: Path) -> None:
    async with FakeDaemon(sock_path, demo_snapshot()) as fake:
        seed(fake)  # without a login or owner role the caller is a viewer
        app = fast_app(sock_path)
        async with app.run_test(size=(120, 30)) as pilot:
            await loaded(pilot, app)
            await open_incidents(pilot, app)
            assert "new" not in footer_keys(app)
            assert "New" not in screen_text(app).splitlines()[-1]
            await pilot.press("n")
            await pilot.pause(0.2)
            assert isinstance(app.screen, IncidentsScreen)
            await open_detail(pilot, app, 1)
            await pilot.pause(0.2)
            keys = footer_keys(app)
            assert not keys & {"edit", "add_update", "resolve"}
            footer = screen_text(app).splitlines()[-1]
            assert "Edit" not in footer and "Resolve" not in footer and "update" not in footer
            for key in ("e", "u", "R"):
                await pilot.press(key)
                await pilot.pause(0.1)
                assert isinstance(app.screen, IncidentDetailScreen)
            assert not any(
                r["method"].startswith("incident.")
                and r["method"] not in ("incident.get", "incident.list", "incident.past")
                for r in fake.requests
            )


async def test_a_reporter_gets_the_edit_actions_when_the_role_changes(sock_path: Path) -> None:
    async with FakeDaemon(sock_path, demo_snapshot()) as fake:
        seed(fake)
        fake.auth.add_user("rita", "correct-horse-battery", "reporter")
        app = fast_app(sock_path)
        async with app.run_test(size=(120, 30)) as pilot:
            await loaded(pilot, app)
            await open_incidents(pilot, app)
            await open_detail(pilot, app, 1)
            assert "edit" not in footer_keys(app)
            await app.session.log_in("rita", "correct-horse-battery")
            await wait_until(pilot, lambda: {"edit", "add_update", "resolve"} <= footer_keys(app))
            await pilot.press("e")
            await wait_until(pilot, lambda: isinstance(app.screen, IncidentEditScreen))


async def test_resolved_incident_offers_no_resolve(sock_path: Path) -> None:
    async with FakeDaemon(sock_path, demo_snapshot()) as fake:
        seed(fake)
        fake.auth.owner_role = "reporter"
        app = fast_app(sock_path)
        async with app.run_test(size=(120, 30)) as pilot:
            await loaded(pilot, app)
            await open_incidents(pilot, app)
            await open_detail(pilot, app, 3)
            await wait_until(pilot, lambda: "edit" in footer_keys(app))
            assert "resolve" not in footer_keys(app)
            text = screen_text(app)
            assert "resolved" in text and "by alice" in text and "bad deploy" in text
