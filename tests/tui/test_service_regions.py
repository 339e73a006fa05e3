"""The service detail on a cluster (issue 15): which regions see the service down, each
region's own uptime beside the quorum's; at 80×24 and at 300 columns, never colour alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from slamon_tui.screens.service import ServiceScreen
from slamon_tui.widgets.region_view import RegionView, regions_text

from .fake_daemon import FakeDaemon, make_service, make_snapshot
from .helpers import fast_app, screen_text, wait_until


def _region(down: bool, node: str, failures: int = 0) -> dict[str, Any]:
    return {
        "down": down,
        "failures": failures,
        "node": node,
        "last_at": "2026-11-21T23:00:00+00:00",
    }


def _snapshot() -> dict[str, Any]:
    api = make_service("api", "Public API", status="partial_outage", outcome="down")
    api["regions"] = {
        "eu-west": _region(False, "eu-1"),
        "us-east": _region(True, "us-1", failures=3),
        "ap": _region(False, "ap-1"),
    }
    api["status_note"] = "down from us-east only"
    web = make_service("web", "Website")  # a single node's service: no regions
    return make_snapshot([api, web], overall="partial_outage")


async def _open(app: Any, pilot: Any, sid: str) -> ServiceScreen:
    await wait_until(pilot, lambda: len(app.dashboard.order) == 2)
    while app.dashboard.selected_id != sid:
        await pilot.press("j")
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen))
    screen = app.screen
    assert isinstance(screen, ServiceScreen)
    await wait_until(pilot, lambda: screen.detail is not None)
    return screen


@pytest.mark.parametrize("size", [(80, 24), (300, 40)])
async def test_the_quorum_picture_names_the_failing_region(
    sock_path: Path, size: tuple[int, int]
) -> None:
    async with FakeDaemon(sock_path, _snapshot()) as daemon:
        app = fast_app(daemon.path)
        async with app.run_test(size=size) as pilot:
            await _open(app, pilot, "api")
            text = screen_text(app)
            lines = text.splitlines()
            # On the first screen, under the quorum uptimes: which regions fail, in words.
            assert "Uptime  24h 99.93%" in text
            assert "Regions  a major outage needs 2 of 3 regions (ap, eu-west, us-east)" in text
            assert "◆ Down from us-east only: a partial outage, not counted as downtime" in text
            us = next(ln for ln in lines if "us-east " in ln and "24h" in ln)
            # A symbol and a word say each region's state (colour adds to them).
            assert "✕ down" in us and "24h 87.50%" in us and "node us-1 · 3 failures" in us
            eu = next(ln for ln in lines if "eu-west " in ln and "24h" in ln)
            assert "✔ up" in eu and "24h 100.00%" in eu and "node eu-1" in eu
            if size[0] >= 120:  # 7 and 30 days beside the 24 h on a wide screen
                assert "7d 99.12%" in us and "30d 99.80%" in us and "30d 100.00%" in eu
            else:  # at 80 columns what says the region fails comes first, whole, and the
                # 30-day figures are left out rather than wrapped onto lines of their own
                assert us.index("3 failures") < us.index("24h") and "7d 99.12%" in us
                assert "30d" not in text.split("Regions", 1)[1].split("Uptime above", 1)[0]
            assert "that region's own checks" in text
            # Every line fits the width (nothing cut mid-word off the screen).
            assert all(len(ln.rstrip()) <= size[0] for ln in lines)


async def test_a_single_nodes_service_shows_no_regions(sock_path: Path) -> None:
    async with FakeDaemon(sock_path, _snapshot()) as daemon:
        app = fast_app(daemon.path)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await _open(app, pilot, "web")
            assert not screen.query_one(RegionView).display
            assert "Regions" not in screen_text(app)


def test_a_sick_nodes_region_is_said_not_counted() -> None:
    detail = {
        "regions": {"eu": _region(True, "eu-1"), "us": _region(False, "us-1")},
        "quorum": {"needed": 2, "regions": ["eu", "us"], "down": [], "not_counted": ["eu"]},
        "region_uptime_24h": {"eu": "50.00"},
        "status_note": None,
    }
    plain = regions_text(detail).plain
    assert "⚠ sick" in plain and "its node is sick: not counted" in plain
    us = next(ln for ln in plain.splitlines() if ln.startswith("  us "))
    assert "✔ up" in us and "24h —" in us  # no checks counted yet: no figure, not 0 %
    assert "Down from" not in plain
