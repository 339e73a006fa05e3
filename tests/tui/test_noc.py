"""Issue 12, point 2: NOC mode (``slamon --noc``) never needs a key.

Read-only, a tall banner with the counts, problems pinned on every page while it pages
through the rest by itself, NOT LIVE while the feed is down and live again by itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from slamon_tui.app import make_app
from slamon_tui.models.dashboard_view import ServiceLine
from slamon_tui.screens import noc as noc_module
from slamon_tui.screens.noc import NocScreen, noc_page
from slamon_tui.widgets.status_banner import StatusBanner

from .fake_daemon import FakeDaemon, make_service, make_snapshot
from .helpers import FAST_RETRY, screen_text, wait_until

SIZES = [(80, 24), (120, 40), (300, 80)]


def noc_fleet(n: int = 40, down: int = 3) -> dict[str, object]:
    services = [make_service(f"svc-{i:02d}", f"Service {i:02d}") for i in range(n - down)]
    services += [
        make_service(
            f"bad-{i}",
            f"Broken {i}",
            status="major_outage",
            outcome="down",
            error_kind="timeout",
        )
        for i in range(down)
    ]
    return make_snapshot(services, overall="partial_outage")


def _ids(lines: list[object]) -> list[str]:
    return [x.service_id for x in lines if isinstance(x, ServiceLine)]


def test_noc_page_pins_problems_on_every_page() -> None:
    lines: list[object] = [ServiceLine(f"p{i}", True) for i in range(3)]
    lines += [ServiceLine(f"h{i}", False) for i in range(20)]
    first, pages = noc_page(lines, 10, 0)  # type: ignore[arg-type]
    assert pages == 3 and _ids(first)[:3] == ["p0", "p1", "p2"] and len(first) == 10
    third, _ = noc_page(lines, 10, 2)  # type: ignore[arg-type]
    assert _ids(third)[:3] == ["p0", "p1", "p2"] and _ids(third)[3:] == [
        "h14",
        "h15",
        "h16",
        "h17",
        "h18",
        "h19",
    ]
    assert noc_page(lines, 10, 3)[0] == first  # wraps around
    # More problems than room: they take the first pages.
    many: list[object] = [ServiceLine(f"p{i}", True) for i in range(12)]
    many += [ServiceLine("h0", False)]
    page0, pages = noc_page(many, 5, 0)  # type: ignore[arg-type]
    assert pages == 3 and all(x.is_problem for x in page0)  # type: ignore[attr-defined]
    assert noc_page(lines[:4], 10, 5)[1] == 1  # type: ignore[arg-type]


@pytest.mark.parametrize("size", SIZES)
async def test_noc_shows_every_problem_pages_by_itself_and_survives_a_restart(
    sock_path: Path, size: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(noc_module, "PAGE_S", 0.3)
    daemon = FakeDaemon(sock_path, noc_fleet())
    daemon.auth.anonymous_read = True
    await daemon.start()
    app = make_app(sock_path, noc=True, **FAST_RETRY)
    try:
        async with app.run_test(size=size) as pilot:
            screen = app.dashboard
            assert isinstance(screen, NocScreen)
            await wait_until(pilot, lambda: len(screen.model.services) == 40)
            banner = app.screen.query_one(StatusBanner)
            assert "3 down · 37 up" in banner.plain
            assert banner.size.height == 5  # the tall banner
            text = screen_text(app)
            for i in range(3):
                assert f"Broken {i}" in text  # every problem, without a key
            fits = screen.table.size.height >= 40
            if not fits:
                assert "pinned on top" in text
                shown = set(_ids(screen.table.lines))
                await wait_until(pilot, lambda: set(_ids(screen.table.lines)) != shown)
                text = screen_text(app)
                for i in range(3):
                    assert f"Broken {i}" in text  # still there on the next page
            # The daemon goes away: NOT LIVE, in neutral colours; back by itself.
            await daemon.stop(goodbye="restarting")
            await wait_until(pilot, lambda: banner.has_class("-stale"))
            assert "NOT LIVE" in screen_text(app)
            assert not banner.has_class("-partial_outage")
            daemon.snapshot = noc_fleet(down=1)
            await daemon.start()
            await wait_until(pilot, lambda: not banner.has_class("-stale"))
            await wait_until(pilot, lambda: "1 down · 39 up" in banner.plain)
            assert "NOT LIVE" not in screen_text(app)
            # Read-only: no key opens anything that edits.
            assert app.check_action("incidents", ()) is False
            assert app.check_action("admin", ()) is False
            assert app.check_action("login", ()) is False
            assert app.check_action("quit", ()) is True
            assert app.screen is screen  # no login screen, no dialog: nothing needs a key
    finally:
        await daemon.stop()
