"""The demo backend behind ``slamon demo``: four local targets and a daemon, no network.

``python -m slamon_daemon.demo --dir DIR`` starts targets on 127.0.0.1 (healthy, slow, flaky,
down), writes DIR/slamon.toml, seeds DIR/slamon.db with 89 days of generated history (so the
90-day bar has something to show; the daemon labels it as demo data), and runs the daemon
with its socket at DIR/slamon.sock until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .auto_incidents import auto_title, cause_text
from .clock import SystemClock
from .config import Settings, load_settings
from .daemon import Daemon
from .logs import setup_logging
from .models import (
    SYSTEM_AUTHOR,
    Check,
    ErrorKind,
    Incident,
    IncidentUpdate,
    OutageEpisode,
    Outcome,
    Service,
    ServiceStatus,
)
from .state import LiveState, first_overall
from .store import open_store
from .store.base import Record
from .targets import Behaviour, Request, Target, free_port, response_bytes

logger = logging.getLogger("slamon.demo")

HISTORY_STEP = timedelta(minutes=30)


def _slow(rng: random.Random):  # type: ignore[no-untyped-def]
    async def behaviour(req: Request, w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(rng.uniform(0.35, 0.9))
        w.write(response_bytes(200, b'{"status":"UP"}'))

    return behaviour


def _flaky(rng: random.Random):  # type: ignore[no-untyped-def]
    async def behaviour(req: Request, w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(rng.uniform(0.01, 0.08))
        if rng.random() < 0.15:
            w.write(response_bytes(503, b"busy"))
        else:
            w.write(response_bytes(200, b"ok"))

    return behaviour


def _healthy() -> Behaviour:
    async def behaviour(req: Request, w: asyncio.StreamWriter) -> None:
        w.write(response_bytes(200, b"ok"))

    return behaviour


def demo_config(folder: Path, urls: dict[str, str]) -> str:
    return f"""# Written by `slamon demo`: every target runs on this machine.
[daemon]
database_url = "sqlite:///{folder / "slamon.db"}"
socket = "{folder / "slamon.sock"}"
owner_is_admin = true   # demo only: the local user may do everything without a login
node = "demo"
sla_target = 99.9

[[service]]
id = "checkout-api"
name = "Checkout API"
url = "{urls["healthy"]}health"
interval = "2s"
timeout = "2s"

[[service]]
id = "search"
name = "Search"
url = "{urls["slow"]}search/health"
interval = "2s"
timeout = "3s"
degraded_after = "500ms"

[[service]]
id = "payments"
name = "Payments"
url = "{urls["flaky"]}ping"
interval = "2s"
timeout = "2s"
confirm_failures = 3

[[service]]
id = "legacy-reports"
name = "Legacy Reports"
url = "{urls["down"]}status"
interval = "3s"
timeout = "2s"
"""


def generated_history(service_id: str, now: datetime, rng: random.Random) -> list[Check]:
    """89 days of plausible checks (one per 30 minutes) ending at the start of today."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    t = today - timedelta(days=89)
    out = []
    bad_days = {rng.randrange(89) for _ in range(3)}
    while t < today:
        day_index = (t - (today - timedelta(days=89))).days
        outcome, kind, latency = Outcome.UP, None, rng.uniform(8, 40)
        if service_id == "search":
            latency = rng.uniform(200, 700)
            if latency > 500:
                outcome = Outcome.DEGRADED
        elif service_id == "payments":
            if rng.random() < (0.08 if day_index in bad_days else 0.004):
                outcome, kind = Outcome.DOWN, ErrorKind.HTTP_ERROR
        elif service_id == "legacy-reports":
            if day_index >= 86 or (day_index in bad_days and rng.random() < 0.3):
                outcome, kind = Outcome.DOWN, ErrorKind.CONNECTION_ERROR
        elif day_index in bad_days and rng.random() < 0.03:
            outcome, kind = Outcome.DOWN, ErrorKind.TIMEOUT
        out.append(
            Check(
                service_id=service_id,
                started_at=t,
                latency_ms=latency,
                outcome=outcome,
                status_code=None
                if kind in (ErrorKind.CONNECTION_ERROR, ErrorKind.TIMEOUT)
                else (503 if kind else 200),
                error_kind=kind,
                error="generated demo data" if kind else None,
                node="demo",
                interval_s=HISTORY_STEP.total_seconds(),
            )
        )
        t += HISTORY_STEP
    return out


class _HistoryClock(SystemClock):
    """The clock of the replay: "now" is the start of the generated history."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def replay_history(
    services: list[Service], checks: list[Check], major_threshold: float
) -> tuple[list[Record], LiveState]:
    """Issue 12: the generated checks go through the live state exactly as probed ones do
    (confirmation, transitions, outage episodes), in time order: the records to store are
    the ones a daemon would have written, so the demo's bars, "since", episodes, incidents
    and SLA agree with one another."""
    ordered = sorted(checks, key=lambda c: c.started_at)
    state = LiveState(major_threshold, clock=_HistoryClock(ordered[0].started_at))
    state.set_services(services)
    records: list[Record] = [first_overall(state)]
    for check in ordered:
        changes = state.apply(check)
        records.append(check)
        records.extend(changes.transitions)
        if changes.episode is not None:
            records.append(changes.episode)
    return records, state


def past_incidents(records: list[Record], names: dict[str, str], after_s: float) -> list[Incident]:
    """The auto-incidents the incident tracker would have opened for the generated outages
    (a confirmed major outage lasting ``after_s``), resolved when they ended."""
    last: dict[tuple[str, datetime], OutageEpisode] = {}
    for r in records:
        if isinstance(r, OutageEpisode):
            last[(r.service_id, r.started_at)] = r
    out = []
    for ep in last.values():
        if (
            ep.ended_at is None
            or ep.worst_status is not ServiceStatus.MAJOR_OUTAGE
            or ep.duration_s(ep.ended_at) < after_s
        ):
            continue
        name = names.get(ep.service_id, ep.service_id)
        opened = ep.started_at + timedelta(seconds=after_s)
        message = (
            f"{name} recovered at {ep.ended_at:%Y-%m-%d %H:%M:%S} UTC after"
            f" {int(ep.duration_s(ep.ended_at) // 60)} min. (Generated demo history.)"
        )
        out.append(
            Incident(
                title=auto_title([name]),
                status="resolved",
                severity="high",
                priority=2,
                started_at=ep.started_at,
                created_by=SYSTEM_AUTHOR,
                services=(ep.service_id,),
                created_at=opened,
                description=(
                    f"Opened automatically: {name} failed every check from"
                    f" {ep.started_at:%Y-%m-%d %H:%M} UTC{cause_text(ep)}. Generated demo data."
                ),
                monitoring_at=ep.ended_at,
                resolved_at=ep.ended_at,
                resolved_by=SYSTEM_AUTHOR,
                root_cause="Generated demo data",
                updates=[IncidentUpdate("monitoring", message, SYSTEM_AUTHOR, ep.ended_at, True)],
                episode_service=ep.service_id,
                episode_started_at=ep.started_at,
            )
        )
    return out


async def seed_history(settings: Settings, now: datetime) -> None:
    rng = random.Random(7)
    async with open_store(settings.daemon.database_url) as store:
        await store.migrate()
        if await store.recent_checks("checkout-api", 1):
            return  # already seeded (a kept demo dir)
        await store.sync_services(settings.services)
        services = await store.list_services()
        checks = [c for s in services for c in generated_history(s.id, now, rng)]
        records, _state = replay_history(services, checks, settings.daemon.daily_major_threshold)
        for i in range(0, len(records), 2000):  # as the writer does: in batches
            await store.write_batch(records[i : i + 2000])
        names = {s.id: s.name for s in services}
        for inc in past_incidents(records, names, settings.daemon.auto_incident_after):
            await store.create_incident(inc)


async def run_demo(folder: Path) -> None:
    rng = random.Random()
    targets = {
        "healthy": Target(_healthy()),
        "slow": Target(_slow(rng)),
        "flaky": Target(_flaky(rng)),
    }
    for t in targets.values():
        await t.start()
    urls = {k: t.url for k, t in targets.items()}
    urls["down"] = f"http://127.0.0.1:{free_port()}/"  # nothing listens: connection refused
    cfg = folder / "slamon.toml"
    cfg.write_text(demo_config(folder, urls), encoding="utf-8")
    settings, _ = load_settings(cfg)
    setup_logging("INFO", False)
    now = datetime.now(UTC)
    await seed_history(settings, now)
    notice = f"Demo: bar history before today ({now:%Y-%m-%d}) is generated demo data"
    daemon = Daemon(settings, notice=notice, config_path=cfg)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, daemon.request_stop)
    loop.add_signal_handler(signal.SIGHUP, daemon.reload_soon)
    try:
        await daemon.run()
    finally:
        for t in targets.values():
            await t.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m slamon_daemon.demo")
    parser.add_argument("--dir", required=True, help="folder for the config, database and socket")
    args = parser.parse_args(argv)
    folder = Path(args.dir).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    asyncio.run(run_demo(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
