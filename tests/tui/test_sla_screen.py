"""The SLA report screen (S) on the fake daemon: rows, verdict words, the budget bar, the
month picker, last 30 days, and the export to a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from slamon_tui.screens.sla import SlaScreen, export_path, shift_month
from slamon_tui.widgets.sla_table import (
    budget_bar,
    latency_objective_text,
    outages_text,
    verdict_text,
)

from .conftest import demo_snapshot
from .fake_daemon import FakeDaemon
from .fake_incidents import render_report
from .helpers import fast_app, screen_text, wait_until
from .incident_helpers import last_params, loaded


async def open_sla(pilot, app) -> SlaScreen:  # type: ignore[no-untyped-def]
    await loaded(pilot, app)
    await pilot.press("S")
    await wait_until(
        pilot, lambda: isinstance(app.screen, SlaScreen) and app.screen.report is not None
    )
    await pilot.pause(0.1)
    return app.screen


def line_of(app, name: str) -> str:  # type: ignore[no-untyped-def]
    return next(ln for ln in screen_text(app).splitlines() if name in ln)


@pytest.mark.parametrize("size", [(80, 24), (200, 50)])
async def test_one_row_per_service_with_verdict_words_and_budget_bar(
    sock_path: Path, size: tuple[int, int]
) -> None:
    async with FakeDaemon(sock_path, demo_snapshot()) as fake:
        app = fast_app(sock_path)
        async with app.run_test(size=size) as pilot:
            await open_sla(pilot, app)
            assert last_params(fake, "sla.report") == {}  # this month, as the daemon says
            text = screen_text(app)
            assert "SLA report · 2026-11" in text and "in progress" in text
            assert "✕ 2 breached: flaky, down" in text
            api = line_of(app, "Public API")
            assert "99.9%" in api and "99.95%" in api and "✓ MET" in api
            assert "██████░░░░░░" in api and "50%" in api  # half the budget used
            flaky = line_of(app, "Flaky backend")
            assert "97.12%" in flaky and "✕ BREACHED" in flaky and "✕ over" in flaky
            assert "████████████" in flaky
            assert "Slow service †" in text  # partial period, with the note
            assert "monitored only from 2026-11-10 00:00 UTC" in text
            # The minutes in words too, and the other figures.
            for figure in (
                "21.6 of 43.2 min",
                "21.6 min left",
                "1201.0 min over",
                "5m 00s",
                "13d 23h",
                "44 ms",
                "✓ 97.12% ≤ 1000 ms",
            ):
                assert figure in text, figure
            if size[0] >= 150:
                for heading in (
                    "Target",
                    "Uptime",
                    "SLA",
                    "Error budget",
                    "Used",
                    "Remaining",
                    "Days below",
                    "Outages",
                    "MTTR",
                    "MTBF",
                    "p95",
                    "Latency objective",
                ):
                    assert heading in text, heading
                assert "3" in flaky.split("over")[-1]  # days below target
                assert "7 (+1)" in flaky  # an outage from before the period, apart
            else:
                assert "3 days below target" in text
                assert "7 outages (+1 from before)" in text  # wrapped between figures


async def test_month_picker_and_last_30_days(sock_path: Path) -> None:
    async with FakeDaemon(sock_path, demo_snapshot()) as fake:
        app = fast_app(sock_path)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_sla(pilot, app)
            await pilot.press("right")  # no month after the current one
            await pilot.pause(0.1)
            assert fake.count("sla.report") == 1 and screen.month == "2026-11"
            await pilot.press("left")
            await wait_until(pilot, lambda: "SLA report · 2026-10" in screen_text(app))
            assert last_params(fake, "sla.report") == {"month": "2026-10"}
            assert "complete" in screen_text(app)
            await pilot.press("left_square_bracket", "left_square_bracket")
            await wait_until(pilot, lambda: last_params(fake, "sla.report") == {"month": "2026-08"})
            await pilot.press("right_square_bracket")
            await wait_until(pilot, lambda: last_params(fake, "sla.report") == {"month": "2026-09"})
            await pilot.press("d")
            await wait_until(pilot, lambda: "SLA report · last 30 days" in screen_text(app))
            assert last_params(fake, "sla.report") == {"days": 30}
            await pilot.press("d")
            await wait_until(pilot, lambda: last_params(fake, "sla.report") == {"month": "2026-09"})
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is app.dashboard)


async def test_export_writes_the_daemon_text_to_a_file_and_says_where(
    sock_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "exports"
    monkeypatch.setenv("SLAMON_EXPORT_DIR", str(out))
    async with FakeDaemon(sock_path, demo_snapshot()) as fake:
        app = fast_app(sock_path)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_sla(pilot, app)
            await pilot.press("x")
            target = out / "slamon-sla-2026-11.md"
            await wait_until(pilot, lambda: target.exists())
            assert last_params(fake, "sla.report") == {"month": "2026-11", "format": "md"}
            report = fake.incidents._sla_report({}, {"role": "viewer"}, 0)
            assert target.read_text(encoding="utf-8") == render_report(report, "md")
            await wait_until(pilot, lambda: screen.last_export == target)
            assert any(str(target) in str(n.message) for n in app._notifications)

            await pilot.press("x")  # again: never over the first file
            second = out / "slamon-sla-2026-11-2.md"
            await wait_until(pilot, lambda: second.exists())
            assert target.read_text(encoding="utf-8").startswith("# SLA report")

            await pilot.press("f", "d")  # csv of the last 30 days
            await wait_until(pilot, lambda: "exports as csv" in screen_text(app))
            await wait_until(pilot, lambda: screen.report is not None and screen.last_days)
            await pilot.press("x")
            csv = out / "slamon-sla-last-30-days.csv"
            await wait_until(pilot, lambda: csv.exists())
            assert last_params(fake, "sla.report") == {"days": 30, "format": "csv"}
            assert csv.read_text(encoding="utf-8").startswith("id,target,uptime,met")


async def test_export_into_the_current_directory_without_the_variable(
    sock_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLAMON_EXPORT_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    async with FakeDaemon(sock_path, demo_snapshot()):
        app = fast_app(sock_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await open_sla(pilot, app)
            await pilot.press("f", "f")  # json
            await pilot.press("x")
            await wait_until(pilot, lambda: (tmp_path / "slamon-sla-2026-11.json").exists())


async def test_export_failure_is_said_and_nothing_breaks(
    sock_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv("SLAMON_EXPORT_DIR", str(blocker))
    async with FakeDaemon(sock_path, demo_snapshot()):
        app = fast_app(sock_path)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_sla(pilot, app)
            await pilot.press("x")
            await wait_until(
                pilot, lambda: any("Export failed" in str(n.message) for n in app._notifications)
            )
            assert screen.last_export is None and app.screen is screen


def test_outages_from_before_the_period_are_said() -> None:
    # The demo's Legacy Reports: down since the month before, "0 outages" and nothing more
    # read as if the month had been calm.
    row = {"episodes": 0, "episodes_from_before": 1}
    assert outages_text(row) == "0 (+1)"
    assert outages_text(row, long=True) == "0 outages (+1 from before)"
    assert outages_text({"episodes": 1}, long=True) == "1 outage"
    assert outages_text({"episodes": 3, "episodes_from_before": 0}) == "3"


def test_budget_bar_reads_without_colour() -> None:
    assert budget_bar({"budget_min": 40.0, "consumed_min": 10.0}, 12) == ("███", "░" * 9, "")
    assert budget_bar({"budget_min": 40.0, "consumed_min": 0.01}, 12)[0] == "█"  # spent shows
    assert budget_bar({"budget_min": 40.0, "consumed_min": 80.0}, 12) == ("█" * 12, "", "✕ over")
    assert budget_bar({"budget_min": 0.0, "consumed_min": 0.0}, 4) == ("", "····", "")
    assert [verdict_text(v) for v in (True, False, None)] == ["✓ MET", "✕ BREACHED", "— no data"]
    assert latency_objective_text(None) == "—"
    assert latency_objective_text(
        {"threshold_ms": 500.0, "target_pct": 99.0, "compliance_pct": 98.5, "met": False}
    ) == ("✕ 98.50% ≤ 500 ms (target 99%)")


def test_months_and_export_names(tmp_path: Path) -> None:
    assert shift_month("2026-01", -1) == "2025-12"
    assert shift_month("2026-12", 1) == "2027-01"
    assert export_path(tmp_path, "../../etc/passwd") == tmp_path / "passwd"
    (tmp_path / "r.md").write_text("", encoding="utf-8")
    (tmp_path / "r-2.md").write_text("", encoding="utf-8")
    assert export_path(tmp_path, "r.md") == tmp_path / "r-3.md"
