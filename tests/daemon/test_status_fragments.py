"""status.get's per-service cache (api/status.py ServiceFragments): after every kind of
change the cached bytes equal the service's entry built afresh from the live state."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

from slamon_daemon.api.status import ServiceFragments, service_entry, status_json
from slamon_daemon.encoding import dumps
from slamon_daemon.models import Check, ErrorKind, Outcome, Service, ServiceStatus
from slamon_daemon.protocol import encode_reply
from slamon_daemon.rollup import Rollup
from slamon_daemon.state import HISTORY_DAYS, SPARKLINE_POINTS, LiveState

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def svc(sid: str, **kw: object) -> Service:
    return Service(id=sid, name=sid, url=f"http://127.0.0.1:9/{sid}", interval_s=60.0, **kw)  # type: ignore[arg-type]


def check(sid: str, at: datetime, outcome: Outcome = Outcome.UP, **kw: object) -> Check:
    down = outcome is Outcome.DOWN
    return Check(
        service_id=sid,
        started_at=at,
        latency_ms=12.345 + at.minute,
        outcome=outcome,
        status_code=None if down else 200,
        error_kind=ErrorKind.CONNECTION_ERROR if down else None,
        error="refused" if down else None,
        **kw,  # type: ignore[arg-type]
    )


class Board:
    """A live state and its fragment cache, checked against fresh entries at every step."""

    def __init__(self, services: list[Service]) -> None:
        self.t = T0
        self.live = LiveState(clock=self)  # type: ignore[arg-type]
        self.live.set_services(services)
        self.fragments = ServiceFragments()

    def now(self) -> datetime:
        """The live state's clock: the time of the last check made."""
        return self.t

    def tick(self, sid: str, outcome: Outcome = Outcome.UP, **kw: object) -> None:
        self.t += timedelta(seconds=61)
        self.live.apply(check(sid, self.t, outcome, **kw))

    def entries(self, today: date | None = None) -> dict[str, dict[str, object]]:
        """Every service's cached entry, after asserting it equals a fresh one byte for byte."""
        day = today or self.t.date()
        out = {}
        for sid, st in self.live.services.items():
            cached = self.fragments.fragment(st, day, self.live.major_threshold)
            fresh = dumps(service_entry(st, day, self.live.major_threshold))
            assert cached == fresh, sid
            out[sid] = json.loads(cached)
        self.fragments.forget_all_but(set(self.live.services))
        return out


def test_every_check_transition_and_episode_shows_at_once() -> None:
    b = Board([svc("api", confirm_failures=2), svc("web")])
    assert b.entries()["api"]["status"] == "unknown"
    seen = []
    for outcome in [Outcome.UP, Outcome.DEGRADED, Outcome.DOWN, Outcome.DOWN, Outcome.UP]:
        b.tick("api", outcome)
        e = b.entries()["api"]
        seen.append(e["status"])
        assert e["outcomes"][-1] == outcome.value
        assert e["latencies"][-1] == round(b.live.services["api"].recent[-1].latency_ms, 1)
    assert seen == ["operational", "degraded", "degraded", "major_outage", "major_outage"]
    e = b.entries()["api"]
    assert e["episode"] is not None and e["episode"]["failed_checks"] == 2
    b.tick("api")
    e = b.entries()["api"]
    assert e["status"] == "operational" and e["episode"] is None
    assert b.entries()["web"]["last_check"] is None


def test_the_sparkline_rolls_past_its_length() -> None:
    b = Board([svc("api")])
    for i in range(SPARKLINE_POINTS + 25):
        b.tick("api", Outcome.DOWN if i % 7 == 0 else Outcome.UP)
        if i % 10 == 0:
            b.entries()
    e = b.entries()["api"]
    assert len(e["latencies"]) == len(e["outcomes"]) == SPARKLINE_POINTS


def test_maintenance_checks() -> None:
    b = Board([svc("api")])
    b.tick("api")
    b.entries()
    b.tick("api", Outcome.DOWN, maintenance=True)
    e = b.entries()["api"]
    assert e["status"] == "maintenance" and e["daily"][-1] == "o"


def test_edited_removed_and_added_services() -> None:
    b = Board([svc("api", group="Payments"), svc("web")])
    b.tick("api")
    b.entries()
    edited = dataclasses.replace(
        b.live.services["api"].service, name="Zahlungen – API ✓", tags=("eu",), public=False
    )
    b.live.set_services([edited, svc("new")])  # web removed, new added
    entries = b.entries()
    assert set(entries) == {"api", "new"}
    assert entries["api"]["name"] == "Zahlungen – API ✓" and entries["api"]["tags"] == ["eu"]
    assert entries["api"]["public"] is False
    assert entries["api"]["latencies"]  # its checks were kept through the edit
    assert "web" not in b.fragments._cache


def test_a_lone_surrogate_in_a_name_is_escaped() -> None:
    b = Board([svc("api")])
    b.live.set_services([dataclasses.replace(b.live.services["api"].service, name="bad \udcff")])
    b.tick("api")
    st = b.live.services["api"]
    cached = b.fragments.fragment(st, b.t.date(), b.live.major_threshold)
    assert cached == dumps(service_entry(st, b.t.date(), b.live.major_threshold))
    assert json.loads(cached)["name"] == "bad \udcff"


def test_a_new_day_and_a_late_check_for_a_past_day() -> None:
    b = Board([svc("api")])
    b.tick("api")
    yesterday = b.t.date()
    b.entries()
    b.t += timedelta(days=1)
    b.tick("api")
    e = b.entries()
    assert e["api"]["daily"][-2:] == ["o", "o"]
    b.live.apply(check("api", datetime.combine(yesterday, T0.timetz()), Outcome.DOWN))
    e = b.entries()  # the late failure paints yesterday
    assert e["api"]["daily"][-2] == "mo"  # 1 of 2 failed
    assert b.entries(b.t.date() + timedelta(days=1))["api"]["daily"][-1] == "nd"


def test_history_reached_late_rebuilds_the_sparkline() -> None:
    """A start without the database, then its history merged under this run's checks."""
    b = Board([svc("api")])
    b.tick("api")
    b.entries()
    older = [check("api", T0 - timedelta(minutes=m)) for m in (30, 20, 10)]
    day = Rollup(service_id="api", day=(T0 - timedelta(days=3)).date())
    day.add(check("api", T0 - timedelta(days=3), Outcome.DOWN))
    b.live.merge_history([day], {"api": older}, [])
    e = b.entries()["api"]
    assert len(e["latencies"]) == 4
    assert e["daily"][-4] == "mo"


def test_regions_of_a_cluster() -> None:
    b = Board([svc("api", confirm_failures=1)])
    b.live.known_regions = ("eu", "us")
    b.tick("api", region="eu", node="n1")
    b.tick("api", Outcome.DOWN, region="us", node="n2")
    e = b.entries()["api"]
    assert set(e["regions"]) == {"eu", "us"}
    assert e["status"] == ServiceStatus.PARTIAL_OUTAGE.value and e["status_note"]


def test_a_service_paused_and_resumed_between_two_calls() -> None:
    """Its new live state counts versions from 0 again: the cache must not take it for the
    one it had."""
    b = Board([svc("api"), svc("web")])
    before = b.entries()["api"]
    b.live.set_services([svc("web")])  # paused: no status.get in between
    b.t += timedelta(minutes=5)
    b.live.set_services([svc("api"), svc("web")])
    after = b.entries()["api"]
    assert after["status_since"] != before["status_since"]


def test_left_out_keys_with_every_kind_of_change() -> None:
    # Each ``omit`` of status.get has its own cache; after checks, a failure, a new day and
    # an edit its bytes equal the fresh entry without those keys, the rest unchanged.
    b = Board([svc("api", confirm_failures=2), svc("web")])
    variants = [
        frozenset(),
        frozenset({"latencies", "outcomes"}),
        frozenset({"daily"}),
        frozenset({"daily", "latencies", "outcomes", "last_check"}),
    ]
    caches = {omit: ServiceFragments(omit) for omit in variants}

    def compare(day: date) -> None:
        for st in b.live.services.values():
            full = service_entry(st, day, b.live.major_threshold)
            for omit, cache in caches.items():
                cached = cache.fragment(st, day, b.live.major_threshold)
                assert cached == dumps(service_entry(st, day, b.live.major_threshold, omit))
                assert json.loads(cached) == {k: v for k, v in full.items() if k not in omit}

    compare(b.t.date())
    for outcome in [Outcome.UP, Outcome.DOWN, Outcome.DOWN, Outcome.UP, Outcome.DEGRADED]:
        b.tick("api", outcome)
        compare(b.t.date())
    b.live.set_services(
        [dataclasses.replace(b.live.services["api"].service, name="API"), svc("web")]
    )
    compare(b.t.date())
    compare(b.t.date() + timedelta(days=1))


def test_the_reply_frame_holds_every_fragment_once() -> None:
    # status.get's result is kept as parts (the fragments and the commas between them) and
    # joined once, into the reply frame: the frame is the JSON of the whole reply, with the
    # entries in the live state's order, for no, one and several services.
    for services in ([], [svc("api")], [svc("api"), svc("web", group="G"), svc("ü ✓")]):
        b = Board(services)
        for s in services:
            b.tick(s.id, Outcome.DOWN)
        ctx = SimpleNamespace(
            clock=b,
            settings=SimpleNamespace(node="n1"),
            notice=None,
            live=b.live,
            incidents=SimpleNamespace(active=[]),
            alerts=None,
        )
        raw = status_json(ctx, b.fragments)  # type: ignore[arg-type]
        frame = encode_reply(41, raw)
        assert frame.endswith(b"}\n") and frame.count(b"\n") == 1
        assert frame == b'{"id":41,"result":' + raw.data + b"}\n"
        reply = json.loads(frame)
        assert reply["id"] == 41 and reply["result"]["node"] == "n1"
        assert len(reply["result"]["days"]) == HISTORY_DAYS
        entries = b.entries()
        assert reply["result"]["services"] == [entries[s.id] for s in services]
