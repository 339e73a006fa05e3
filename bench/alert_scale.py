"""The alert engine at scale (issue 14 point 3): SLO ledger memory, minute tick, seeding.

    .venv/bin/python bench/alert_scale.py [--services 50000] [--tick-services 10000 50000]
        [--seed-services 10000]

1. **Ledger memory**: RSS added by ``--services`` SLO ledgers, each fed 6 hours of checks
   every 60 s and 73 seeded hours (a full ring), measured in a fresh process each for the
   compact ledger and for the int64 layout it replaced (six ``array('q')`` rings, kept here).
2. **Minute tick**: CPU of one burn-rate tick (``engine.tick`` at a new minute) with 1 % of
   the services failing now and then, the rest healthy for 3 days.
3. **Seeding after a start**: the SLO ledgers from a SQLite store of ``--seed-services``
   services (2 hourly rollups and 10 checks each): one read per service and kind (as before)
   against ``store.slo_seed`` (two reads for all).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from array import array
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import PYTHON, print_machine, rss_bytes

T0 = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)


def _old_ledger() -> list[array]:  # type: ignore[type-arg]
    m, h = 360, 73
    return [array("q", [-1] * m), array("q", [0] * m), array("q", [0] * m)] + [
        array("q", [-1] * h),
        array("q", [0] * h),
        array("q", [0] * h),
    ]


def memory_child(kind: str, n: int) -> None:
    """Run in a child: build ``n`` full ledgers, print the RSS added in bytes."""
    import gc
    import os

    from slamon_daemon.alerts.burnrate import SloLedger

    gc.collect()
    before = rss_bytes(os.getpid())[0]
    keep: list[object] = []
    for _ in range(n):
        if kind == "old":
            led = _old_ledger()
            for i in range(360):  # what filling does to the old layout: stamps and counts
                led[0][i], led[2][i] = i, 1
            keep.append(led)
        else:
            new = SloLedger()
            for i in range(73):
                new.seed_hour(T0 + timedelta(hours=i), 0, 60)
            for i in range(360):
                new.add(T0 + timedelta(hours=67, minutes=i), False, hours=False)
            keep.append(new)
    gc.collect()
    print(rss_bytes(os.getpid())[0] - before)


def memory(n: int) -> dict[str, int]:
    out = {}
    for kind in ("old", "new"):
        code = (
            f"import sys; sys.path[:0] = [{str(Path(__file__).parent)!r}];"
            f" import alert_scale; alert_scale.memory_child({kind!r}, {n})"
        )
        out[kind] = int(subprocess.check_output([PYTHON, "-c", code]).strip())
    return out


def tick_cpu(n: int) -> tuple[float, float]:
    """CPU seconds of one minute tick over ``n`` services: (all evaluated, shortcut)."""
    from slamon_daemon.alerts.burnrate import SloLedger
    from slamon_daemon.alerts.config import AlertSettings
    from slamon_daemon.alerts.engine import AlertEngine
    from slamon_daemon.alerts.state import ServiceInfo

    settings = AlertSettings()
    services = [ServiceInfo(id=f"s{i}", name=f"s{i}") for i in range(n)]
    engine = AlertEngine(settings.alerts, [], services)
    now = T0 + timedelta(days=4)
    for i in range(n):
        led = engine.ledgers[f"s{i}"] = SloLedger()
        for h in range(73):
            led.seed_hour(now - timedelta(hours=h), 0, 60)
        for m in range(360):
            led.add(now - timedelta(minutes=m), i % 100 == 0 and m % 50 == 0, hours=False)
    results = []
    real = SloLedger.quiet
    for shortcut in (False, True):
        SloLedger.quiet = real if shortcut else (lambda self, now: False)  # type: ignore[method-assign]
        engine._slo_minute = None
        t = time.process_time()
        engine.tick(now)
        results.append(time.process_time() - t)
    SloLedger.quiet = real  # type: ignore[method-assign]
    return results[0], results[1]


async def seeding(n: int) -> tuple[float, float]:
    """CPU seconds to read the ledgers' seed: per service (before), one read each (after)."""
    from slamon_daemon.models import Check, Outcome
    from slamon_daemon.store import SqliteStore

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "db.sqlite")
        await store.open()
        try:
            await store.migrate()
            checks = [
                Check(f"s{i}", now - timedelta(minutes=7 * k + 1), 5.0, Outcome.UP)
                for i in range(n)
                for k in range(10)
            ]
            for j in range(0, len(checks), 5000):
                await store.write_checks(checks[j : j + 5000])
            hours_since = (now - timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
            recent_since = now - timedelta(hours=6)
            t = time.process_time()
            for i in range(n):
                await store.hourly_rollups(f"s{i}", hours_since)
                await store.checks_between(f"s{i}", recent_since)
            before = time.process_time() - t
            t = time.process_time()
            await store.slo_seed(hours_since, recent_since)
            after = time.process_time() - t
        finally:
            await store.close()
    return before, after


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=50_000)
    ap.add_argument("--tick-services", type=int, nargs="+", default=[10_000, 50_000])
    ap.add_argument("--seed-services", type=int, default=10_000)
    args = ap.parse_args()
    print_machine()
    mem = memory(args.services)
    print(
        f"ledgers x{args.services}: int64 {mem['old'] / 2**20:.0f} MB,"
        f" compact {mem['new'] / 2**20:.0f} MB ({mem['old'] / max(mem['new'], 1):.1f}x less);"
        f" {mem['new'] / args.services / 1024:.2f} KB a service"
    )
    for n in args.tick_services:
        full, short = tick_cpu(n)
        print(
            f"minute tick x{n} (1 % failing): every service {full * 1000:.0f} ms,"
            f" quiet ones skipped {short * 1000:.0f} ms ({full / max(short, 1e-9):.0f}x)"
        )
    before, after = asyncio.run(seeding(args.seed_services))
    print(
        f"seed reads x{args.seed_services}: per service {before:.2f} s CPU,"
        f" slo_seed {after:.2f} s CPU ({before / max(after, 1e-9):.0f}x)"
    )


if __name__ == "__main__":
    sys.exit(main())
