"""``slamon report`` as a user runs it (the console script in a subprocess) on a SQLite file
seeded through the store, and the same figures from the ``sla.report`` feed method of a daemon
over that database (SPEC §3.5: one code path for the CLI, the TUI and the API)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from slamon_daemon.config import load_settings
from slamon_daemon.daemon import Daemon
from slamon_daemon.models import Check, ErrorKind, OutageEpisode, Outcome, ServiceStatus
from slamon_daemon.store import open_store
from slamon_daemon.targets import free_port
from tests.daemon.support import FeedClient, remove_dir, short_dir, write_config

OCT = datetime(2026, 10, 1, tzinfo=UTC)


def slamon(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the ``slamon`` console script with no SLAMON_* variables."""
    script = Path(sys.executable).parent / "slamon"
    cmd = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "import sys; from slamon_tui.cli import main; sys.exit(main())"]
    )
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("SLAMON_")}
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, timeout=60, env=env, cwd=cwd
    )


@pytest.fixture
def folder() -> Iterator[Path]:
    d = short_dir()
    yield d
    remove_dir(d)


async def seeded(folder: Path) -> Path:
    """A config of two services and a database holding October 2026 for them."""
    dead = f"http://127.0.0.1:{free_port()}/"
    cfg = write_config(
        folder / "slamon.toml",
        db_url=f"sqlite:///{folder}/db.sqlite",
        socket=folder / "s.sock",
        services=[
            {"id": "api", "url": dead, "interval": "1h"},
            {
                "id": "payments",
                "url": dead,
                "interval": "1h",
                "sla_target": 99.5,
                "latency_objective_under": "1000ms",
                "latency_objective_percent": 95,
            },
        ],
        extra_daemon=f'spool_dir = "{folder}/spool"\nsecret_file = "{folder}/jwt.secret"',
    )
    settings, _ = load_settings(cfg)
    rows: list[Any] = []
    for i in range(31 * 24):
        t = OCT + timedelta(hours=i)
        rows.append(Check("api", t, 80.0, Outcome.UP, interval_s=3600.0))
        failed = i in (100, 101, 102, 103, 104)
        rows.append(
            Check(
                "payments",
                t,
                1500.0 if i % 10 == 0 else 300.0,
                Outcome.DOWN if failed else Outcome.UP,
                error_kind=ErrorKind.HTTP_ERROR if failed else None,
                interval_s=3600.0,
            )
        )
    rows.append(
        OutageEpisode(
            "payments",
            OCT + timedelta(hours=100),
            ServiceStatus.MAJOR_OUTAGE,
            ended_at=OCT + timedelta(hours=105),
            cause="http_error",
            failed_checks=5,
        )
    )
    async with open_store(settings.daemon.database_url) as store:
        await store.migrate()
        await store.sync_services(settings.services)
        await store.write_batch(rows)
    return cfg


def without_generated(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k != "generated_at"}


async def test_report_cli_gives_the_feed_methods_figures(folder: Path) -> None:
    cfg = await seeded(folder)
    run = await asyncio.to_thread(
        slamon, "report", "--config", str(cfg), "--month", "2026-10", "--format", "json", cwd=folder
    )
    assert run.returncode == 0, run.stderr
    cli = json.loads(run.stdout)
    # Hand-computed: payments failed 5 of 744 hourly checks (5 h down); 90 % answered ≤ 1 s.
    pay = next(s for s in cli["services"] if s["id"] == "payments")
    assert (pay["uptime"], pay["met"], pay["consumed_min"], pay["episodes"]) == (
        "99.32",
        False,
        300.0,
        1,
    )
    assert pay["budget_min"] == 223.2  # (1 − 0.995) × 31 × 1440
    assert pay["latency_objective"]["met"] is False
    assert cli["breached"] == ["payments"] and cli["period"]["complete"] is True

    md = await asyncio.to_thread(
        slamon, "report", "--config", str(cfg), "--month", "2026-10", cwd=folder
    )
    assert md.returncode == 0, md.stderr
    assert "BREACHED" in md.stdout and "| api |" in md.stdout
    csv_run = await asyncio.to_thread(
        slamon, "--config", str(cfg), "report", "--month", "2026-10", "--format", "csv", cwd=folder
    )
    assert csv_run.returncode == 0, csv_run.stderr
    table = list(csv.DictReader(io.StringIO(csv_run.stdout)))
    assert [(r["id"], r["met"]) for r in table] == [("api", "true"), ("payments", "false")]

    settings, _ = load_settings(cfg)
    daemon = Daemon(settings)
    task = asyncio.create_task(daemon.run())
    await asyncio.wait_for(daemon.started.wait(), 30)
    c = await FeedClient.connect(folder / "s.sock")
    try:
        feed = await c.result("sla.report", {"month": "2026-10"})
        assert without_generated(feed) == without_generated(cli)
        # The text renderings are the same too, but for the line saying when it was made.
        feed_md = await c.result("sla.report", {"month": "2026-10", "format": "md"})
        assert feed_md["filename"] == "slamon-sla-2026-10.md"
        assert [ln for ln in feed_md["text"].splitlines() if "generated" not in ln] == [
            ln for ln in md.stdout.splitlines() if "generated" not in ln
        ]
        # Run again while the daemon holds the database: still the same figures.
        again = await asyncio.to_thread(
            slamon,
            "report",
            "--config",
            str(cfg),
            "--month",
            "2026-10",
            "--format",
            "json",
            "--service",
            "payments",
            cwd=folder,
        )
        assert again.returncode == 0, again.stderr
        one = await c.result("sla.report", {"month": "2026-10", "service": "payments"})
        assert without_generated(json.loads(again.stdout)) == without_generated(one)
        assert [s["id"] for s in one["services"]] == ["payments"]
        bad = await c.call("sla.report", {"month": "2026-13"})
        assert bad["error"]["code"] == "invalid_params"
        assert "month must look like 2026-10, got '2026-13'" in bad["error"]["message"]
        unknown = await c.call("sla.report", {"service": "nope"})
        assert unknown["error"]["code"] == "not_found"
    finally:
        await c.close()
        daemon.request_stop()
        await asyncio.wait_for(task, 30)


async def test_report_cli_refusals_and_output_file(folder: Path) -> None:
    cfg = await seeded(folder)
    unknown = await asyncio.to_thread(
        slamon,
        "report",
        "--config",
        str(cfg),
        "--month",
        "2026-10",
        "--service",
        "nope",
        cwd=folder,
    )
    assert unknown.returncode == 1
    assert "no service 'nope'" in unknown.stderr and unknown.stdout == ""

    bad_month = await asyncio.to_thread(
        slamon, "report", "--config", str(cfg), "--month", "2026-13", cwd=folder
    )
    assert bad_month.returncode == 2
    assert "slamon report: month must look like 2026-10, got '2026-13'" in bad_month.stderr
    assert bad_month.stdout == ""

    both = await asyncio.to_thread(
        slamon, "report", "--config", str(cfg), "--month", "2026-10", "--days", "7", cwd=folder
    )
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
    backwards = await asyncio.to_thread(
        slamon,
        "report",
        "--config",
        str(cfg),
        "--from",
        "2026-10-05",
        "--to",
        "2026-10-01",
        cwd=folder,
    )
    assert backwards.returncode == 2 and "to must not be before from" in backwards.stderr

    out = folder / "reports" / "october.csv"
    out.parent.mkdir()
    wrote = await asyncio.to_thread(
        slamon,
        "report",
        "--config",
        str(cfg),
        "--month",
        "2026-10",
        "--format",
        "csv",
        "-o",
        str(out),
        cwd=folder,
    )
    assert wrote.returncode == 0, wrote.stderr
    assert wrote.stdout == ""
    assert f"wrote {out}" in wrote.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [r["id"] for r in rows] == ["api", "payments"]
    assert rows[1]["uptime"] == "99.32"
