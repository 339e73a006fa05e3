"""Outage episodes and status history (SPEC §3.3): how LiveState opens and closes episodes,
and how episodes and transitions are stored on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from slamon_daemon.models import (
    Check,
    ErrorKind,
    OutageEpisode,
    Outcome,
    Service,
    ServiceStatus,
    Transition,
)
from slamon_daemon.state import Changes, LiveState
from slamon_daemon.store.base import Store

S = ServiceStatus
UP, DOWN, SLOW = Outcome.UP, Outcome.DOWN, Outcome.DEGRADED
T0 = datetime(2025, 7, 1, 9, 0, tzinfo=UTC)


class Feed:
    """Feeds checks one minute apart to a LiveState, keeping every episode snapshot."""

    def __init__(self, confirm: int = 2, sid: str = "api") -> None:
        self.sid = sid
        self.state = LiveState()
        self.state.set_services(
            [Service(id=sid, name=sid, url="http://127.0.0.1:9/", confirm_failures=confirm)]
        )
        self.t = T0
        self.snapshots: list[OutageEpisode] = []

    def __call__(
        self, outcome: Outcome, kind: ErrorKind | None = None, *, maintenance: bool = False
    ) -> Changes:
        self.t += timedelta(minutes=1)
        if outcome is DOWN and kind is None:
            kind = ErrorKind.CONNECTION_ERROR
        c = Check(
            service_id=self.sid,
            started_at=self.t,
            latency_ms=20.0,
            outcome=outcome,
            error_kind=kind,
            error=f"{kind.value} at {self.t:%H:%M}" if kind else None,
            maintenance=maintenance,
        )
        ch = self.state.apply(c)
        if ch.episode is not None:
            self.snapshots.append(ch.episode)
        return ch

    @property
    def status(self) -> ServiceStatus:
        return self.state.services[self.sid].status

    @property
    def open_episode(self) -> OutageEpisode | None:
        return self.state.services[self.sid].episode

    def final_episodes(self) -> dict[datetime, OutageEpisode]:
        """The last snapshot of each episode, as the store would keep it."""
        out: dict[datetime, OutageEpisode] = {}
        for e in self.snapshots:
            out[e.started_at] = e
        return out


def test_a_blip_is_a_degraded_episode_closed_by_the_next_success() -> None:
    f = Feed(confirm=2)
    assert f(UP).episode is None
    ch = f(DOWN, ErrorKind.TIMEOUT)
    blip_at = f.t
    assert f.status is S.DEGRADED
    assert ch.episode is not None
    assert (ch.episode.started_at, ch.episode.ended_at) == (blip_at, None)
    assert (ch.episode.worst_status, ch.episode.cause, ch.episode.failed_checks) == (
        S.DEGRADED,
        "timeout",
        1,
    )
    assert ch.episode.error == f"timeout at {blip_at:%H:%M}"
    assert f.open_episode is not None

    ch = f(UP)
    assert f.status is S.OPERATIONAL
    assert ch.episode is not None
    assert (ch.episode.started_at, ch.episode.ended_at) == (blip_at, f.t)
    assert (ch.episode.worst_status, ch.episode.failed_checks) == (S.DEGRADED, 1)
    assert f.open_episode is None
    assert f(UP).episode is None  # nothing more to report
    assert len(f.final_episodes()) == 1


def test_a_confirmed_outage_episode() -> None:
    f = Feed(confirm=3)
    f(UP)
    f(DOWN, ErrorKind.TIMEOUT)
    start = f.t
    assert f.status is S.DEGRADED
    f(DOWN, ErrorKind.CONNECTION_ERROR)
    assert f.status is S.DEGRADED
    f(DOWN, ErrorKind.CONNECTION_ERROR)
    assert f.status is S.MAJOR_OUTAGE
    f(DOWN, ErrorKind.HTTP_ERROR)
    # Two successes of the three needed: still a major outage, the episode still open.
    for _ in range(2):
        ch = f(UP)
        assert f.status is S.MAJOR_OUTAGE
        assert ch.episode is not None and ch.episode.ended_at is None
    ch = f(UP)  # the third success confirms the recovery
    assert f.status is S.OPERATIONAL
    ep = ch.episode
    assert ep is not None
    assert ep.started_at == start
    assert ep.ended_at == f.t
    assert ep.worst_status is S.MAJOR_OUTAGE
    assert ep.failed_checks == 4
    assert ep.cause == "timeout"  # the first failure's kind, not the latest
    assert ep.duration_s(f.t) == 6 * 60
    assert f.open_episode is None
    assert list(f.final_episodes().values()) == [ep]


def test_a_failure_during_recovery_keeps_the_same_episode() -> None:
    f = Feed(confirm=2)
    f(DOWN)
    start = f.t
    f(DOWN)
    f(UP)
    f(DOWN, ErrorKind.TIMEOUT)  # recovery restarts
    f(UP)
    assert f.status is S.MAJOR_OUTAGE and f.open_episode is not None
    f(UP)
    assert f.status is S.OPERATIONAL
    (ep,) = f.final_episodes().values()
    assert (ep.started_at, ep.ended_at, ep.failed_checks, ep.cause) == (
        start,
        f.t,
        3,
        "connection_error",
    )


def test_slow_answers_alone_open_no_episode() -> None:
    f = Feed()
    for o in (UP, SLOW, SLOW, UP):
        assert f(o).episode is None
    assert f.snapshots == []


def test_flapping_episode_takes_partial_outage_as_worst() -> None:
    f = Feed(confirm=2)
    for o in (UP, DOWN, UP, DOWN, UP, DOWN):
        f(o)
    assert f.status is S.PARTIAL_OUTAGE
    eps = list(f.final_episodes().values())
    # Each unconfirmed failure is a blip, closed by the next success; the third one within
    # the window makes a partial outage, which successes alone do not end at once.
    assert [(e.worst_status, e.ended_at is None) for e in eps] == [
        (S.DEGRADED, False),
        (S.DEGRADED, False),
        (S.PARTIAL_OUTAGE, True),
    ]
    f(UP)
    assert f.status is S.PARTIAL_OUTAGE and f.open_episode is not None
    back_at = None
    for _ in range(10):
        f(UP)
        if back_at is None and f.status is S.OPERATIONAL:
            back_at = f.t
    assert f.status is S.OPERATIONAL and f.open_episode is None
    last = list(f.final_episodes().values())[-1]
    # It ends at the check that brought the service back to operational.
    assert (last.worst_status, last.failed_checks, last.ended_at) == (S.PARTIAL_OUTAGE, 1, back_at)


def test_maintenance_checks_during_an_outage_are_not_failures() -> None:
    f = Feed(confirm=2)
    f(UP)
    f(DOWN)
    f(DOWN)
    assert f.status is S.MAJOR_OUTAGE
    for _ in range(5):
        f(DOWN, ErrorKind.TIMEOUT, maintenance=True)
        assert f.status is S.MAINTENANCE
    st = f.state.services["api"]
    assert st.consecutive_failures == 2  # maintenance checks confirmed nothing
    f(DOWN)  # after the window the service still fails
    assert f.status is S.MAJOR_OUTAGE
    f(UP)
    f(UP)
    assert f.status is S.OPERATIONAL
    assert f.open_episode is None
    # However the episodes are cut, the 5 maintenance failures are counted in none of them.
    assert sum(e.failed_checks for e in f.final_episodes().values()) == 3
    assert all(e.ended_at is not None for e in f.final_episodes().values())


def test_an_outage_spanning_a_maintenance_window_is_one_episode() -> None:
    f = Feed(confirm=2)
    f(UP)
    f(DOWN)
    start = f.t
    f(DOWN)
    for _ in range(3):
        f(DOWN, maintenance=True)
    f(UP)  # the window is over; one success does not confirm a recovery
    assert f.status is S.MAJOR_OUTAGE
    assert f.open_episode is not None, "major_outage without an open episode"
    f(UP)
    assert f.status is S.OPERATIONAL
    (ep,) = f.final_episodes().values()
    assert (ep.started_at, ep.ended_at, ep.failed_checks) == (start, f.t, 2)


def test_episodes_of_two_services_are_separate() -> None:
    state = LiveState()
    state.set_services([Service(id=s, name=s, url="http://127.0.0.1:9/") for s in ("a", "b")])

    def down(sid: str, minute: int) -> Check:
        return Check(
            service_id=sid,
            started_at=T0 + timedelta(minutes=minute),
            latency_ms=1.0,
            outcome=DOWN,
            error_kind=ErrorKind.DNS_ERROR,
            error="nx",
        )

    ea = state.apply(down("a", 1)).episode
    eb = state.apply(down("b", 2)).episode
    assert ea is not None and eb is not None
    assert (ea.service_id, ea.started_at) == ("a", T0 + timedelta(minutes=1))
    assert (eb.service_id, eb.started_at) == ("b", T0 + timedelta(minutes=2))
    assert state.services["a"].episode is not state.services["b"].episode


# -- through the store (both backends) --------------------------------------------------------


async def test_episode_records_upsert_to_one_row(store: Store) -> None:
    f = Feed(confirm=2)
    f(UP)
    f(DOWN, ErrorKind.TIMEOUT)
    f(DOWN)
    f(DOWN)
    f(UP)
    f(UP)
    snapshots = list(f.snapshots)
    assert len(snapshots) == 5 and snapshots[-1].ended_at is not None
    # Each snapshot is journaled; the batch is written twice (a replay).
    assert await store.write_batch(snapshots) == 0
    assert await store.write_batch(snapshots) == 0
    final = snapshots[-1]
    assert await store.episodes("api") == [final]
    assert await store.episodes(open_only=True) == []
    # Records of one episode in separate batches: the latest fields win.
    first_only = OutageEpisode(
        **{k: getattr(snapshots[0], k) for k in OutageEpisode.__dataclass_fields__}
    )
    first_only.started_at = T0 + timedelta(hours=5)
    later = OutageEpisode(**{k: getattr(first_only, k) for k in OutageEpisode.__dataclass_fields__})
    later.worst_status, later.failed_checks, later.error = S.MAJOR_OUTAGE, 9, "still down"
    await store.write_batch([first_only])
    assert await store.episodes(open_only=True) == [first_only]
    await store.write_batch([later])
    assert await store.episodes(open_only=True) == [later]
    assert await store.episodes("api") == [later, final]  # newest first
    assert await store.episodes("api", limit=1) == [later]
    assert await store.episodes("other") == []
    # since: open ones, and closed ones that ended after it.
    assert await store.episodes(since=final.ended_at + timedelta(seconds=1)) == [later]  # type: ignore[operator]
    assert await store.episodes(since=final.ended_at) == [later, final]


async def test_episode_records_in_one_batch_with_checks(store: Store) -> None:
    t = T0 + timedelta(days=1)
    c1 = Check(
        service_id="web",
        started_at=t,
        latency_ms=5.0,
        outcome=DOWN,
        error_kind=ErrorKind.TLS_ERROR,
        error="bad cert",
    )
    open_ep = OutageEpisode(
        "web", t, S.DEGRADED, cause="tls_error", error="bad cert", failed_checks=1
    )
    worse = OutageEpisode(
        "web", t, S.MAJOR_OUTAGE, cause="tls_error", error="bad cert", failed_checks=2
    )
    closed = OutageEpisode(
        "web",
        t,
        S.MAJOR_OUTAGE,
        ended_at=t + timedelta(minutes=9),
        cause="tls_error",
        error="bad cert",
        failed_checks=2,
    )
    assert await store.write_batch([c1, open_ep, worse, closed]) == 1
    assert await store.episodes("web") == [closed]
    assert await store.write_batch([c1, open_ep, worse, closed]) == 0  # a replay
    assert await store.episodes("web") == [closed]
    assert await store.episodes("web", open_only=True) == []


async def test_status_history_round_trip_with_overall(store: Store) -> None:
    f = Feed(confirm=2)
    transitions: list[Transition] = []
    for o in (UP, DOWN, DOWN, UP, UP):
        transitions += f(o).transitions
    service = [t for t in transitions if t.service_id == "api"]
    overall = [t for t in transitions if t.service_id is None]
    assert [t.status for t in service] == [S.OPERATIONAL, S.DEGRADED, S.MAJOR_OUTAGE, S.OPERATIONAL]
    assert [t.status for t in overall] == [S.DEGRADED, S.MAJOR_OUTAGE, S.OPERATIONAL]
    await store.write_batch(transitions)
    await store.write_batch(transitions)  # a replay adds nothing
    assert await store.status_history("api") == list(reversed(service))
    assert await store.status_history(None) == list(reversed(overall))
    got = await store.status_history(None)
    assert all(t.service_id is None and t.at.utcoffset() == timedelta(0) for t in got)
    assert [t.to_dict()["kind"] for t in got] == ["overall"] * 3
    assert await store.status_history("api", limit=2) == list(reversed(service))[:2]
    since = service[2].at
    assert await store.status_history("api", since=since) == list(reversed(service[2:]))
    assert await store.status_history(None, since=since) == [
        t for t in reversed(overall) if t.at >= since
    ]
    assert await store.status_history("nobody") == []


async def test_status_history_same_instant_two_statuses(store: Store) -> None:
    at = T0 + timedelta(days=2)
    a = Transition("api", S.OPERATIONAL, S.DEGRADED, at)
    b = Transition("api", S.DEGRADED, S.MAJOR_OUTAGE, at)
    o = Transition(None, S.OPERATIONAL, S.DEGRADED, at)
    await store.write_batch([a, b, o])
    assert await store.status_history("api") == [b, a]  # same instant: latest written first
    assert await store.status_history(None) == [o]
