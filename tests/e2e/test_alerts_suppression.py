"""Suppression end to end (issue 11 points 3 and 8): one real slamond, real targets on 127.0.0.1
flipped up and down, a real webhook receiver per channel, the real ``slamon alert`` CLI.

* parent/child: core-db and its three dependents go down → one message naming them; the
  parent recovers while one child stays down → that child alerts on its own;
* a maintenance window: failed checks are recorded (marked) but confirm no outage, so
  nothing is sent; the outage is announced when the window ends and it still stands;
* a silence set with ``slamon alert silence`` holds it; ``unsilence`` announces what stands;
* ``slamon alert ack`` stops the reminders of an alert.

Each case has its own services and its own channel (routed by service) and ends with its
services back up, so the cases share one daemon.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.daemon.alerts.receivers import Receiver

from .alert_world import AlertWorld, daemon_section, running, service_section
from .loop_thread import LoopThread
from .test_alerts import Switch, events, slamon, until

pytestmark = pytest.mark.asyncio(loop_scope="module")

CHILDREN = ["app1", "app2", "app3"]
SERVICES = ["core-db", *CHILDREN, "maint", "quiet", "nag"]
CHANNELS = {  # channel id -> the services routed to it
    "deps": ["core-db", "app*"],
    "maint": ["maint"],
    "quiet": ["quiet"],
    "nag": ["nag"],
}
WINDOW_S = 3
"""The grouping window: a parent and its children confirmed down within it make one message.
Checks every second and two failures to confirm put them within about a second of each
other; the rest is room for a loaded machine."""


@dataclass
class World(AlertWorld):
    rx: dict[str, Receiver]

    async def alerts_of(self, sid: str) -> list[dict[str, Any]]:
        listed = await self.call("alert.list")
        return [a for a in listed["alerts"] if a["service_id"] == sid and a["open"]]

    async def settled(self, channel: str) -> bool:
        """Nothing of ``channel`` waits in the outbox."""
        chans = await self.call("alert.channels")
        return any(c["id"] == channel and c["pending"] == 0 for c in chans)

    async def cli(self, *args: str) -> tuple[int, str, str]:
        return await asyncio.to_thread(slamon, self.config, "alert", *args)


def _config(folder: Path, switches: dict[str, Switch], rx: dict[str, Receiver]) -> Path:
    parts = [
        daemon_section(folder),
        f'[alerts]\nslo_alerts = false\ngrouping_window = "{WINDOW_S}s"\n'
        'retry_base = "300ms"\nretry_max = "1s"\nreminder_every = "off"\n',
    ]
    for cid, routed in CHANNELS.items():
        parts.append(
            f'[[alert_channel]]\nid = "{cid}"\ntype = "webhook"\nurl = "{rx[cid].url("/" + cid)}"\n'
            f"services = {json.dumps(routed)}\n"
            + ('reminder_every = "2s"\n' if cid == "nag" else "")
        )
    for sid, sw in switches.items():
        parts.append(
            service_section(sid, sw, 'depends_on = ["core-db"]\n' if sid in CHILDREN else "")
        )
    path = folder / "slamon.toml"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    folder = tmp_path_factory.mktemp("suppression")
    switches = {sid: Switch() for sid in SERVICES}
    rx = {cid: Receiver() for cid in CHANNELS}
    async with running(
        folder, switches, rx.values(), lambda: _config(folder, switches, rx), LoopThread()
    ) as w:
        yield World(w.d, w.config, switches, rx)


def _titles(r: Receiver) -> list[str]:
    return [e["title"] for e in events(r)]


async def test_a_parent_down_holds_its_children_and_a_child_still_down_alerts_alone(
    world: World,
) -> None:
    rx = world.rx["deps"]
    for sid in ["core-db", *CHILDREN]:
        world.switches[sid].up = False
    await until(lambda: bool(rx.requests), 60)

    async def children_held() -> bool:
        for sid in CHILDREN:
            mine = await world.alerts_of(sid)
            if not (mine and mine[0]["status"] == "firing" and mine[0]["held_by"] == "core-db"):
                return False
        return True

    # Once every child's alert is firing (its window closed) and held, nothing of theirs
    # can still come: what would have been sent is in the outbox, and the outbox is empty.
    await until(children_held, 60)
    await until(lambda: world.settled("deps"), 60)
    (down,) = events(rx)
    assert down["title"] == "core-db down; 3 dependent services affected: app1, app2 and app3"
    assert [s["id"] for s in down["services"]] == ["core-db"]
    assert [x["id"] for x in down["dependents"]] == CHILDREN
    assert down["event"] == "down" and down["action"] == "trigger"

    # The parent and two children come back; app3 stays down and alerts on its own.
    for sid in ["core-db", "app1", "app2"]:
        world.switches[sid].up = True
    await until(lambda: any(e["event"] == "down" for e in events(rx)[1:]), 60)
    await until(lambda: any(e["event"] == "recovery" for e in events(rx)), 60)
    await until(lambda: world.settled("deps"), 60)
    later = events(rx)[1:]
    (own,) = [e for e in later if e["event"] == "down"]
    assert own["title"] == "app3 down" and [s["id"] for s in own["services"]] == ["app3"]
    (rec,) = [e for e in later if e["event"] == "recovery"]
    assert rec["dedup_key"] == down["dedup_key"] and rec["title"].startswith("core-db recovered")
    assert "3 dependent services: 2 recovered, 1 still down" in rec["text"]
    assert "app3" in rec["text"]
    assert not any(e["event"] == "down" and e["title"].startswith(("app1", "app2")) for e in later)

    world.switches["app3"].up = True
    await until(lambda: len(events(rx)) >= 4, 60)
    assert events(rx)[-1]["event"] == "recovery"
    assert events(rx)[-1]["dedup_key"] == own["dedup_key"]
    assert events(rx)[-1]["title"].startswith("app3 recovered")


async def test_a_maintenance_window_sends_nothing_and_the_checks_go_on(world: World) -> None:
    rx = world.rx["maint"]
    now = datetime.now(UTC)
    window = await world.call(
        "maintenance.create",
        {
            "title": "db upgrade",
            "start": (now - timedelta(minutes=1)).isoformat(),
            "end": (now + timedelta(hours=1)).isoformat(),
            "services": ["maint"],
        },
    )
    await until(lambda: world.status_is("maint", "maintenance"), 60)
    world.switches["maint"].up = False

    async def failed_checks_recorded() -> bool:
        detail = await world.call("service.get", {"id": "maint"})
        marked = [c for c in detail["recent_checks"] if c["maintenance"] and c["outcome"] == "down"]
        return len(marked) >= 6

    # The checks go on and are recorded, marked maintenance (suppression never hides data).
    # Six failed checks: outside the window the second would have confirmed the outage and
    # the grouping window after it would have closed by the sixth.
    await until(failed_checks_recorded, 60)
    await until(lambda: world.settled("maint"), 60)
    assert await world.status_is("maint", "maintenance")
    assert await world.alerts_of("maint") == []  # maintenance checks confirm nothing
    assert rx.requests == []

    # The window ends while the service is still down: the outage is announced then.
    await world.call("maintenance.cancel", {"id": window["id"]})
    await until(lambda: bool(rx.requests), 60)
    (down,) = events(rx)
    assert down["event"] == "down" and down["title"] == "maint down"
    world.switches["maint"].up = True  # its recovery is not waited for: the next case runs


async def test_a_silence_from_the_cli_holds_the_alert_until_it_ends(world: World) -> None:
    rx = world.rx["quiet"]
    code, out, err = await world.cli(
        "silence", "--service", "quiet", "--reason", "deploy", "--for", "10m"
    )
    assert code == 0, err
    silence_id = out.split()[1]
    world.switches["quiet"].up = False

    async def held() -> bool:
        mine = await world.alerts_of("quiet")
        return bool(mine) and mine[0]["status"] == "firing"

    await until(held, 60)
    await until(lambda: world.settled("quiet"), 60)
    (alert,) = await world.alerts_of("quiet")
    assert alert["silenced"] and alert["suppressed_by"] == f"silence:{silence_id}"
    assert rx.requests == []
    code, out, _ = await world.cli("list")
    assert f"suppressed: silence:{silence_id}" in out and "deploy" in out

    code, out, err = await world.cli("unsilence", silence_id)
    assert code == 0 and "ended" in out, err
    await until(lambda: bool(rx.requests), 60)  # what the silence held and still stands
    (down,) = events(rx)
    assert down["event"] == "down" and down["title"] == "quiet down"
    world.switches["quiet"].up = True


async def test_an_ack_from_the_cli_stops_the_reminders(world: World) -> None:
    rx = world.rx["nag"]
    world.switches["nag"].up = False
    await until(lambda: [e["event"] for e in events(rx)][:2] == ["down", "reminder"], 60)
    (alert,) = await world.alerts_of("nag")
    code, out, err = await world.cli("ack", alert["alert_id"])
    assert code == 0 and "acknowledged" in out, err
    await until(lambda: world.settled("nag"), 60)  # a reminder made before the ack is out
    reminded = len(events(rx))
    await asyncio.sleep(4.5)  # more than two reminder intervals: none comes now
    assert len(events(rx)) == reminded
    assert {e["event"] for e in events(rx)} == {"down", "reminder"}
    (acked,) = await world.alerts_of("nag")
    assert acked["acknowledged"] and acked["acked_by"]
    world.switches["nag"].up = True
