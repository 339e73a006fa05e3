"""Live state: status with confirmation, transitions, overall status, warm start (SPEC §3.3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from slamon_daemon.models import Check, ErrorKind, Outcome, Service, ServiceStatus, Transition
from slamon_daemon.state import LiveState

S = ServiceStatus
T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def svc(sid: str = "api", confirm: int = 2) -> Service:
    return Service(
        id=sid, name=sid, url=f"http://127.0.0.1:9/{sid}", interval_s=60.0, confirm_failures=confirm
    )


class Clock:
    """Hands out increasing check times."""

    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> datetime:
        self.t += timedelta(seconds=60)
        return self.t


def make(sid: str, outcome: Outcome, at: datetime, *, maintenance: bool = False) -> Check:
    kind = ErrorKind.CONNECTION_ERROR if outcome is Outcome.DOWN else None
    return Check(
        service_id=sid,
        started_at=at,
        latency_ms=12.0,
        outcome=outcome,
        error_kind=kind,
        error="refused" if kind else None,
        maintenance=maintenance,
    )


def live(*services: Service) -> LiveState:
    st = LiveState()
    st.set_services(list(services))
    return st


def apply(state: LiveState, check: Check) -> list[Transition]:
    """Fold a check in; the transitions it caused."""
    return state.apply(check).transitions


def statuses(ts: list[Transition]) -> list[tuple[str | None, S, S]]:
    return [(t.service_id, t.previous, t.status) for t in ts]


UP, DOWN, SLOW = Outcome.UP, Outcome.DOWN, Outcome.DEGRADED


def test_first_check_turns_unknown_into_operational() -> None:
    state, clock = live(svc()), Clock()
    assert state.services["api"].status is S.UNKNOWN
    at = clock()
    ts = apply(state, make("api", UP, at))
    assert statuses(ts) == [("api", S.UNKNOWN, S.OPERATIONAL)]
    assert ts[0].at == at
    assert state.services["api"].status is S.OPERATIONAL
    assert state.services["api"].status_since == at
    assert state.services["api"].last_check is not None
    assert state.overall is S.OPERATIONAL
    assert apply(state, make("api", UP, clock())) == []  # no change, no transition


def test_failures_are_confirmed_then_recovery_is_confirmed() -> None:
    state, clock = live(svc(confirm=2)), Clock()
    apply(state, make("api", UP, clock()))
    # One failure: not confirmed yet, the service is degraded.
    assert statuses(apply(state, make("api", DOWN, clock()))) == [
        ("api", S.OPERATIONAL, S.DEGRADED),
        (None, S.OPERATIONAL, S.DEGRADED),
    ]
    # The second consecutive failure confirms the outage.
    assert statuses(apply(state, make("api", DOWN, clock()))) == [
        ("api", S.DEGRADED, S.MAJOR_OUTAGE),
        (None, S.DEGRADED, S.MAJOR_OUTAGE),
    ]
    # Recovery needs confirm_failures consecutive successes too.
    assert apply(state, make("api", UP, clock())) == []
    assert state.services["api"].status is S.MAJOR_OUTAGE
    assert statuses(apply(state, make("api", UP, clock()))) == [
        ("api", S.MAJOR_OUTAGE, S.OPERATIONAL),
        (None, S.MAJOR_OUTAGE, S.OPERATIONAL),
    ]


def test_confirmed_recovery_from_a_long_outage_is_operational() -> None:
    state, clock = live(svc(confirm=2)), Clock()
    for _ in range(5):
        apply(state, make("api", DOWN, clock()))
    assert state.services["api"].status is S.MAJOR_OUTAGE
    apply(state, make("api", UP, clock()))
    ts = apply(state, make("api", UP, clock()))
    assert statuses(ts)[0] == ("api", S.MAJOR_OUTAGE, S.OPERATIONAL)


def test_a_failure_between_successes_restarts_the_recovery_count() -> None:
    state, clock = live(svc(confirm=3)), Clock()
    for o in (DOWN, DOWN, DOWN):
        apply(state, make("api", o, clock()))
    assert state.services["api"].status is S.MAJOR_OUTAGE
    for o in (UP, UP, DOWN, UP, UP):
        assert apply(state, make("api", o, clock())) == []
        assert state.services["api"].status is S.MAJOR_OUTAGE
    ts = apply(state, make("api", UP, clock()))
    assert [t.previous for t in ts if t.service_id] == [S.MAJOR_OUTAGE]
    assert state.services["api"].status is not S.MAJOR_OUTAGE


def test_confirm_failures_one_confirms_at_once() -> None:
    state, clock = live(svc(confirm=1)), Clock()
    apply(state, make("api", UP, clock()))
    assert statuses(apply(state, make("api", DOWN, clock())))[0] == (
        "api",
        S.OPERATIONAL,
        S.MAJOR_OUTAGE,
    )
    assert statuses(apply(state, make("api", UP, clock())))[0] == (
        "api",
        S.MAJOR_OUTAGE,
        S.OPERATIONAL,
    )


def test_flapping_is_a_partial_outage() -> None:
    state, clock = live(svc(confirm=2)), Clock()
    seen = []
    for o in (UP, DOWN, UP, DOWN, UP, DOWN):
        apply(state, make("api", o, clock()))
        seen.append(state.services["api"].status)
    # Failures never come twice in a row, so none is confirmed; the third in the window
    # makes it a partial outage.
    assert seen == [
        S.OPERATIONAL,
        S.DEGRADED,
        S.OPERATIONAL,
        S.DEGRADED,
        S.OPERATIONAL,
        S.PARTIAL_OUTAGE,
    ]
    apply(state, make("api", UP, clock()))
    assert state.services["api"].status is S.PARTIAL_OUTAGE  # still 3 failures in the window
    for _ in range(10):
        apply(state, make("api", UP, clock()))
    assert state.services["api"].status is S.OPERATIONAL  # they left the window


def test_slow_check_is_degraded() -> None:
    state, clock = live(svc()), Clock()
    apply(state, make("api", UP, clock()))
    assert statuses(apply(state, make("api", SLOW, clock())))[0] == (
        "api",
        S.OPERATIONAL,
        S.DEGRADED,
    )
    assert statuses(apply(state, make("api", UP, clock())))[0] == ("api", S.DEGRADED, S.OPERATIONAL)


def test_overall_status() -> None:
    services = [svc(f"s{i}") for i in range(4)]
    state, clock = live(*services), Clock()
    assert state.overall is S.OPERATIONAL  # nothing known yet
    for s in services:
        apply(state, make(s.id, UP, clock()))
    assert state.overall is S.OPERATIONAL

    # One of four in major outage: the system is in partial outage.
    apply(state, make("s0", DOWN, clock()))
    assert state.overall is S.DEGRADED
    ts = apply(state, make("s0", DOWN, clock()))
    assert statuses(ts) == [
        ("s0", S.DEGRADED, S.MAJOR_OUTAGE),
        (None, S.DEGRADED, S.PARTIAL_OUTAGE),
    ]
    assert state.overall is S.PARTIAL_OUTAGE

    # All four in major outage: major outage.
    for s in services[1:]:
        apply(state, make(s.id, DOWN, clock()))
        apply(state, make(s.id, DOWN, clock()))
    assert all(st.status is S.MAJOR_OUTAGE for st in state.services.values())
    assert state.overall is S.MAJOR_OUTAGE
    assert state.overall_since == clock.t


def test_overall_ignores_unknown_services() -> None:
    state, clock = live(svc("a"), svc("b")), Clock()
    apply(state, make("a", DOWN, clock()))
    apply(state, make("a", DOWN, clock()))
    # b has no data yet: a is the only service that counts, and it is down.
    assert state.overall is S.MAJOR_OUTAGE


def test_transition_to_dict() -> None:
    state, clock = live(svc()), Clock()
    at = clock()
    service_t = apply(state, make("api", UP, at))[0]
    assert service_t.to_dict() == {
        "kind": "service",
        "service_id": "api",
        "status": "operational",
        "previous": "unknown",
        "at": at.isoformat(),
    }
    apply(state, make("api", DOWN, clock()))
    at2 = clock()
    overall_t = apply(state, make("api", DOWN, at2))[1]
    assert overall_t.to_dict() == {
        "kind": "overall",
        "status": "major_outage",
        "previous": "degraded",
        "at": at2.isoformat(),
    }


def test_checks_of_unknown_services_are_ignored() -> None:
    state, clock = live(svc("a")), Clock()
    assert apply(state, make("ghost", DOWN, clock())) == []
    assert "ghost" not in state.services


def test_set_services_keeps_known_state_and_drops_removed() -> None:
    state, clock = live(svc("a"), svc("b")), Clock()
    apply(state, make("a", UP, clock()))
    apply(state, make("b", UP, clock()))
    renamed = Service(id="a", name="A renamed", url="http://127.0.0.1:9/a")
    state.set_services([renamed, svc("c")])
    assert set(state.services) == {"a", "c"}
    assert state.services["a"].status is S.OPERATIONAL
    assert state.services["a"].service.name == "A renamed"
    assert state.services["c"].status is S.UNKNOWN


def test_recent_checks_are_kept_for_the_sparkline() -> None:
    state, clock = live(svc()), Clock()
    for _ in range(100):
        apply(state, make("api", UP, clock()))
    recent = state.services["api"].recent
    assert 0 < len(recent) < 100  # bounded
    assert recent[-1].started_at == clock.t


def test_load_history_warms_status_without_transitions() -> None:
    state, clock = live(svc("down", confirm=2), svc("fine"), svc("fresh")), Clock()
    down = [make("down", UP, clock()), make("down", DOWN, clock()), make("down", DOWN, clock())]
    fine = [make("fine", DOWN, clock()), make("fine", UP, clock())]
    state.load_history([], {"down": down, "fine": fine, "gone": [make("gone", UP, clock())]})
    assert state.services["down"].status is S.MAJOR_OUTAGE
    assert state.services["down"].status_since == down[-1].started_at
    assert state.services["down"].last_check == down[-1]
    assert state.services["fine"].status is S.OPERATIONAL
    assert state.services["fresh"].status is S.UNKNOWN
    assert "gone" not in state.services
    assert state.overall is S.PARTIAL_OUTAGE  # one of the two known services is down
    # The warm state continues where it left off: the outage is still confirmed, so the
    # first success is not a recovery yet and makes no transition.
    assert apply(state, make("down", UP, clock())) == []
    ts = apply(state, make("down", UP, clock()))
    assert statuses(ts)[0] == ("down", S.MAJOR_OUTAGE, S.OPERATIONAL)


# -- outage episodes ------------------------------------------------------------------------


def test_episode_opens_at_the_first_failure_and_closes_at_recovery() -> None:
    state, clock = live(svc(confirm=2)), Clock()
    assert state.apply(make("api", UP, clock())).episode is None
    first = clock()
    ch = state.apply(make("api", DOWN, first))
    assert ch.episode is not None
    assert (ch.episode.started_at, ch.episode.ended_at) == (first, None)
    assert ch.episode.worst_status is S.DEGRADED
    assert ch.episode.cause == "connection_error" and ch.episode.error == "refused"
    ch = state.apply(make("api", DOWN, clock()))
    assert ch.episode is not None and ch.episode.worst_status is S.MAJOR_OUTAGE
    assert ch.episode.failed_checks == 2
    assert state.apply(make("api", UP, clock())).episode.ended_at is None  # type: ignore[union-attr]
    end = clock()
    ch = state.apply(make("api", UP, end))
    assert ch.episode is not None
    assert (ch.episode.started_at, ch.episode.ended_at) == (first, end)
    assert ch.episode.worst_status is S.MAJOR_OUTAGE and ch.episode.failed_checks == 2
    assert state.services["api"].episode is None
    assert state.apply(make("api", UP, clock())).episode is None


def test_a_single_failure_is_a_short_degraded_episode() -> None:
    state, clock = live(svc(confirm=2)), Clock()
    state.apply(make("api", UP, clock()))
    t1 = clock()
    state.apply(make("api", DOWN, t1))
    t2 = clock()
    ep = state.apply(make("api", UP, t2)).episode
    assert ep is not None
    assert (ep.started_at, ep.ended_at, ep.worst_status, ep.failed_checks) == (
        t1,
        t2,
        S.DEGRADED,
        1,
    )
    assert ep.duration_s(t2) == 60.0


def test_episodes_returned_are_snapshots() -> None:
    state, clock = live(svc(confirm=2)), Clock()
    ep1 = state.apply(make("api", DOWN, clock())).episode
    state.apply(make("api", DOWN, clock()))
    assert ep1 is not None and ep1.failed_checks == 1  # not changed by later checks


# -- maintenance ----------------------------------------------------------------------------


def test_maintenance_checks_show_maintenance_and_confirm_nothing() -> None:
    state, clock = live(svc("api", confirm=2), svc("other")), Clock()
    apply(state, make("api", UP, clock()))
    apply(state, make("other", UP, clock()))
    ts = apply(state, make("api", DOWN, clock(), maintenance=True))
    assert statuses(ts)[0] == ("api", S.OPERATIONAL, S.MAINTENANCE)
    for _ in range(5):
        apply(state, make("api", DOWN, clock(), maintenance=True))
    st = state.services["api"]
    assert st.status is S.MAINTENANCE
    assert st.confirmed_down is False and st.episode is None
    assert state.overall is S.OPERATIONAL  # maintenance does not count against the system
    # After the window, one failure is only the first of a new count.
    apply(state, make("api", DOWN, clock()))
    assert st.status is S.DEGRADED


def test_load_history_takes_rollups_and_open_episodes() -> None:
    from slamon_daemon.models import OutageEpisode
    from slamon_daemon.rollup import rollup_deltas

    state, clock = live(svc("api", confirm=2)), Clock()
    checks = [make("api", UP, clock()), make("api", DOWN, clock()), make("api", DOWN, clock())]
    episode = OutageEpisode(
        service_id="api",
        started_at=checks[1].started_at,
        worst_status=S.MAJOR_OUTAGE,
        failed_checks=2,
    )
    state.load_history(rollup_deltas(checks), {"api": checks}, [episode])
    st = state.services["api"]
    day = checks[0].started_at.date()
    assert st.counts(day, day) == (1, 3)  # (up + degraded, checks - maintenance)
    cells, uptime = st.history(day)
    assert cells[-1] == "mo" and uptime["30"] == "33.33"
    assert st.episode == episode
    # Recovery closes the episode that was open before the restart.
    state.apply(make("api", UP, clock()))
    end = clock()
    ch = state.apply(make("api", UP, end))
    assert ch.episode is not None
    assert (ch.episode.started_at, ch.episode.ended_at) == (episode.started_at, end)
    assert st.counts(day, day) == (3, 5)  # new checks add to the loaded day
