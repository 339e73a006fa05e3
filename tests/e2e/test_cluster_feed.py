"""One feed across the nodes of a cluster (issue 15, 11), with real slamond processes.

Three slamond on one PostgreSQL, each in its own region and probing from its own loopback
address (tests/e2e/test_cluster.py):

* one node holds the alerts singleton; an ack or a silence made on another node is stored
  there and told to the holder at once (docs/cluster.md), so its reminders stop and the
  silence mutes the next alert;
* presence is merged: a client of node a is told of an editor connected to node b, a node
  that joins later learns it, and it ends when node b dies;
* service.get's quorum picture, and the TUI's service detail showing it.
"""

from __future__ import annotations

import json
import signal
from typing import Any

from slamon_tui.app import make_app
from slamon_tui.screens.service import ServiceScreen
from tests.daemon.alerts.receivers import Receiver
from tests.daemon.support import FeedClient
from tests.tui.helpers import screen_text, wait_until

from .slamond import Slamond, wait_for
from .test_cluster import _config, _folder, _rows, _stop_all, _targets
from .test_tui_incidents import open_incidents, open_row

ALL = {"127.0.0.2", "127.0.0.3", "127.0.0.4"}


async def _holder(pg_url: str) -> str | None:
    rows = await _rows(
        pg_url, "SELECT node FROM singletons WHERE name = 'alerts' AND expires_at > now()"
    )
    return str(rows[0][0]) if rows else None


async def _alerts(d: Slamond) -> dict[str, dict[str, Any]]:
    reply = await d.call("alert.list")
    assert "result" in reply, reply
    return {a["service_id"]: a for a in reply["result"]["alerts"] if a["open"]}


async def _reminders(pg_url: str) -> int:
    rows = await _rows(pg_url, "SELECT count(*) FROM alert_outbox WHERE event = 'reminder'")
    return int(rows[0][0])


async def test_an_ack_and_a_silence_on_another_node_act_on_the_sender(pg_url: str) -> None:
    folder = _folder()
    async with _targets("api", "web") as t, Receiver() as rx:
        t["api"].refused = set(ALL)  # down from every region: a major outage, an alert
        extra = (
            "owner_is_admin = true\n"
            '\n[alerts]\ngrouping_window = "1s"\nreminder_every = "1s"\nslo_alerts = false\n'
            f'\n[[alert_channel]]\nid = "ops"\ntype = "webhook"\nurl = "{rx.url("/hook")}"\n'
        )
        daemons = {n: _config(folder, n, pg_url, t, extra) for n in "abc"}
        try:
            for d in daemons.values():
                await d.start()
            await wait_for(lambda: _holder(pg_url), what="a holder of the alerts singleton")
            leader = str(await _holder(pg_url))
            other = daemons[next(n for n in "abc" if n != leader)]
            sent = daemons[leader]

            def messages(event: str) -> list[dict[str, Any]]:
                out = [json.loads(q.body) for q in rx.requests]
                return [m for m in out if m.get("event") == event]

            await wait_for(lambda: bool(messages("down")), what="the down alert of api")
            await wait_for(lambda: _positive(_reminders(pg_url)), what="a first reminder")

            # The node that does not send alerts lists the stored alert, and acknowledges
            # it: its reply is the stored state.
            await wait_for(lambda: _has(other, "api"), what="the alert listed on the other node")
            aid = (await _alerts(other))["api"]["alert_id"]
            reply = await other.call("alert.ack", {"id": aid})
            assert "result" in reply, reply
            assert reply["result"]["acked_by"] is not None
            assert reply["result"]["alert_id"] == aid
            # The sender learns it: its own list says acknowledged ...
            await wait_for(
                lambda: _acked(sent, "api"), timeout=10, what="the ack applied on the sender"
            )
            # ... and it enqueues no more reminders (a few reminder intervals later: the
            # checks of api go on meanwhile).
            before = await _reminders(pg_url)
            seen = t["api"].by_source.get("127.0.0.2", 0)
            await wait_for(
                lambda: t["api"].by_source.get("127.0.0.2", 0) >= seen + 5,
                what="five more checks of api",
            )
            assert await _reminders(pg_url) == before

            # A silence set on the node that does not send mutes web's coming outage.
            reply = await other.call(
                "alert.silence", {"services": ["web"], "reason": "deploy", "duration": "1h"}
            )
            assert "result" in reply, reply
            silence_id = reply["result"]["id"]
            await wait_for(
                lambda: _silences(sent, silence_id), timeout=10, what="the sender knowing it"
            )
            t["web"].refused = set(ALL)
            await wait_for(lambda: _silenced(sent, "web"), what="web's alert, silenced")
            await wait_for(lambda: _silenced(other, "web"), what="the other node listing it")
            assert all([s["id"] for s in m["services"]] == ["api"] for m in messages("down")), (
                messages("down")
            )
        finally:
            await _stop_all(list(daemons.values()))


async def _positive(n: Any) -> bool:
    return bool(await n > 0)


async def _has(d: Slamond, sid: str) -> bool:
    return sid in await _alerts(d)


async def _acked(d: Slamond, sid: str) -> bool:
    a = (await _alerts(d)).get(sid)
    return a is not None and a["acked_by"] is not None


async def _silenced(d: Slamond, sid: str) -> bool:
    a = (await _alerts(d)).get(sid)
    return a is not None and bool(a["silenced"])


async def _silences(d: Slamond, silence_id: int) -> bool:
    """Whether the node's alert engine holds the silence (the summary counts its own)."""
    reply = await d.call("alert.list")
    result = reply["result"]
    return bool(result["summary"]["silences"]) and any(
        s["id"] == silence_id for s in result["silences"]
    )


async def _presence_here(d: Slamond, iid: int) -> list[dict[str, Any]]:
    reply = await d.call("presence.list", {"incident_id": iid})
    assert "result" in reply, reply
    return list(reply["result"])


async def test_presence_is_merged_across_nodes_and_ends_with_a_dead_node(pg_url: str) -> None:
    folder = _folder()
    async with _targets("api") as t:
        extra = "owner_is_admin = true\n"
        daemons = {n: _config(folder, n, pg_url, t, extra) for n in "abc"}
        try:
            for n in "ab":
                await daemons[n].start()
            new = {
                "title": "Checkout slow",
                "severity": "high",
                "priority": "P2",
                "services": ["api"],
            }
            reply = await daemons["a"].call("incident.create", {**new, "message": "Looking"})
            assert "result" in reply, reply
            iid = reply["result"]["id"]
            watcher = await FeedClient.connect(daemons["a"].socket)
            editor = await FeedClient.connect(daemons["b"].socket)
            try:
                await watcher.result("subscribe", {"topics": ["presence"]})
                mine = await editor.result(
                    "presence.set", {"incident_id": iid, "mode": "editing", "field": "title"}
                )
                # A client of node a is told of the editor connected to node b, its
                # session named by node (sessions are numbered per node).
                event = await watcher.next_event(lambda e: e["event"] == "presence", timeout=15)
                seen = event["data"]["presence"]
                assert event["data"]["action"] == "set"
                assert seen["session"] == f"b:{mine['session']}" and seen["node"] == "b"
                assert (seen["mode"], seen["field"], seen["user"]) == (
                    "editing",
                    "title",
                    mine["user"],
                )
                # presence.list and incident.get on node a list it.
                assert [p["session"] for p in await _presence_here(daemons["a"], iid)] == [
                    seen["session"]
                ]
                got = await daemons["a"].call("incident.get", {"id": iid})
                assert [p["node"] for p in got["result"]["presence"]] == ["b"]
                # The TUI attached to node a, on the incident: it shows the editor of b.
                app = make_app(daemons["a"].socket, retry_initial=0.05, retry_max=0.3)
                async with app.run_test(size=(100, 30)) as pilot:
                    await wait_until(pilot, lambda: app.dashboard.model.loaded, within=20)
                    await open_incidents(pilot, app)
                    await open_row(pilot, app, "#active-incidents", iid)
                    editing = f"{mine['user']} is editing title"
                    await wait_until(pilot, lambda: editing in screen_text(app), within=20)
                    # A node that joins later learns it from node b.
                    await daemons["c"].start()
                    await wait_for(
                        lambda: _lists(daemons["c"], iid, seen["session"]),
                        what="node c listing the editor of node b",
                    )
                    # Node b dies: its presence ends everywhere (its heartbeat stops).
                    daemons["b"].signal(signal.SIGKILL)
                    await daemons["b"].proc.wait()  # type: ignore[union-attr]
                    event = await watcher.next_event(
                        lambda e: e["event"] == "presence" and e["data"]["action"] == "cleared",
                        timeout=20,
                    )
                    assert event["data"]["presence"]["session"] == seen["session"]
                    assert not await _lists(daemons["a"], iid, seen["session"])
                    await wait_for(
                        lambda: _not(_lists(daemons["c"], iid, seen["session"])),
                        what="c forgetting it",
                    )
                    await wait_until(pilot, lambda: editing not in screen_text(app), within=20)
            finally:
                await watcher.close()
                await editor.close()
        finally:
            await _stop_all(list(daemons.values()))


async def _lists(d: Slamond, iid: int, session: str) -> bool:
    """Whether node ``d`` lists ``session`` on the incident (the TUI's own is there too)."""
    return session in [p["session"] for p in await _presence_here(d, iid)]


async def _not(got: Any) -> bool:
    return not await got


async def test_service_get_and_the_tui_show_the_quorum_picture(pg_url: str) -> None:
    folder = _folder()
    async with _targets("api") as t:
        t["api"].refused = {"127.0.0.3"}  # the "us" region's route is bad
        daemons = [_config(folder, n, pg_url, t) for n in "abc"]
        try:
            for d in daemons:
                await d.start()

            async def partial() -> bool:
                got = (await daemons[0].call("service.get", {"id": "api"}))["result"]
                seen = (got.get("quorum") or {}).get("regions")
                return bool(got.get("status_note") == "down from us only" and len(seen) == 3)

            await wait_for(partial, what="api partial from us only")
            got = (await daemons[0].call("service.get", {"id": "api"}))["result"]
            assert got["status"] == "partial_outage"
            assert got["quorum"] == {
                "needed": 2,
                "regions": ["ap", "eu", "us"],
                "down": ["us"],
                "not_counted": [],
            }
            assert got["regions"]["us"]["down"] is True and got["regions"]["us"]["node"] == "b"
            assert got["regions"]["eu"]["down"] is False
            # Per-region uptime beside the quorum's: us's own checks all failed, the quorum
            # counts them up (one region's failure is regional).
            assert got["region_uptime_24h"]["us"] == "0.00"
            assert got["region_uptime_24h"]["eu"] == "100.00"
            assert set(got["region_uptime"]) == {"24h", "7d", "30d"}
            assert got["region_uptime"]["24h"] == got["region_uptime_24h"]
            # 7 and 30 days are re-read at most every 10 minutes (docs/feed.md): possibly by
            # one of the calls above, before every region's checks were stored.
            for figures in (got["region_uptime"]["7d"], got["region_uptime"]["30d"]):
                assert set(figures) <= {"ap", "eu", "us"}
                assert all(0.0 <= float(v) <= 100.0 for v in figures.values())
            assert got["uptime"]["24h"] == "100.00"
            # The TUI attached to node a: the service detail names the failing region.
            app = make_app(daemons[0].socket, retry_initial=0.05, retry_max=0.3)
            async with app.run_test(size=(80, 24)) as pilot:
                await wait_until(pilot, lambda: "api" in app.dashboard.order, within=20)
                await pilot.press("enter")
                await wait_until(pilot, lambda: isinstance(app.screen, ServiceScreen), within=10)
                await wait_until(pilot, lambda: "Down from us only" in screen_text(app), within=20)
                text = screen_text(app)
                assert "a major outage needs 2 of 3 regions (ap, eu, us)" in text
                us = next(ln for ln in text.splitlines() if "  us " in ln and "24h" in ln)
                assert "✕ down" in us and "24h 0.00%" in us and "node b" in us
        finally:
            await _stop_all(daemons)
