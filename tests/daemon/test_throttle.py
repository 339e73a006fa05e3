"""The rules of login throttling (throttle.py), with times the test chooses."""

from __future__ import annotations

import pytest

from slamon_daemon.errors import RateLimited
from slamon_daemon.throttle import (
    CLIENT_CEILING,
    FORGET_S,
    GLOBAL_CEILING,
    GLOBAL_WINDOW_S,
    LoginThrottle,
    lock_for,
)


def fail(t: LoginThrottle, user: str, client: str, now: float) -> None:
    t.begin(user, client, now)  # counted at once; never taken back: a wrong password


def test_locks_grow_and_stop_at_fifteen_minutes() -> None:
    assert [lock_for(n) for n in range(1, 12)] == [
        0,
        0,
        0,
        0,
        30,
        60,
        120,
        240,
        480,
        900,
        900,
    ]
    assert lock_for(10_000) == 900


def test_a_pair_is_forgotten_fifteen_minutes_after_its_last_failure() -> None:
    t = LoginThrottle()
    for i in range(4):
        fail(t, "alice", "uid:1", float(i))
    t.begin("alice", "uid:1", 3 + FORGET_S)  # 4 failures forgotten: this is the first
    assert t.pairs[("alice", "uid:1")].count == 1


def test_the_global_ceiling_holds_back_failing_clients_only() -> None:
    t = LoginThrottle()
    for i in range(GLOBAL_CEILING):  # a storm: one failure each from many clients
        fail(t, f"user{i % 7}", f"ip:{i}", 0.0)
    with pytest.raises(RateLimited, match=r"retry in \d+ s \(on this daemon\)"):
        t.begin("alice", "ip:3", 1.0)  # a client that failed within the minute
    attempt, _ = t.begin("alice", "ip:fresh", 1.0)  # a clean client still may try
    t.succeeded(attempt)
    fail(t, "bob", "ip:3", GLOBAL_WINDOW_S + 1)  # the minute passed: the storm is over


def test_the_client_ceiling_counts_every_username() -> None:
    t = LoginThrottle()
    for i in range(CLIENT_CEILING):
        fail(t, f"name{i}", "uid:7", float(i))
    with pytest.raises(RateLimited, match=r"\(from this client\)"):
        t.begin("alice", "uid:7", 30.0)
    t.begin("alice", "uid:8", 30.0)  # another client is not touched


def test_an_attempt_that_could_not_be_checked_is_not_counted() -> None:
    t = LoginThrottle()
    fail(t, "alice", "uid:1", 0.0)
    attempt, counted = t.begin("alice", "uid:1", 1.0)
    assert counted.count == 2
    t.cancel(attempt)  # the database failed before the password was checked
    assert t.pairs[("alice", "uid:1")].count == 1
    attempt, _ = t.begin("bob", "uid:1", 2.0)
    t.cancel(attempt)
    assert ("bob", "uid:1") not in t.pairs
