"""The day cursor on the dashboard's bar and the day line under the list (service.day)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text

from slamon_tui.app import SlamonApp
from slamon_tui.formatting import DAILY_GLYPHS
from slamon_tui.widgets.columns import CURSOR_WIDTH, GAP
from slamon_tui.widgets.day_line import DayLine, DayView, day_line_text
from slamon_tui.widgets.service_row import RowView, row_text
from slamon_tui.widgets.service_table import ServiceTable
from slamon_tui.widgets.uptime_bar import bar_text

from .fake_daemon import FakeDaemon, make_check, make_service, make_snapshot
from .helpers import fast_app, screen_text, wait_until


def _reversed_offsets(text: Text) -> set[int]:
    out: set[int] = set()
    for span in text.spans:
        style = span.style
        if not isinstance(style, str) and style.reverse:
            out.update(range(span.start, span.end))
    return out


def _bar_offset(row: RowView) -> int:
    c = row.columns
    return CURSOR_WIDTH + c.name + GAP + c.status + GAP


def _drawn(app: SlamonApp, sid: str) -> Text:
    """The row of ``sid`` as the list draws it (the day cursor only on the cursor's row)."""
    width = app.dashboard.query_one(ServiceTable).scrollable_content_region.width
    selected = getattr(app.dashboard, "selected_id", None) == sid
    return row_text(app.dashboard.rows[sid], width, {}, cursor=selected)


async def _loaded(pilot: object, app: SlamonApp) -> None:
    await wait_until(pilot, lambda: len(app.dashboard.order) > 0)  # type: ignore[arg-type]


def _day_requests(daemon: FakeDaemon) -> list[tuple[str, str]]:
    return [
        (r["params"]["id"], r["params"]["day"])
        for r in daemon.requests
        if r["method"] == "service.day"
    ]


def test_bar_text_marks_one_cell_in_reverse_video() -> None:
    text = bar_text(["o", "po", "mo"], {}, mark=1)
    assert text.plain == DAILY_GLYPHS["o"] + DAILY_GLYPHS["po"] + DAILY_GLYPHS["mo"]
    assert _reversed_offsets(text) == {1}
    assert _reversed_offsets(bar_text(["o", "po"], {})) == set()


def test_day_line_text_full_compact_pending_and_problem() -> None:
    detail = {"uptime": "99.30", "downtime_s": 600.0, "episodes": [{}, {}]}
    full = day_line_text(DayView("2026-11-19", 2, "po", detail)).plain
    assert full == (
        "Thu 19 Nov 2026 (2 days ago) · ▆ partial outage · uptime 99.30% · downtime 10m 00s"
        " · 2 outages"
    )
    compact = day_line_text(DayView("2026-11-19", 2, "po", detail), compact=True).plain
    assert (
        compact == "Thu 19 Nov 2026 · ▆ partial outage · uptime 99.30% · down 10m 00s · 2 outages"
    )
    # Today keeps its "(today)" even compact: it is the one day that is still changing.
    assert "(today)" in day_line_text(DayView("2026-11-21", 0, "o"), compact=True).plain
    assert day_line_text(DayView("2026-11-21", 0, "o")).plain.endswith("uptime …")
    problem = day_line_text(DayView("2026-11-20", 1, "nd", problem="database down")).plain
    assert problem == "Fri 20 Nov 2026 (yesterday) · · no data · database down"


async def test_day_cursor_marks_the_cell_and_the_line_shows_that_day(daemon: FakeDaemon) -> None:
    app = fast_app(daemon.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await _loaded(pilot, app)
        line = app.screen.query_one(DayLine)
        await pilot.press("G")  # the api row: last, operational services after problems
        # Default: today; the figures come from service.day.
        await wait_until(pilot, lambda: "uptime 100.00%" in line.plain)
        assert line.plain.startswith("Sat 21 Nov 2026 (today) · █ operational")
        api = app.dashboard.rows["api"]
        assert _reversed_offsets(_drawn(app, "api")) == {_bar_offset(api) + 29}

        await pilot.press("k", "k", "left", "h")  # the flaky row, two days back
        flaky = app.dashboard.rows["flaky"]
        assert app.dashboard.selected_id == "flaky"
        assert app.dashboard.days_back == 2
        assert flaky.day_cursor == 27
        assert flaky.bar_cells[27] == "mo"
        assert _reversed_offsets(_drawn(app, "flaky")) == {_bar_offset(flaky) + 27}
        # Only the row with the cursor shows the day cursor.
        assert _reversed_offsets(_drawn(app, "api")) == set()
        await wait_until(pilot, lambda: "80.00%" in line.plain)
        assert line.plain == (
            "Thu 19 Nov 2026 · ▃ major outage · uptime 80.00% · down 4h 48m · 1 outage"
        )
        assert line.plain in screen_text(app)
        # The cursor rested on 19 Nov only: the day passed over was never asked for.
        assert ("flaky", "2026-11-20") not in _day_requests(daemon)
        assert _day_requests(daemon).count(("flaky", "2026-11-19")) == 1


async def test_day_index_survives_row_moves_and_is_cached(daemon: FakeDaemon) -> None:
    app = fast_app(daemon.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await _loaded(pilot, app)
        line = app.screen.query_one(DayLine)
        await pilot.press("G", "left", "left", "left")
        await wait_until(pilot, lambda: "uptime" in line.plain and "…" not in line.plain)
        await pilot.press("k")
        slow = app.dashboard.rows["slow"]
        assert app.dashboard.days_back == 3 and slow.day_cursor == 26
        await wait_until(pilot, lambda: ("slow", "2026-11-18") in _day_requests(daemon))
        await pilot.press("j")  # back to api: its 18 Nov is cached, shown at once
        assert line.plain.startswith("Wed 18 Nov 2026 · █ operational · uptime 100.00%")
        await pilot.pause(0.5)
        assert _day_requests(daemon).count(("api", "2026-11-18")) == 1


async def test_day_cursor_stops_at_the_ends_of_the_bar(daemon: FakeDaemon) -> None:
    app = fast_app(daemon.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await _loaded(pilot, app)
        await pilot.press("right")
        assert app.dashboard.days_back == 0
        for _ in range(35):
            await pilot.press("left")
        assert app.dashboard.days_back == 29  # a 30-day bar at 80 columns
        line = app.screen.query_one(DayLine)
        assert line.plain.startswith("Fri 23 Oct 2026")
        await pilot.press("l")
        assert app.dashboard.days_back == 28


async def test_day_line_says_why_it_has_no_figures(daemon: FakeDaemon) -> None:
    daemon.errors["service.day"] = ("unavailable", "the database is not reachable")
    app = fast_app(daemon.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await _loaded(pilot, app)
        line = app.screen.query_one(DayLine)
        await pilot.press("G")  # the api row
        await wait_until(pilot, lambda: "the database is not reachable" in line.plain)
        asked = daemon.count("service.day")
        await pilot.pause(0.5)
        assert daemon.count("service.day") == asked  # no retry loop
        del daemon.errors["service.day"]
        await pilot.press("left")  # moving the cursor asks again
        await wait_until(pilot, lambda: "uptime 100.00%" in line.plain)


async def test_todays_cell_follows_check_events_on_the_line(daemon: FakeDaemon) -> None:
    app = fast_app(daemon.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await _loaded(pilot, app)
        line = app.screen.query_one(DayLine)
        await pilot.press("G")  # the api row
        await wait_until(pilot, lambda: "█ operational" in line.plain)
        check = make_check("api", 9.0, outcome="down", error_kind="timeout")
        check["started_at"] = "2026-11-21T23:30:00+00:00"
        await daemon.push("check", {"service_id": "api", "check": check, "daily": "mo"})
        await wait_until(pilot, lambda: "▃ major outage" in line.plain)


async def test_arrow_keys_move_the_cursor_in_a_list_longer_than_the_screen(
    sock_path: Path,
) -> None:
    snapshot = make_snapshot([make_service(f"s{i:02d}") for i in range(40)])
    async with FakeDaemon(sock_path, snapshot):
        app = fast_app(sock_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await _loaded(pilot, app)
            for _ in range(25):
                await pilot.press("down")
            assert app.dashboard.selected_id == "s25"
            assert "S25" in screen_text(app)  # scrolled into view
            await pilot.press("left")
            assert app.dashboard.days_back == 1  # the list did not eat the key
            await pilot.press("up", "end")
            assert app.dashboard.selected_id == "s39"
            assert "S39" in screen_text(app)
