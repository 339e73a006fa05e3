"""Issue 12, point 1: the first screen answers "what is broken and why".

A counts banner beside the overall status, problems first by default, ``s`` to sort, ``/``
to filter (Esc clears), ``n`` to the next problem, groups that fold, a line saying how many
problems are out of view and where, and a NOT LIVE banner that cannot pass for green.
Every test runs at 80×24 and 300×80.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from slamon_tui.models.dashboard import ServiceState
from slamon_tui.models.dashboard_view import build_lines, parse_filter
from slamon_tui.ui_state import UiState, state_file
from slamon_tui.widgets.status_banner import StatusBanner

from .conftest import demo_snapshot
from .fake_daemon import FakeDaemon, make_service, make_snapshot
from .helpers import fast_app, screen_text, wait_until

SIZES = [(80, 24), (300, 80)]


def fleet(n_up: int = 36) -> dict[str, object]:
    """40 services, as a NOC has them: 3 down (one in each of three groups), 1 degraded, 2 in
    maintenance, the rest up; the problems last in the daemon's order."""
    services = [
        make_service(
            f"up-{i:02d}",
            f"Healthy {i:02d}",
            group=("Core", "Edge", "Data")[i % 3],
            tags=["eu"] if i % 2 else ["us"],
        )
        for i in range(n_up)
    ]
    services += [
        make_service("maint-a", "Maint A", status="maintenance", group="Edge"),
        make_service("maint-b", "Maint B", status="maintenance", group="Data"),
        make_service("slowpoke", "Slowpoke", status="degraded", group="Core", last_latency=3100.0),
    ]
    for i, group in enumerate(("Core", "Edge", "Data")):
        services.append(
            make_service(
                f"down-{i}",
                f"Down {group}",
                status="major_outage",
                group=group,
                tags=["eu", "pci"],
                outcome="down",
                error_kind="connection_error",
            )
        )
    return make_snapshot(services, overall="major_outage")


def _banner(app: object) -> StatusBanner:
    return app.screen.query_one(StatusBanner)  # type: ignore[attr-defined, no-any-return]


@pytest.mark.parametrize("size", SIZES)
async def test_counts_banner_and_problems_first(daemon: FakeDaemon, size: tuple[int, int]) -> None:
    daemon.snapshot = fleet()
    app = fast_app(daemon.path)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.order) == 42)
        banner = _banner(app)
        assert "✕ Major Outage" in banner.plain
        assert "3 down · 1 degraded · 36 up · 2 in maintenance" in banner.plain
        # Grouped: the groups with the worst first, problems first within each.
        order = app.dashboard.order
        assert order[0] == "down-0"  # Core, major: the first line of the list
        problem_rows = [s for s in order if s.startswith(("down", "slow"))]
        for sid in problem_rows:
            group = next(x for x in app.dashboard.model.services.values() if x.id == sid).group
            members = [s for s in order if app.dashboard.model.services[s].group == group]
            assert members.index(sid) <= 1, (sid, members[:3])  # at the top of its group
        text = screen_text(app)
        assert "▾ Core · 14 services · ✕ 1 down · ▲ 1 degraded" in text


@pytest.mark.parametrize("size", SIZES)
async def test_problems_out_of_view_are_marked_and_n_jumps_to_them(
    daemon: FakeDaemon, size: tuple[int, int]
) -> None:
    # No groups: problems first means they are on top; sorted by name they scatter.
    services = [make_service(f"up-{i:03d}", f"Svc {i:03d}") for i in range(150)]
    services += [
        make_service(f"zz-{i}", f"Zz down {i}", status="major_outage", outcome="down")
        for i in range(3)
    ]
    daemon.snapshot = make_snapshot(services, overall="partial_outage")
    app = fast_app(daemon.path)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.order) == 153)
        assert app.dashboard.order[:3] == ["zz-0", "zz-1", "zz-2"]
        await pilot.press("s")  # by name: the three problems fall to the end
        await wait_until(pilot, lambda: app.dashboard.sort == "name")
        status = app.dashboard.query_one("#list-status")
        text = screen_text(app)
        assert "▼ 3 problems below ↓ (n: next)" in text
        assert status.has_class("-alert")
        await pilot.press("n")
        assert app.dashboard.selected_id == "zz-0"
        assert "Zz down 0" in screen_text(app)
        assert "▲" not in str(status.render())  # nothing above: they are all on screen now
        await pilot.press("g")  # back to the top: they are below again
        assert "▼ 3 problems below" in screen_text(app)
        await pilot.press("N")  # previous problem wraps around to the last one
        assert app.dashboard.selected_id == "zz-2"


@pytest.mark.parametrize("size", SIZES)
async def test_s_cycles_the_sort_and_slash_filters_k9s_style(
    daemon: FakeDaemon, size: tuple[int, int]
) -> None:
    daemon.snapshot = fleet()
    app = fast_app(daemon.path)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.order) == 42)
        sorts = []
        for _ in range(4):
            await pilot.press("s")
            sorts.append(app.dashboard.sort)
        assert sorts == ["name", "uptime", "latency", "problems"]
        await pilot.press("slash", *"tag:pci")
        await pilot.pause()
        assert sorted(app.dashboard.order) == ["down-0", "down-1", "down-2"]
        await pilot.press("enter")  # keeps the filter, back to the list
        assert app.dashboard.filter_text == "tag:pci"
        assert 'filter "tag:pci": 39 hidden' in screen_text(app)
        await pilot.press("escape")  # Esc clears it
        assert app.dashboard.filter_text == "" and len(app.dashboard.order) == 42
        await pilot.press("slash", *"degraded", "enter")
        assert app.dashboard.order == ["slowpoke"]
        await pilot.press("escape", "slash", *"group:edge maint", "enter")
        assert app.dashboard.order == ["maint-a"]
        # A filter hiding problems says so.
        await pilot.press("escape", "slash", *"healthy 0", "enter")
        hidden = 42 - len(app.dashboard.order)
        assert f'filter "healthy 0": {hidden} hidden, 4 problems among them' in screen_text(app)


@pytest.mark.parametrize("size", SIZES)
async def test_groups_fold_and_say_what_they_hide(
    daemon: FakeDaemon, size: tuple[int, int]
) -> None:
    daemon.snapshot = fleet()
    app = fast_app(daemon.path)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.order) == 42)
        await pilot.press("z")  # the cursor's group (Core) folds
        text = screen_text(app)
        assert "▸ Core · 14 services · ✕ 1 down · ▲ 1 degraded  (2 hidden: Enter opens)" in text
        assert "down-0" not in app.dashboard.order
        # A folded group with problems is where `n` stops.
        await pilot.press("G", "n")
        line = app.dashboard.view.lines[app.dashboard.cursor]
        assert line.key == ("group", "Core")
        await pilot.press("enter")  # unfolds it
        assert "down-0" in app.dashboard.order


@pytest.mark.parametrize("size", SIZES)
async def test_not_live_banner_is_neutral_and_says_so(
    sock_path: Path, size: tuple[int, int]
) -> None:
    daemon = FakeDaemon(sock_path, demo_snapshot())
    daemon.snapshot["overall"]["status"] = "operational"  # a green banner…
    await daemon.start()
    app = fast_app(sock_path)
    try:
        async with app.run_test(size=size) as pilot:
            await wait_until(pilot, lambda: len(app.dashboard.order) == 4)
            banner = _banner(app)
            assert banner.has_class("-operational")
            await daemon.stop()
            await wait_until(pilot, lambda: banner.has_class("-stale"))
            # …that turns neutral: no status colour, and says it is not live.
            assert not any(banner.has_class(f"-{s}") for s in ("operational", "major_outage"))
            assert banner.plain.startswith("⚠ NOT LIVE — last known: ✓ All Systems Operational")
            assert "reconnecting…" in banner.plain
            assert "NOT LIVE" in screen_text(app)
            await daemon.start()
            await wait_until(pilot, lambda: banner.has_class("-operational"))
            assert "NOT LIVE" not in banner.plain
    finally:
        await daemon.stop()


@pytest.mark.parametrize("size", SIZES)
async def test_sort_filter_and_folds_are_kept_between_runs(
    daemon: FakeDaemon, size: tuple[int, int]
) -> None:
    daemon.snapshot = fleet()
    app = fast_app(daemon.path)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: len(app.dashboard.order) == 42)
        await pilot.press("s", "slash", *"eu", "enter", "z")
    path = state_file()
    assert path.stat().st_mode & 0o777 == 0o600
    kept = UiState.load()
    assert (kept.sort, kept.filter) == ("name", "eu")
    assert kept.collapsed
    again = fast_app(daemon.path)
    async with again.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: again.dashboard.model.loaded)
        assert again.dashboard.sort == "name" and again.dashboard.filter_text == "eu"
        assert 'filter "eu"' in screen_text(again)


def test_filter_words() -> None:
    s = ServiceState(id="pay-eu", name="Payments", status="major_outage", group="Core")
    s.tags = ("eu", "pci")
    assert [t.field for t in parse_filter("tag:eu is:down group:core pay")] == [
        "tag",
        "status",
        "group",
        "",
    ]
    view = build_lines([s], filter_text="tag:eu is:down group:core pay")
    assert len(view.lines) == 2  # the group header and the row
    assert build_lines([s], filter_text="tag:us").filtered_out == 1
    assert build_lines([s], filter_text="problems").problems_filtered_out == 0
    assert build_lines([s], filter_text="up").problems_filtered_out == 1
