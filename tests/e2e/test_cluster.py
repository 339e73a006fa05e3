"""Several nodes on one PostgreSQL (issue 15), with real slamond processes.

Three daemons share a throwaway database, each in its own region and probing from its own
loopback address (127.0.0.2, .3, .4). The targets are servers of this test that see the
source address of each connection and cut those they are told to refuse, so one region's
bad route is a real failed check from that region only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]

from slamon_tui.app import make_app
from tests.daemon.alerts.receivers import Receiver
from tests.daemon.support import FeedClient
from tests.tui.helpers import screen_text, wait_until

from .proxy import TcpProxy
from .slamond import Slamond, wait_for
from .test_cli_db import slamon

REGIONS = {"a": ("eu", "127.0.0.2"), "b": ("us", "127.0.0.3"), "c": ("ap", "127.0.0.4")}


@dataclass
class Picky:
    """An HTTP target on 127.0.0.1 answering 200, except to the source addresses in
    ``refused``, whose connections it cuts at once (a reset: a failed check)."""

    refused: set[str] = field(default_factory=set)
    by_source: dict[str, int] = field(default_factory=dict)
    port: int = 0
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    async def start(self) -> Picky:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        source = str(w.get_extra_info("peername")[0])
        self.by_source[source] = self.by_source.get(source, 0) + 1
        try:
            if source in self.refused:
                w.transport.abort()
                return
            while (await r.readline()) not in (b"\r\n", b"\n", b""):
                pass
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            await w.drain()
        except ConnectionError:
            pass
        finally:
            with contextlib.suppress(Exception):
                w.close()


def _config(
    folder: Path, name: str, db_url: str, targets: dict[str, Picky], extra: str = ""
) -> Slamond:
    region, source = REGIONS.get(name, ("eu", "127.0.0.5"))
    d = folder / name
    d.mkdir(exist_ok=True)
    lines = [
        "[daemon]",
        f"database_url = {json.dumps(db_url)}",
        f"socket = {json.dumps(str(d / 's.sock'))}",
        f'spool_dir = "{d}/spool"',
        f'secret_file = "{folder}/secret"',
        'write_flush_interval = "100ms"',
        f'node = "{name}"',
        f'region = "{region}"',
        f'source_address = "{source}"',
        'heartbeat = "300ms"',
        'lease_timeout = "2s"',
        'auto_incident_after = "1ms"',
        extra,
    ]
    for sid, target in targets.items():
        lines += [
            "",
            "[[service]]",
            f'id = "{sid}"',
            f"url = {json.dumps(target.url)}",
            'interval = "1s"',
            'timeout = "2s"',
        ]
    cfg = d / "slamon.toml"
    cfg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Slamond(cfg, d / "slamond.log", socket=d / "s.sock")


@contextlib.asynccontextmanager
async def _targets(*ids: str) -> AsyncIterator[dict[str, Picky]]:
    targets = {sid: await Picky().start() for sid in ids}
    try:
        yield targets
    finally:
        for t in targets.values():
            await t.stop()


async def _status(d: Slamond) -> dict[str, dict[str, Any]]:
    reply = await d.call("status.get")
    assert "result" in reply, reply
    return {s["id"]: s for s in reply["result"]["services"]}


async def _rows(pg_url: str, sql: str, *args: Any) -> list[Any]:
    con = await asyncpg.connect(pg_url)
    try:
        return list(await con.fetch(sql, *args))
    finally:
        await con.close()


def _folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="slc-", dir="/tmp"))


async def _stop_all(daemons: list[Slamond]) -> None:
    for d in daemons:
        with contextlib.suppress(Exception):
            await d.stop()
        await d.kill()


async def test_three_regions_quorum_decides_and_one_auto_incident(pg_url: str) -> None:
    folder = _folder()
    async with _targets("fine", "partial", "total") as t, Receiver() as rx:
        t["partial"].refused = {"127.0.0.3"}  # the "us" region's route is bad
        t["total"].refused = {"127.0.0.2", "127.0.0.3", "127.0.0.4"}
        # Every node has the same alert channel: the alerts singleton sends, once.
        alerting = (
            '\n[alerts]\ngrouping_window = "1s"\n'
            f'\n[[alert_channel]]\nid = "ops"\ntype = "webhook"\nurl = "{rx.url("/hook")}"\n'
        )
        daemons = [_config(folder, n, pg_url, t, alerting) for n in "abc"]
        try:
            for d in daemons:
                await d.start()
            # Every region probes every service, each from its own address.
            await wait_for(
                lambda: all(
                    len([s for s in x.by_source if s in ("127.0.0.2", "127.0.0.3", "127.0.0.4")])
                    == 3
                    for x in t.values()
                ),
                what="every service probed from the three addresses",
            )

            async def settled(d: Slamond) -> bool:
                st = await _status(d)
                return (
                    st["fine"]["status"] == "operational"
                    and st["partial"]["status"] == "partial_outage"
                    and st["total"]["status"] == "major_outage"
                )

            for d in daemons:  # the same picture on every node
                await wait_for(lambda d=d: settled(d), what=f"quorum statuses on {d.socket}")
            for d in daemons:
                st = await _status(d)
                assert st["partial"]["status_note"] == "down from us only"
                assert st["partial"]["regions"]["us"]["down"] is True
                assert st["partial"]["regions"]["eu"]["down"] is False
                assert "status_note" not in st["total"] or st["total"]["status_note"] is None

            # Each check records its node and region.
            async def pairs() -> list[tuple[str, str]]:
                rows = await _rows(
                    pg_url, "SELECT DISTINCT node, region FROM checks WHERE service_id = 'fine'"
                )
                return sorted(tuple(r) for r in rows)

            want = [("a", "eu"), ("b", "us"), ("c", "ap")]
            await wait_for(lambda: _eq(pairs(), want), what="checks of every node stored")
            # One region never probes a service twice at once: one node per region, so
            # each (service, region) is probed by one node only.
            per_region = await _rows(
                pg_url,
                "SELECT service_id, region, count(DISTINCT node) FROM checks GROUP BY 1, 2",
            )
            assert {r[2] for r in per_region} == {1}
            # The total outage, seen by three nodes: one auto-incident; none for the
            # partial one (one region's route never opens an incident).
            await wait_for(
                lambda: _count_incidents(pg_url, "total"), what="the auto-incident of total"
            )
            await asyncio.sleep(3)  # more checks from every node: still one
            assert await _count_incidents(pg_url, "total") == 1
            assert await _count_incidents(pg_url, "partial") == 0
            assert await _count_incidents(pg_url, "fine") == 0
            # Exactly one alert, for the total outage only: one region's bad route never
            # pages, and three nodes seeing the outage send it once.
            downs = [json.loads(q.body) for q in rx.requests]
            downs = [e for e in downs if e.get("event") == "down"]
            assert len(downs) == 1, downs
            assert [x["id"] for x in downs[0]["services"]] == ["total"]
            # nodes.list on any node: the three, running, each with its region.
            reply = await daemons[2].call("nodes.list")
            nodes = {n["name"]: n for n in reply["result"]["nodes"]}
            assert {k: (v["region"], v["state"]) for k, v in nodes.items()} == {
                "a": ("eu", "running"),
                "b": ("us", "running"),
                "c": ("ap", "running"),
            }
            # slamon nodes: the same, read from the database.
            out = slamon("nodes", "--config", str(daemons[0].config), cwd=folder)
            assert out.returncode == 0, out.stderr
            lines = {line.split()[0]: line.split()[1:3] for line in out.stdout.splitlines()[1:]}
            assert lines == {"a": ["eu", "running"], "b": ["us", "running"], "c": ["ap", "running"]}
        finally:
            await _stop_all(daemons)


async def _eq(got: Any, want: Any) -> bool:
    return bool(await got == want)


async def _count_incidents(pg_url: str, sid: str) -> int:
    rows = await _rows(
        pg_url,
        "SELECT count(*) FROM incidents WHERE episode_service = $1",
        sid,
    )
    return int(rows[0][0])


async def test_a_client_of_node_a_sees_the_checks_of_node_c(pg_url: str) -> None:
    folder = _folder()
    async with _targets("api") as t:
        t["api"].refused = {"127.0.0.4"}  # node c's checks fail: their own status change
        daemons = [_config(folder, n, pg_url, t) for n in "ac"]
        try:
            for d in daemons:
                await d.start()
            client = await FeedClient.connect(daemons[0].socket)
            try:
                await client.call("subscribe", {"topics": ["check"]})
                event = await client.next_event(
                    lambda e: e["event"] == "check" and e["data"]["check"]["node"] == "c",
                    timeout=30,
                )
                assert event["data"]["check"]["region"] == "ap"
                assert event["data"]["check"]["outcome"] == "down"
            finally:
                await client.close()
            # The TUI attached to node a: node c's failures (the ap region's alone, one of
            # two: no quorum) show as a partial outage of api.
            app = make_app(daemons[0].socket, retry_initial=0.05, retry_max=0.3)
            async with app.run_test(size=(120, 30)) as pilot:
                await wait_until(pilot, lambda: "Partial" in screen_text(app), within=20)
                line = next(ln for ln in screen_text(app).splitlines() if "api" in ln)
                assert "◆" in line
        finally:
            await _stop_all(daemons)


async def test_sigkill_moves_the_services_without_loss_or_double_probing(pg_url: str) -> None:
    folder = _folder()
    ids = [f"s{i}" for i in range(6)]
    async with _targets(*ids) as t:
        # Two nodes in one region: "a" (127.0.0.2) and "a2" (127.0.0.5).
        a = _config(folder, "a", pg_url, t)
        a2 = _config(folder, "a2", pg_url, t)
        try:
            await a.start()
            await a2.start()

            async def split() -> bool:
                rows = await _rows(
                    pg_url, "SELECT node, count(*) FROM leases WHERE node IS NOT NULL GROUP BY 1"
                )
                return {r[0]: r[1] for r in rows} == {"a": 3, "a2": 3}

            await wait_for(split, what="a fair share each after a2 joined")
            theirs = {
                r[0] for r in await _rows(pg_url, "SELECT service_id FROM leases WHERE node = 'a2'")
            }
            await wait_for(
                lambda: all(t[s].by_source.get("127.0.0.5", 0) >= 2 for s in theirs),
                what="a2 probing its share",
            )
            a2.signal(signal.SIGKILL)
            assert a2.proc is not None
            await a2.proc.wait()
            killed_at = {s: t[s].by_source.get("127.0.0.2", 0) for s in theirs}
            answered_by_a2 = sum(x.by_source.get("127.0.0.5", 0) for x in t.values())
            # Within one interval plus the lease timeout (waited for generously), node a
            # probes the services of the dead node.
            await wait_for(
                lambda: all(t[s].by_source.get("127.0.0.2", 0) > killed_at[s] + 1 for s in theirs),
                timeout=20,
                what="a probing the dead node's services",
            )
            # a2 restarts: its journal replays; nothing it answered for is lost (each
            # answered request is a check, except at most one in flight per service).
            a2 = _config(folder, "a2", pg_url, t)
            await a2.start()
            await wait_for(
                lambda: _stored_by(pg_url, "a2", answered_by_a2 - len(ids)),
                what="a2's journaled checks stored",
            )
            # No service was probed twice at once in the region: the checks of eu, per
            # service, in time order, never overlap (the next starts after the previous
            # one's start; duplicates would share a start).
            dup = await _rows(
                pg_url,
                "SELECT service_id, started_at, count(*) FROM checks WHERE region = 'eu'"
                " GROUP BY 1, 2 HAVING count(*) > 1",
            )
            assert dup == []
        finally:
            await _stop_all([a, a2])


async def _stored_by(pg_url: str, node: str, at_least: int) -> bool:
    rows = await _rows(pg_url, "SELECT count(*) FROM checks WHERE node = $1", node)
    return int(rows[0][0]) >= at_least


async def test_the_singleton_moves_when_its_holder_dies(pg_url: str) -> None:
    folder = _folder()
    async with _targets("api") as t:
        daemons = {n: _config(folder, n, pg_url, t) for n in "abc"}
        try:
            for d in daemons.values():
                await d.start()

            async def holder() -> str | None:
                rows = await _rows(
                    pg_url,
                    "SELECT node FROM singletons WHERE name = 'incidents' AND expires_at > now()",
                )
                return str(rows[0][0]) if rows else None

            await wait_for(holder, what="a holder of the incidents singleton")
            first = await holder()
            assert first is not None
            daemons[first].signal(signal.SIGKILL)
            await daemons[first].proc.wait()  # type: ignore[union-attr]

            async def moved() -> bool:
                h = await holder()
                return h is not None and h != first

            await wait_for(moved, timeout=20, what="another node taking the singleton")
            new = await holder()
            stats = await daemons[str(new)].stats()
            assert "incidents" in stats["cluster"]["singletons"]
        finally:
            await _stop_all(list(daemons.values()))


async def test_a_node_cut_from_the_database_keeps_probing_and_replays(pg_url: str) -> None:
    folder = _folder()
    parts = urlsplit(pg_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    proxied = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    async with _targets("api") as t:
        a = _config(folder, "a", pg_url, t)
        c = _config(folder, "c", proxied, t)
        try:
            await a.start()
            await c.start()
            await wait_for(lambda: t["api"].by_source.get("127.0.0.4", 0) >= 2, what="c probing")
            await proxy.cut()
            before = t["api"].by_source.get("127.0.0.4", 0)
            await wait_for(
                lambda: t["api"].by_source.get("127.0.0.4", 0) >= before + 5,
                what="c probing without the database",
            )
            await proxy.restore()
            during = t["api"].by_source.get("127.0.0.4", 0)
            await wait_for(
                lambda: _stored_by(pg_url, "c", during - 1),
                timeout=30,
                what="c's journaled checks replayed",
            )
        finally:
            await _stop_all([a, c])
            await proxy.cut()


async def test_a_sick_nodes_failures_do_not_count_toward_the_quorum(pg_url: str) -> None:
    folder = _folder()
    async with _targets("pair") as t:
        reference = await Picky().start()
        try:
            reference.refused = {"127.0.0.3"}  # node b's self-check fails: b is sick
            t["pair"].refused = {"127.0.0.2", "127.0.0.3"}  # eu and us see it down
            extra = f'health_interval = "500ms"\nreference_url = "{reference.url}"'
            daemons = [_config(folder, n, pg_url, t, extra) for n in "abc"]
            try:
                for d in daemons:
                    await d.start()

                async def partial(d: Slamond) -> bool:
                    st = (await _status(d))["pair"]
                    return bool(
                        st["status"] == "partial_outage"
                        and st.get("status_note") == "down from eu only"
                        and st["regions"].get("us", {}).get("down")
                    )

                for d in daemons:  # b's failures are seen, but do not make a quorum
                    await wait_for(lambda d=d: partial(d), what=f"partial outage on {d.socket}")
                nodes = {
                    n["name"]: n for n in (await daemons[0].call("nodes.list"))["result"]["nodes"]
                }
                assert nodes["a"]["sick"] is None
                assert nodes["c"]["sick"] is None
                assert nodes["b"]["sick"].startswith(f"self-check of {reference.url} failed")
                assert nodes["b"]["health"]["selfcheck"]["outcome"] == "down"
                assert "lateness_p99_s" in nodes["b"]["health"]
                assert "this node is sick (self-check" in daemons[1].log_text()
                rows = await _rows(
                    pg_url,
                    "SELECT period, selfcheck_failures > 0 FROM node_health WHERE node = 'b'"
                    " ORDER BY 1",
                )
                assert [tuple(r) for r in rows] == [("day", True), ("hour", True)]
                out = slamon("nodes", "--json", "--config", str(daemons[0].config), cwd=folder)
                assert out.returncode == 0, out.stderr
                listed = {n["name"]: n for n in json.loads(out.stdout)["nodes"]}
                assert listed["b"]["hourly"][0]["selfcheck_failures"] > 0
                assert listed["b"]["daily"][0]["sick_samples"] > 0
                # a's self-check is answered (a busy machine may lose one): far fewer failures
                a_hour, b_hour = listed["a"]["hourly"][0], listed["b"]["hourly"][0]
                assert a_hour["selfcheck_failures"] < b_hour["selfcheck_failures"]
                # The TUI attached to node c: the Nodes view (O) says b is sick and why.
                app = make_app(daemons[2].socket, retry_initial=0.05, retry_max=0.3)
                async with app.run_test(size=(160, 30)) as pilot:
                    await wait_until(pilot, lambda: "pair" in screen_text(app), within=15)
                    await pilot.press("O")
                    await wait_until(
                        pilot, lambda: "SICK: self-check" in screen_text(app), within=15
                    )
                    text = screen_text(app)
                    # (another node may be flagged a moment on a busy machine: b is named)
                    sick_line = next(ln for ln in text.splitlines() if "✕ Sick: " in ln)
                    assert "(their failures do not count)" in sick_line
                    assert "b" in sick_line.split("Sick: ")[1].split(" (")[0].split(", ")
                    b_line = next(
                        ln for ln in text.splitlines() if ln.lstrip("│ ").startswith("b ")
                    )
                    assert "us" in b_line and "running" in b_line
            finally:
                await _stop_all(daemons)
        finally:
            await reference.stop()
