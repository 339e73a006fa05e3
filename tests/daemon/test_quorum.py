"""The quorum of regions (issue 15, README "Several regions"), by hand-computed cases.

A service probed from eu, us and ap (confirm_failures = 2, quorum: a majority, 2 of 3):
* one region's confirmed failure is a partial outage "down from eu only", never major;
* two regions confirming make it major; one recovering leaves the other's partial outage;
* a sick node's failures do not count; an explicit quorum and a service's own regions do;
* the quorum figures: a failure fewer than the quorum see counts as up (``regional``), a
  failure the quorum sees shares its interval among the regions that see it; per-region
  uptime counts each region's own checks.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from slamon_daemon.models import Check, Outcome, Service, ServiceStatus
from slamon_daemon.rollup import linked, rollup_deltas, uptime_percent_text
from slamon_daemon.state import LiveState

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
NODES = {"eu": "n-eu", "us": "n-us", "ap": "n-ap"}


def _state(**service: Any) -> LiveState:
    st = LiveState()
    st.set_services([Service(id="api", name="API", url="http://127.0.0.1/", **service)])
    st.known_regions = ("ap", "eu", "us")
    return st


def _check(region: str, at_s: float, up: bool) -> Check:
    return Check(
        service_id="api",
        started_at=T0 + timedelta(seconds=at_s),
        latency_ms=10.0,
        outcome=Outcome.UP if up else Outcome.DOWN,
        node=NODES[region],
        region=region,
        interval_s=60.0,
    )


def _feed(state: LiveState, *checks: Check) -> list[Check]:
    """Fold checks as a daemon does (classified first); the checks as stored."""
    out = []
    for c in checks:
        c = state.classify(c)
        state.apply(c)
        out.append(c)
    return out


def test_one_region_down_is_a_partial_outage_naming_it() -> None:
    s = _state()
    _feed(s, _check("eu", 0, False), _check("us", 1, True), _check("ap", 2, True))
    _feed(s, _check("eu", 60, False), _check("us", 61, True), _check("ap", 62, True))
    st = s.services["api"]
    assert st.status is ServiceStatus.PARTIAL_OUTAGE
    assert st.down_regions == ("eu",)
    assert st.status_note == "down from eu only"
    assert s.overall is ServiceStatus.PARTIAL_OUTAGE


def test_a_quorum_of_regions_makes_a_major_outage_and_one_recovery_undoes_it() -> None:
    s = _state()
    _feed(s, _check("eu", 0, False), _check("us", 1, False), _check("ap", 2, True))
    assert s.services["api"].status is not ServiceStatus.MAJOR_OUTAGE  # unconfirmed yet
    _feed(s, _check("eu", 60, False), _check("us", 61, False), _check("ap", 62, True))
    st = s.services["api"]
    assert st.status is ServiceStatus.MAJOR_OUTAGE
    assert st.status_note is None
    assert s.overall is ServiceStatus.MAJOR_OUTAGE
    # eu recovers (confirmed by two successes): us alone is down again.
    _feed(s, _check("eu", 120, True), _check("us", 121, False), _check("eu", 180, True))
    assert st.status is ServiceStatus.PARTIAL_OUTAGE
    assert st.status_note == "down from us only"


def test_a_sick_nodes_failures_do_not_count() -> None:
    s = _state()
    s.sick_nodes = frozenset({"n-us"})
    for t in (0, 60):
        _feed(s, _check("eu", t, False), _check("us", t + 1, False), _check("ap", t + 2, True))
    st = s.services["api"]
    assert st.status is ServiceStatus.PARTIAL_OUTAGE
    assert st.down_regions == ("eu",)


def test_an_explicit_quorum_and_the_services_own_regions() -> None:
    one = _state(quorum=1)
    for t in (0, 60):
        _feed(one, _check("eu", t, False), _check("us", t + 1, True))
    assert one.services["api"].status is ServiceStatus.MAJOR_OUTAGE
    # Probed from eu and us only: a majority of two is two.
    two = _state(regions=("eu", "us"))
    for t in (0, 60):
        _feed(two, _check("eu", t, False), _check("us", t + 1, True))
    assert two.services["api"].status is ServiceStatus.PARTIAL_OUTAGE


def test_quorum_figures_by_hand() -> None:
    """Round 1: eu fails alone. Round 2: all three fail, in the order eu, us, ap. Round 3:
    all up. By hand: eu's two failures are seen by fewer than two regions (regional: up);
    us at 61 s is seen by eu and us (share 2: 60/2 = 30 s of downtime); ap at 62 s by all
    three (share 3: 20 s). Checks 9, up 7 (3 + 1 regional + 3), down 2: 7/9 = 77.77 %;
    downtime 30 + 20 = 50 s. Per region: eu 1/3 = 33.33 %, us and ap 2/3 = 66.66 %."""
    s = _state()
    stored = _feed(
        s,
        _check("eu", 0, False),
        _check("us", 1, True),
        _check("ap", 2, True),
        _check("eu", 60, False),
        _check("us", 61, False),
        _check("ap", 62, False),
        _check("eu", 120, True),
        _check("us", 121, True),
        _check("ap", 122, True),
    )
    assert [(c.region, c.regional, c.share) for c in stored if c.failed] == [
        ("eu", True, 1),
        ("eu", True, 1),
        ("us", False, 2),
        ("ap", False, 3),
    ]
    (day,) = rollup_deltas(linked(stored))
    assert (day.checks, day.up, day.down) == (9, 7, 2)
    assert uptime_percent_text(day.up, day.degraded, day.checks, day.maintenance) == "77.77"
    assert day.downtime_s == 50.0
    # The live state counts the same.
    live = s.services["api"].days[T0.date()]
    assert (live.up, live.down, live.downtime_s) == (7, 2, 50.0)


async def test_per_region_uptime_from_the_stored_checks(store: Any) -> None:
    s = _state()
    stored = _feed(
        s,
        *(
            _check(r, t + i, up)
            for t, ups in ((0, (False, True, True)), (60, (False, False, False)))
            for i, (r, up) in enumerate(zip(("eu", "us", "ap"), ups, strict=True))
        ),
        _check("eu", 120, True),
        _check("us", 121, True),
        _check("ap", 122, True),
    )
    await store.write_batch(stored)
    got = await store.region_uptime("api", {"1h": T0 - timedelta(hours=1)})
    assert got == {"1h": {"ap": "66.66", "eu": "33.33", "us": "66.66"}}
    back = sorted(await store.checks_between("api", T0, T0 + timedelta(hours=1)), key=_key)
    assert [(c.region, c.regional, c.share) for c in back] == [
        (c.region, c.regional, c.share) for c in sorted(stored, key=_key)
    ]


async def test_per_region_uptime_over_24_hours_7_and_30_days(store: Any) -> None:
    """Each window counts each region's own checks since its start (README, "Per-region
    uptime"); maintenance is left out, an older check is in no window."""
    now = T0 + timedelta(days=40)
    day, hour = 86400.0, 3600.0
    eu = [
        (-20 * day, False, False),  # 30 d only
        (-20 * day + 60, True, False),
        (-5 * day, True, True),  # maintenance: left out of 7 d and 30 d
        (-3 * day, False, False),  # 7 d and 30 d
        (-30 * 60, True, False),  # every window
        (-29 * 60, True, False),
    ]
    us = [(-40 * day, False, False), (-10 * day, True, False), (-2 * hour, False, False)]
    us += [(-1 * hour, True, False)]
    checks = [
        replace(_check(region, (now - T0).total_seconds() + at, up), maintenance=maint)
        for region, rows in (("eu", eu), ("us", us))
        for at, up, maint in rows
    ]
    await store.write_batch(checks)
    got = await store.region_uptime(
        "api", {w: now - timedelta(days=d) for w, d in (("24h", 1), ("7d", 7), ("30d", 30))}
    )
    assert got == {
        "24h": {"eu": "100.00", "us": "50.00"},  # eu 2/2; us 1/2
        "7d": {"eu": "66.66", "us": "50.00"},  # eu 2/(4 - 1 maintenance); us 1/2
        "30d": {"eu": "60.00", "us": "66.66"},  # eu 3/(6 - 1); us 2/3 (-40 d is out)
    }
    assert await store.region_uptime("other", {"24h": now - timedelta(days=1)}) == {}


def _key(c: Check) -> tuple[datetime, str]:
    return (c.started_at, c.node)
