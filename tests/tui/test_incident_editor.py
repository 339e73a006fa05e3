"""The incident editor, the update and resolve forms and the conflict dialog, on the fake
daemon as a reporter: what is sent, presence while editing, errors by the field, and a save
against a stale version that loses nothing."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Markdown, TextArea

from slamon_tui.screens.confirm_discard import ConfirmDiscardScreen
from slamon_tui.screens.incident_conflict import ConflictScreen
from slamon_tui.screens.incident_detail import IncidentDetailScreen
from slamon_tui.screens.incident_edit import IncidentEditScreen
from slamon_tui.screens.incident_resolve import IncidentResolveScreen
from slamon_tui.screens.incident_update import IncidentUpdateScreen
from slamon_tui.screens.incidents import IncidentsScreen
from slamon_tui.widgets.incident_choices import ServicePicker
from slamon_tui.widgets.incident_conflict_row import ConflictChoice

from .conftest import demo_snapshot
from .fake_daemon import FakeDaemon
from .helpers import fast_app, screen_text, wait_until
from .incident_helpers import last_params, loaded, open_detail, open_incidents, seed


def reporter_daemon(sock_path: Path) -> FakeDaemon:
    fake = FakeDaemon(sock_path, demo_snapshot())
    seed(fake)
    fake.auth.owner_role = "reporter"
    return fake


async def open_editor(pilot, app, incident_id: int) -> IncidentEditScreen:  # type: ignore[no-untyped-def]
    await loaded(pilot, app)
    await open_incidents(pilot, app)
    detail = await open_detail(pilot, app, incident_id)
    await wait_until(pilot, lambda: detail.may_edit and detail.incident is not None)
    await pilot.press("e")
    await wait_until(pilot, lambda: isinstance(app.screen, IncidentEditScreen))
    await pilot.pause(0.1)
    editor = app.screen
    assert isinstance(editor, IncidentEditScreen)
    return editor


async def test_a_reporter_creates_an_incident_over_two_services(sock_path: Path) -> None:
    async with reporter_daemon(sock_path) as fake:
        app = fast_app(sock_path)
        async with app.run_test(size=(100, 40)) as pilot:
            await loaded(pilot, app)
            await open_incidents(pilot, app)
            await wait_until(pilot, lambda: app.screen.may_edit)
            await pilot.press("n")
            await wait_until(pilot, lambda: isinstance(app.screen, IncidentEditScreen))
            editor = app.screen
            assert isinstance(editor, IncidentEditScreen)
            await pilot.press(*"Checkout errors")
            picker = editor.query_one(ServicePicker)
            picker.focus()
            await pilot.press("space", "down", "down", "space")  # api and flaky
            await wait_until(pilot, lambda: "✓ affected" in screen_text(app))
            editor.query_one("#new-message", TextArea).text = "We are **looking** into it."
            await pilot.press("ctrl+s")
            # The new incident opens at once.
            await wait_until(pilot, lambda: isinstance(app.screen, IncidentDetailScreen))
            params = last_params(fake, "incident.create")
            assert params["title"] == "Checkout errors"
            assert params["services"] == ["api", "flaky"]
            assert params["severity"] == "high" and params["priority"] == "P2"
            assert params["status"] == "investigating"
            assert params["message"] == "We are **looking** into it."
            assert params["customer_visible"] is True
            detail = app.screen
            await wait_until(pilot, lambda: "Checkout errors" in screen_text(app))
            assert "Public API, Flaky backend" in screen_text(app)
            assert detail.incident and detail.incident["updates_count"] == 1
            await pilot.press("escape")
            await wait_until(pilot, lambda: isinstance(app.screen, IncidentsScreen))
            assert "Active incidents (3)" in screen_text(app)


async def test_the_editor_sends_only_what_changed_with_the_version_it_loaded(
    sock_path: Path,
) -> None:
    async with reporter_daemon(sock_path) as fake:
        app = fast_app(sock_path)
        async with app.run_test(size=(100, 40)) as pilot:
            editor = await open_editor(pilot, app, 2)
            title = editor.query_one("#f-title", Input)
            title.value = "Search slow for everyone"
            editor.query_one("#f-impact", TextArea).text = "All search users"
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, IncidentDetailScreen))
            assert last_params(fake, "incident.update") == {
                "id": 2,
                "version": 1,
                "changes": {"title": "Search slow for everyone", "impact": "All search users"},
            }
            await wait_until(pilot, lambda: "Search slow for everyone" in screen_text(app))
            assert fake.incidents.items[2]["version"] == 2


async def test_nothing_changed_sends_nothing_and_esc_leaves(sock_path: Path) -> None:
    async with reporter_daemon(sock_path) as fake:
        app = fast_app(sock_path)
        async with app.run_test(size=(100, 40)) as pilot:
            await open_editor(pilot, app, 2)
            await pilot.press("ctrl+s")
            await pilot.pause(0.2)
            assert fake.count("incident.update") == 0
            assert isinstance(app.screen, IncidentEditScreen)
            await pilot.press("escape")
            await wait_until(pilot, lambda: isinstance(app.screen, IncidentDetailScreen))


async def test_esc_with_unsaved_text_asks_before_discarding(sock_path: Path) -> None:
    async with reporter_daemon(sock_path):
        app = fast_app(sock_path)
        async with app.run_test(size=(100, 40)) as pilot:
            editor = await open_editor(pilot, app, 2)
            await pilot.press("end", *" (EU)")
            await pilot.press("escape")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDiscardScreen))
            await pilot.press("n")
            await wait_until(pilot, lambda: app.screen is editor)
            assert editor.query_one("#f-title", Input).value == "Slow search results (EU)"
            await pilot.press("escape")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDiscardScreen))
            await pilot.press("y")
            await wait_until(pilot, lambda: isinstance(app.screen, IncidentDetailScreen))


async def test_presence_follows_the_focused_field_and_others_are_shown(sock_path: Path) -> None:
    async with reporter_daemon(sock_path) as fake:
        app = fast_app(sock_path)
        async with app.run_test(size=(100, 40)) as pilot:
            editor = await open_editor(pilot, app, 2)
            assert "uid:1000" not in screen_text(app)  # our own presence is never listed
            await wait_until(
                pilot,
                lambda: (
                    last_params(fake, "presence.set")
                    == {"incident_id": 2, "mode": "editing", "field": "title"}
                ),
            )
            editor.query_one("#f-description").focus()
            await wait_until(
                pilot, lambda: last_params(fake, "presence.set").get("field") == "description"
            )
            fake.incidents.presence_of("bob", 2, "editing", "impact")
            await wait_until(pilot, lambda: "bob is editing impact" in screen_text(app))
            label = editor.query_one("#label-impact")
            assert "bob is editing this" in str(label.render())
            assert label.has_class("-others-editing")
            fake.incidents.leave()
            await wait_until(pilot, lambda: "bob" not in screen_text(app))
            # Leaving the editor: we are back to viewing.
            await pilot.press("escape")
            await wait_until(
                pilot,
                lambda: last_params(fake, "presence.set") == {"incident_id": 2, "mode": "viewing"},
            )


async def test_validation_errors_are_shown_next_to_their_field(sock_path: Path) -> None:
    async with reporter_daemon(sock_path) as fake:
        app = fast_app(sock_path)
        async with app.run_test(size=(100, 40)) as pilot:
            editor = await open_editor(pilot, app, 2)
            editor.query_one("#f-title", Input).value = "   "
            await pilot.press("ctrl+s")
            await pilot.pause(0.1)
            assert fake.count("incident.update") == 0  # caught before sending
            error = editor.query_one("#error-title")
            assert error.display and "Title may not be empty" in str(error.render())

            editor.query_one("#f-title", Input).value = "New title"
            fake.incidents.refuse["incident.update"] = (
                "invalid_params",
                "impact: is longer than 5000 characters",
                {"impact": "is longer than 5000 characters"},
            )
            await pilot.press("ctrl+s")
            impact = editor.query_one("#error-impact")
            await wait_until(pilot, lambda: impact.display)
            assert "Impact is longer than 5000 characters" in str(impact.render())
            assert not editor.query_one("#error-title").display
            assert app.screen is editor  # nothing lost: still editing
            assert editor.query_one("#f-title", Input).value == "New title"


async def test_a_stale_save_opens_the_conflict_dialog_and_loses_nothing(sock_path: Path) -> None:
    async with reporter_daemon(sock_path) as fake:
        app = fast_app(sock_path)
        async with app.run_test(size=(100, 40)) as pilot:
            editor = await open_editor(pilot, app, 2)
            # bob saves title and description after we loaded version 1 …
            fake.incidents.change_as(
                "bob", 2, title="Search slow in EU", description="Bob: index shard 3 is rebuilding"
            )
            await wait_until(pilot, lambda: "Someone else saved" in screen_text(app))
            # … while we change the title and the impact.
            editor.query_one("#f-title", Input).value = "Search is slow"
            editor.query_one("#f-impact", TextArea).text = "Searches take 10 s"
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, ConflictScreen))
            dialog = app.screen
            assert isinstance(dialog, ConflictScreen)
            text = screen_text(app)
            assert "Search slow in EU" in text and "Search is slow" in text  # theirs and yours
            assert "Bob: index shard 3" in text  # theirs only: kept
            rows = {r.field.name: r for r in dialog.query(ConflictChoice)}
            assert rows["title"].field.kind == "both" and rows["title"].choice is None
            assert rows["impact"].field.kind == "yours" and rows["impact"].choice == "yours"
            assert rows["description"].field.kind == "theirs"

            await pilot.press("ctrl+s")  # title still needs a choice: refused
            await pilot.pause(0.1)
            assert isinstance(app.screen, ConflictScreen)
            assert fake.count("incident.update") == 1
            rows["title"].focus()
            await pilot.press("m")  # use mine
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, IncidentDetailScreen))
            sent = last_params(fake, "incident.update")
            assert sent == {
                "id": 2,
                "version": 2,
                "changes": {"title": "Search is slow", "impact": "Searches take 10 s"},
            }
            final = fake.incidents.get(2)
            assert final["title"] == "Search is slow"
            assert final["description"] == "Bob: index shard 3 is rebuilding"  # bob's kept
            assert final["impact"] == "Searches take 10 s"
            assert final["version"] == 3


async def test_conflict_keep_theirs_or_both_and_going_back_keeps_the_text(
    sock_path: Path,
) -> None:
    async with reporter_daemon(sock_path) as fake:
        app = fast_app(sock_path)
        async with app.run_test(size=(100, 40)) as pilot:
            editor = await open_editor(pilot, app, 2)
            fake.incidents.change_as("bob", 2, title="Bob's title", description="Bob's text")
            editor.query_one("#f-title", Input).value = "My title"
            editor.query_one("#f-description", TextArea).text = "My text"
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, ConflictScreen))
            # Back to the editor: not saved, nothing lost.
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is editor)
            assert editor.query_one("#f-title", Input).value == "My title"
            assert editor.query_one("#f-description", TextArea).text == "My text"
            assert "Not saved" in screen_text(app)
            assert fake.incidents.items[2]["title"] == "Bob's title"

            await pilot.press("ctrl+s")  # compares again
            await wait_until(pilot, lambda: isinstance(app.screen, ConflictScreen))
            rows = {r.field.name: r for r in app.screen.query(ConflictChoice)}
            rows["title"].focus()
            await pilot.press("t")  # keep theirs
            rows["description"].focus()
            await pilot.press("b")  # keep both texts
            await wait_until(pilot, lambda: "saves:" in screen_text(app))
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, IncidentDetailScreen))
            final = fake.incidents.get(2)
            assert final["title"] == "Bob's title"
            assert final["description"] == "Bob's text\n\nMy text"
            assert last_params(fake, "incident.update")["changes"] == {
                "description": "Bob's text\n\nMy text"
            }


async def test_an_update_only_conflict_needs_no_choice(sock_path: Path) -> None:
    async with reporter_daemon(sock_path) as fake:
        app = fast_app(sock_path)
        async with app.run_test(size=(100, 40)) as pilot:
            editor = await open_editor(pilot, app, 2)
            # bob adds a timeline update: the version moves, no field we hold changed.
            fake.incidents._incident_add_update(
                {"id": 2, "message": "still on it"}, {"name": "bob", "role": "reporter"}, 9000
            )
            editor.query_one("#f-impact", TextArea).text = "Some searches"
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, ConflictScreen))
            assert "Timeline updates" in screen_text(app)
            assert "Ready" in screen_text(app)
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, IncidentDetailScreen))
            assert fake.incidents.items[2]["impact"] == "Some searches"


async def test_add_an_update_with_a_preview(sock_path: Path) -> None:
    async with reporter_daemon(sock_path) as fake:
        app = fast_app(sock_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await loaded(pilot, app)
            await open_incidents(pilot, app)
            detail = await open_detail(pilot, app, 1)
            await wait_until(pilot, lambda: detail.may_edit)
            await pilot.press("u")
            await wait_until(pilot, lambda: isinstance(app.screen, IncidentUpdateScreen))
            form = app.screen
            assert isinstance(form, IncidentUpdateScreen)
            await pilot.press("ctrl+s")  # empty: refused by the form
            await pilot.pause(0.1)
            assert fake.count("incident.add_update") == 0
            assert "may not be empty" in screen_text(app)
            form.query_one("#f-message", TextArea).text = "Root cause **found**:\n\n- a bad deploy"
            await pilot.press("f2")  # narrow: the preview takes the message's place
            await wait_until(pilot, lambda: "a bad deploy" in screen_text(app))
            text = screen_text(app)
            assert "**found**" not in text and "- a bad deploy" not in text  # rendered
            assert form.query_one("#update-preview", Markdown).display
            await pilot.press("f2")
            form.query_one("#f-customer-visible").focus()
            await pilot.press("space")  # internal only
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, IncidentDetailScreen))
            assert last_params(fake, "incident.add_update") == {
                "id": 1,
                "message": "Root cause **found**:\n\n- a bad deploy",
                "status": "investigating",
                "customer_visible": False,
            }
            await wait_until(pilot, lambda: "internal only" in screen_text(app))
            assert "OVERDUE" not in screen_text(app)  # it had no update yet


async def test_update_preview_stands_beside_the_message_when_wide(sock_path: Path) -> None:
    async with reporter_daemon(sock_path):
        app = fast_app(sock_path)
        async with app.run_test(size=(200, 50)) as pilot:
            await loaded(pilot, app)
            await open_incidents(pilot, app)
            detail = await open_detail(pilot, app, 1)
            await wait_until(pilot, lambda: detail.may_edit)
            await pilot.press("u")
            await wait_until(pilot, lambda: isinstance(app.screen, IncidentUpdateScreen))
            await pilot.press(*"Fix is *rolling* out")
            await wait_until(pilot, lambda: "Fix is rolling out" in screen_text(app))
            assert "Fix is *rolling* out" in screen_text(app)  # the message, beside it


async def test_resolve_needs_a_root_cause(sock_path: Path) -> None:
    async with reporter_daemon(sock_path) as fake:
        app = fast_app(sock_path)
        async with app.run_test(size=(100, 40)) as pilot:
            await loaded(pilot, app)
            await open_incidents(pilot, app)
            detail = await open_detail(pilot, app, 1)
            await wait_until(pilot, lambda: detail.may_edit)
            await pilot.press("R")
            await wait_until(pilot, lambda: isinstance(app.screen, IncidentResolveScreen))
            form = app.screen
            await pilot.press("ctrl+s")
            await pilot.pause(0.1)
            assert fake.count("incident.resolve") == 0
            assert "Root cause is required" in screen_text(app)
            form.query_one("#f-root-cause", TextArea).text = "Expired card processor cert"
            form.query_one("#f-resolution-notes", TextArea).text = "Renewed; alerting added"
            form.query_one("#f-message", TextArea).text = "Payments work again."
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, IncidentDetailScreen))
            assert last_params(fake, "incident.resolve") == {
                "id": 1,
                "version": 1,
                "root_cause": "Expired card processor cert",
                "resolution_notes": "Renewed; alerting added",
                "message": "Payments work again.",
                "customer_visible": True,
            }
            await wait_until(
                pilot,
                lambda: (
                    "resolve"
                    not in {b.action for (_n, b, _e, _t) in app.screen.active_bindings.values()}
                ),
            )
            assert fake.incidents.items[1]["status"] == "resolved"


async def test_resolve_after_someone_else_resolved_keeps_the_text(sock_path: Path) -> None:
    async with reporter_daemon(sock_path) as fake:
        app = fast_app(sock_path)
        async with app.run_test(size=(100, 40)) as pilot:
            await loaded(pilot, app)
            await open_incidents(pilot, app)
            detail = await open_detail(pilot, app, 1)
            await wait_until(pilot, lambda: detail.may_edit)
            await pilot.press("R")
            await wait_until(pilot, lambda: isinstance(app.screen, IncidentResolveScreen))
            form = app.screen
            form.query_one("#f-root-cause", TextArea).text = "My root cause"
            fake.incidents.change_as("bob", 1, status="resolved", root_cause="Bob's cause")
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: "already resolved" in screen_text(app))
            assert app.screen is form
            assert form.query_one("#f-root-cause", TextArea).text == "My root cause"


async def test_resolve_against_a_stale_version_goes_through_the_conflict_dialog(
    sock_path: Path,
) -> None:
    async with reporter_daemon(sock_path) as fake:
        app = fast_app(sock_path)
        async with app.run_test(size=(100, 40)) as pilot:
            await loaded(pilot, app)
            await open_incidents(pilot, app)
            detail = await open_detail(pilot, app, 1)
            await wait_until(pilot, lambda: detail.may_edit)
            await pilot.press("R")
            await wait_until(pilot, lambda: isinstance(app.screen, IncidentResolveScreen))
            form = app.screen
            form.query_one("#f-root-cause", TextArea).text = "Gateway certificate expired"
            fake.incidents.change_as("bob", 1, title="Payments failing (cards)")
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, ConflictScreen))
            rows = {r.field.name: r for r in app.screen.query(ConflictChoice)}
            assert rows["title"].field.kind == "theirs"
            assert rows["root_cause"].field.kind == "yours"
            assert "Ready" in screen_text(app)
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, IncidentDetailScreen))
            assert last_params(fake, "incident.resolve") == {
                "id": 1,
                "version": 2,
                "root_cause": "Gateway certificate expired",
            }
            final = fake.incidents.get(1)
            assert final["status"] == "resolved" and final["title"] == "Payments failing (cards)"
