"""Service detail methods and maintenance windows through a real daemon and socket."""

from __future__ import annotations

import asyncio
import json
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from slamon_daemon.config import load_settings
from slamon_daemon.daemon import Daemon
from slamon_daemon.models import Check, ErrorKind, Outcome
from slamon_daemon.rollup import sum_rollups
from slamon_daemon.store import open_store
from slamon_daemon.targets import Target, respond


class Client:
    def __init__(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.r, self.w, self.n = r, w, 0

    @classmethod
    async def open(cls, sock: Path) -> Client:
        r, w = await asyncio.open_unix_connection(str(sock))
        await r.readline()
        return cls(r, w)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.n += 1
        self.w.write(
            json.dumps({"id": self.n, "method": method, "params": params}).encode() + b"\n"
        )
        await self.w.drain()
        while True:
            msg = json.loads(await self.r.readline())
            if msg.get("id") == self.n:
                return msg

    def close(self) -> None:
        self.w.close()


def _write_config(folder: Path, url: str, extra: str = "") -> Path:
    p = folder / "slamon.toml"
    p.write_text(
        f'[daemon]\ndatabase_url = "sqlite:///{folder}/db.sqlite"\nsocket = "{folder}/s.sock"\n'
        f'write_flush_interval = "100ms"\nowner_is_admin = true\n\n[[service]]\nid = "api"\nurl = "{url}"\n'
        f'interval = "300ms"\ntimeout = "1s"\n{extra}',
        encoding="utf-8",
    )
    return p


async def _seed(db_url: str, day: datetime) -> None:
    """One hand-computable day: 10 checks, 2 failed (timeout), latencies 10..80 ms."""
    checks = []
    for i in range(10):
        failed = i in (3, 7)
        checks.append(
            Check(
                service_id="api",
                started_at=day + timedelta(hours=i),
                latency_ms=10.0 * (i + 1),
                outcome=Outcome.DOWN if failed else Outcome.UP,
                error_kind=ErrorKind.TIMEOUT if failed else None,
                interval_s=60.0,
            )
        )
    async with open_store(db_url) as store:
        await store.migrate()
        await store.write_checks(checks)


async def test_service_detail_methods_give_hand_computed_figures() -> None:
    folder = Path(tempfile.mkdtemp(prefix="slamon-", dir="/tmp"))
    day = (datetime.now(UTC) - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    await _seed(f"sqlite:///{folder}/db.sqlite", day)
    async with Target(respond(200)) as t:
        settings, _ = load_settings(_write_config(folder, t.url))
        daemon = Daemon(settings)
        runner = asyncio.create_task(daemon.run())
        await asyncio.wait_for(daemon.started.wait(), 20)
        c = await Client.open(folder / "s.sock")
        try:
            d = (await c.call("service.day", id="api", day=day.date().isoformat()))["result"]
            # 8 of 10 up; 2 failed × 60 s interval; latencies of answered checks only.
            assert d["uptime"] == "80.00"
            assert d["status"] == "mo"  # 80 % < 99 %
            assert d["downtime_s"] == 120.0
            f = d["figures"]
            assert (f["checks"], f["up"], f["down"]) == (10, 8, 2)
            assert f["errors"] == {"timeout": 2}
            assert f["latency_min_ms"] == 10.0 and f["latency_max_ms"] == 100.0
            # answered: 10,20,30,50,60,70,90,100 → avg 53.75; nearest-rank p50 = 4th = 50
            assert f["latency_avg_ms"] == 53.75
            assert abs(f["p50_ms"] - 50.0) <= 0.5

            cal = (await c.call("service.calendar", id="api", months=2))["result"]["months"]
            cells = {x["day"]: x["status"] for m in cal for x in m["days"]}
            assert cells[day.date().isoformat()] == "mo"
            assert cells[(day - timedelta(days=1)).date().isoformat()] == "nd"

            await asyncio.sleep(1.5)  # some live checks land and are written
            series = (await c.call("service.series", id="api", range="1h"))["result"]
            assert series["bucket_s"] == 60 and len(series["points"]) == 60
            gaps = [p for p in series["points"] if p["checks"] == 0]
            assert gaps and all(p["p50_ms"] is None and p["avg_ms"] is None for p in gaps)
            assert series["points"][-1]["checks"] > 0

            week = (await c.call("service.series", id="api", range="7d"))["result"]
            assert len(week["points"]) == 168
            assert sum(p["checks"] for p in week["points"]) >= 10

            g = (await c.call("service.get", id="api"))["result"]
            assert g["windows"]["7d"]["down"] == 2
            assert g["uptime"]["24h"] == "100.00"
            assert g["service"]["sla_target"] == 99.9
            assert len(g["recent_checks"]) > 0

            bad = await c.call("service.series", id="api", range="2h")
            assert bad["error"]["code"] == "invalid_params"
            missing = await c.call("service.get", id="nope")
            assert missing["error"]["code"] == "not_found"
        finally:
            c.close()
            daemon.request_stop()
            await asyncio.wait_for(runner, 20)


async def test_maintenance_window_marks_checks_and_status_and_is_excluded_from_uptime() -> None:
    folder = Path(tempfile.mkdtemp(prefix="slamon-", dir="/tmp"))
    async with Target(respond(503)) as t:
        settings, _ = load_settings(_write_config(folder, t.url))
        daemon = Daemon(settings)
        runner = asyncio.create_task(daemon.run())
        await asyncio.wait_for(daemon.started.wait(), 20)
        c = await Client.open(folder / "s.sock")
        await c.call("subscribe", topics=["maintenance", "status"])
        try:
            now = datetime.now(UTC)
            created = await c.call(
                "maintenance.create",
                title="Upgrade",
                start=(now - timedelta(minutes=1)).isoformat(),
                end=(now + timedelta(hours=1)).isoformat(),
                services=["api"],
            )
            w = created["result"]
            assert w["title"] == "Upgrade" and w["services"] == ["api"] and w["id"] > 0

            async def in_maintenance() -> bool:
                s = (await c.call("status.get"))["result"]["services"][0]
                return s["status"] == "maintenance"

            for _ in range(50):
                if await in_maintenance():
                    break
                await asyncio.sleep(0.1)
            assert await in_maintenance()
            await asyncio.sleep(1.0)
            listed = (await c.call("maintenance.list"))["result"]
            assert [x["id"] for x in listed] == [w["id"]]
            bad = await c.call(
                "maintenance.create",
                title="x",
                start="2026-11-22T02:00:00",
                end="2026-11-22T01:00:00Z",
            )
            assert bad["error"]["code"] == "invalid_params" and "offset" in bad["error"]["message"]
            cancelled = (await c.call("maintenance.cancel", id=w["id"]))["result"]
            assert cancelled["cancelled_at"] is not None
            assert (await c.call("maintenance.list"))["result"] == []
            assert (await c.call("maintenance.cancel", id=999))["error"]["code"] == "not_found"
        finally:
            c.close()
            daemon.request_stop()
            await asyncio.wait_for(runner, 20)
    async with open_store(settings.daemon.database_url) as store:
        checks = await store.recent_checks("api", 10_000)
        in_window = [x for x in checks if x.maintenance]
        assert in_window, "checks go on during maintenance, marked"
        today = await store.daily_rollups(datetime.now(UTC).date())
        r = today[0]
        assert r.maintenance == len(in_window)
        # Maintenance checks count neither as down nor toward downtime.
        assert r.down == len([x for x in checks if x.failed and not x.maintenance])
        # A failed check stands for its interval, or until the next check when that one
        # started sooner (a late check followed by one on time: README "downtime").
        ordered = sorted(checks, key=lambda x: x.started_at)
        expected = sum(
            min(x.interval_s, (nxt.started_at - x.started_at).total_seconds())
            if nxt is not None
            else x.interval_s
            for x, nxt in zip(ordered, [*ordered[1:], None], strict=True)
            if x.failed and not x.maintenance
        )
        assert abs(r.downtime_s - expected) < 0.01, (r.downtime_s, expected)
        episodes = await store.episodes("api")
        assert all(e.failed_checks <= r.down for e in episodes)


async def test_service_get_windows_equal_the_hours_they_cover() -> None:
    """service.get reads its 7-day window from whole days' daily rollups and the hourly ones
    of its edges: the figures are those of the 168 hourly rollups it covers."""
    folder = Path(tempfile.mkdtemp(prefix="slamon-", dir="/tmp"))
    db = f"sqlite:///{folder}/db.sqlite"
    now = datetime.now(UTC)
    checks = [
        Check(
            service_id="api",
            started_at=now - timedelta(minutes=37 * i + 5),
            latency_ms=5.0 + (i * 7) % 90,
            outcome=Outcome.DOWN if i % 11 == 3 else Outcome.UP,
            error_kind=ErrorKind.TIMEOUT if i % 11 == 3 else None,
            interval_s=60.0,
        )
        for i in range(360)  # every 37 min over 9 days
    ]
    async with open_store(db) as store:
        await store.migrate()
        await store.write_checks(checks)
    # The live service is checked once a day: its slot almost never falls in this test.
    async with Target(respond(200)) as t:
        p = _write_config(folder, t.url)
        p.write_text(p.read_text().replace('interval = "300ms"', 'interval = "1d"'))
        settings, _ = load_settings(p)
        daemon = Daemon(settings)
        runner = asyncio.create_task(daemon.run())
        await asyncio.wait_for(daemon.started.wait(), 20)
        c = await Client.open(folder / "s.sock")
        try:
            g = (await c.call("service.get", id="api"))["result"]
            at = datetime.now(UTC)
            # This month's SLA row, from service.get's own reads, is sla.report's row.
            report = (await c.call("sla.report", service="api"))["result"]
        finally:
            c.close()
            daemon.request_stop()
            await asyncio.wait_for(runner, 20)
    async with open_store(db) as store:
        first = at.replace(minute=0, second=0, microsecond=0) - timedelta(hours=167)
        hours = await store.hourly_rollups("api", first)
    assert len(hours) > 150
    # (the figures that do not move with the time of the call)
    same = "uptime checks failed_checks downtime_s consumed_min days_below_target episodes"
    same += " mttr_s p95_ms monitored_from target met latency_objective"
    assert g["sla"]["period"] == report["period"]["label"]
    assert {k: g["sla"][k] for k in same.split()} == {
        k: report["services"][0][k] for k in same.split()
    }
    assert g["sla"]["checks"] > 0
    for name, rows in (
        ("7d", hours),
        ("24h", [h for h in hours if h.start > at - timedelta(hours=24)]),
    ):
        want = sum_rollups(rows, "api", date.min)
        got = g["windows"][name]
        assert (got["checks"], got["down"], got["errors"]) == (want.checks, want.down, want.errors)
        assert got["checks"] < len(checks)
        assert got["downtime_s"] == round(want.downtime_s, 3)
        assert (got["p50_ms"], got["p99_ms"]) == (
            round(want.percentile(50) or 0, 3),
            round(want.percentile(99) or 0, 3),
        )
        assert g["uptime"][name] == want.uptime_text()
