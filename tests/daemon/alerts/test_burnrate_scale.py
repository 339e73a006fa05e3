"""The compact SLO ledger answers as the plain int64 one did; the tick's shortcut (skip the
services no window sees failing) sends the same notifications as evaluating every one."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from slamon_daemon.alerts import burnrate
from slamon_daemon.alerts.burnrate import (
    HOUR_SLOTS,
    MINUTE_SLOTS,
    WORKBOOK,
    Counts,
    SloLedger,
    evaluate,
)

from .engine_support import T0, Harness, svc


class ReferenceLedger:
    """The ledger's meaning, written plainly: every count kept in dicts; a window sees the
    minutes of the 6 hours (the hours of the 73) up to the newest one counted; a check
    older than those 6 hours still counts in its hour, one older than the 73 hours nowhere.
    (The first ledger, six int64 rings with a stamp per slot, answered the same for every
    window ending at or after the newest check counted, the daemon's case.)"""

    def __init__(self) -> None:
        self.minutes: dict[int, list[int]] = {}
        self.hours: dict[int, list[int]] = {}
        self.m_head = self.h_head = -1

    def add(self, at: datetime, failed: bool, *, hours: bool = True) -> None:
        m = int(at.timestamp() // 60)
        self.m_head = max(self.m_head, m)
        if m > self.m_head - MINUTE_SLOTS:
            c = self.minutes.setdefault(m, [0, 0])
            c[0] += int(failed)
            c[1] += 1
        if hours:
            h = int(at.timestamp() // 3600)
            self.h_head = max(self.h_head, h)
            if h > self.h_head - HOUR_SLOTS:
                c = self.hours.setdefault(h, [0, 0])
                c[0] += int(failed)
                c[1] += 1

    def seed_hour(self, hour_start: datetime, bad: int, total: int) -> None:
        h = int(hour_start.timestamp() // 3600)
        self.h_head = max(self.h_head, h)
        if h > self.h_head - HOUR_SLOTS:
            self.hours[h] = [bad, total]

    def counts(self, window_s: float, now: datetime) -> Counts:
        if window_s <= MINUTE_SLOTS * 60:
            last, n = int(now.timestamp() // 60), int(window_s // 60)
            head, kept, slots = self.m_head, self.minutes, MINUTE_SLOTS
        else:
            last, n = int(now.timestamp() // 3600), int(window_s // 3600)
            head, kept, slots = self.h_head, self.hours, HOUR_SLOTS
        n = min(n, slots)
        seen = [kept.get(s, [0, 0]) for s in range(last - n + 1, last + 1) if s > head - slots]
        return Counts(sum(c[0] for c in seen), sum(c[1] for c in seen))


WINDOWS = sorted({w for p in WORKBOOK for w in (p.long_s, p.short_s)} | {60.0, 86400.0})


@pytest.mark.parametrize("seed", range(6))
def test_compact_ledger_counts_as_the_int64_one(seed: int) -> None:
    rnd = random.Random(seed)
    new, ref = SloLedger(), ReferenceLedger()
    t = T0
    for _ in range(400):
        step = rnd.choice(["same", "sec", "min", "hours", "days", "back", "seed"] * 4 + ["burst"])
        if step == "sec":
            t += timedelta(seconds=rnd.randint(1, 59))
        elif step == "min":
            t += timedelta(minutes=rnd.randint(1, 30))
        elif step == "hours":
            t += timedelta(hours=rnd.randint(1, 10))
        elif step == "days":
            t += timedelta(days=rnd.randint(1, 5))
        at = t - timedelta(minutes=rnd.randint(0, 800)) if step == "back" else t
        if step == "seed":  # rollups: counts far beyond one byte (and two)
            hour = at.replace(minute=0, second=0, microsecond=0)
            total = rnd.choice([0, 5, 3600, 70_000, 5_000_000_000])
            bad = rnd.randint(0, total)
            new.seed_hour(hour, bad, total)
            ref.seed_hour(hour, bad, total)
        else:
            n = rnd.choice([300, 300, 66_000]) if step == "burst" else 1
            failed = rnd.random() < 0.3
            hours = rnd.random() < 0.8
            for _ in range(n):
                new.add(at, failed, hours=hours)
                ref.add(at, failed, hours=hours)
        now = t + timedelta(seconds=rnd.randint(-7200, 7200))
        for w in WINDOWS:
            assert new.counts(w, now) == ref.counts(w, now), (step, w)
        target = rnd.choice([99.0, 99.9, 99.95])
        assert evaluate(new, target, now) == evaluate(ref, target, now)  # type: ignore[arg-type]
        if new.quiet(now):  # the shortcut's promise: nothing failed in any window
            assert all(ref.counts(w, now).bad == 0 for w in WINDOWS)


@pytest.mark.parametrize("seed", range(6))
def test_sparse_failure_rings_count_as_the_int64_one(seed: int) -> None:
    """Failures now rare, now every check, with late checks and seeded hours: the failure
    rings pass through every form (none, sparse pairs, dense, none again once every failure
    left the ring) and every window counts as the plain ledger's."""
    rnd = random.Random(1000 + seed)
    new, ref = SloLedger(), ReferenceLedger()
    t = T0
    forms: set[tuple[str, str]] = set()
    p_fail = 0.0
    for step in range(2500):
        if step % 150 == 0:
            p_fail = rnd.choice([0.0, 0.0, 0.003, 0.02, 0.1, 0.6, 1.0])
        if rnd.random() < 0.01:
            t += timedelta(hours=rnd.choice([1, 5, 20, 80]))
        t += timedelta(seconds=rnd.choice([1, 20, 60, 60, 60, 60, 60, 60, 300]))
        at = t - timedelta(minutes=rnd.randint(0, 900)) if rnd.random() < 0.05 else t
        if rnd.random() < 0.02:
            hour = at.replace(minute=0, second=0, microsecond=0)
            total = rnd.choice([0, 60, 70_000, 5_000_000_000])
            bad = rnd.choice([0, 0, 1, total // 2, total])
            new.seed_hour(hour, bad, total)
            ref.seed_hour(hour, bad, total)
        else:
            failed = rnd.random() < p_fail
            hours = rnd.random() < 0.9
            new.add(at, failed, hours=hours)
            ref.add(at, failed, hours=hours)
        for name, ring in (("minutes", new._m_bad), ("hours", new._h_bad)):
            forms.add((name, "none" if ring is None else ring.typecode))
        now = t + timedelta(seconds=rnd.randint(-600, 600))
        for w in WINDOWS:
            assert new.counts(w, now) == ref.counts(w, now), (step, w)
    for name in ("minutes", "hours"):
        assert {(name, "none"), (name, "i")} <= forms, forms
        assert {(n, f) for n, f in forms if n == name and f in "BHIq"}, forms  # dense


def test_a_rare_failure_takes_pairs_not_a_ring() -> None:
    """A failure every 97 minutes for a day: the minute ring's failures are a few pairs,
    and both rings' failures go once the last failure left them."""
    ledger = SloLedger()
    for minute in range(1440):
        ledger.add(T0 + timedelta(minutes=minute), minute % 97 == 0)
    assert ledger._m_bad is not None and ledger._m_bad.typecode == "i"
    # minutes 1164, 1261 and 1358 in the last 6 hours; 1067, counted before 1358 came,
    # has left the ring (pairs are dropped when one is added)
    assert len(ledger._m_bad) == 2 * 4
    assert ledger.counts(6 * 3600, T0 + timedelta(minutes=1439)) == Counts(3, 360)
    assert ledger._h_bad is not None and ledger._h_bad.typecode in "BHIq"  # 15 hours
    later = T0 + timedelta(minutes=1439 + 74 * 60)
    ledger.add(later, False)
    assert ledger._m_bad is None and ledger._h_bad is None
    assert ledger.counts(3 * 86400, later) == Counts(0, 1)


def ring_bytes(ledger: SloLedger) -> int:
    rings = [ledger._m_bad, ledger._m_total, ledger._h_bad, ledger._h_total]
    return sum(a.buffer_info()[1] * a.itemsize for a in rings if a is not None)


def test_a_ledger_is_small() -> None:
    """The point of the compact rings: about 0.5 KB of counts a service that never failed,
    1 KB once one did (3 KB with a stamp per slot, 10.5 KB with int64 everywhere)."""
    ledger = SloLedger()
    for minute in range(600):
        ledger.add(T0 + timedelta(minutes=minute), False)
    assert ring_bytes(ledger) < 520
    ledger.add(T0 + timedelta(minutes=600), True)
    assert ring_bytes(ledger) < 1020


SERVICES = ["api", "db", "web", "cdn"]
TOML = """
[[alert_channel]]
id = "tickets"
type = "webhook"
url = "https://tickets.example/hook"
rules = ["slo_burn"]
"""


def scripted(quiet_shortcut: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], int]:
    """Five days of checks every minute with bursts of failures; notifications sent, and
    how many services the tick evaluated."""
    with monkeypatch.context() as mp:
        if not quiet_shortcut:
            mp.setattr(SloLedger, "quiet", lambda self, now: False)
        evaluated = 0
        real = burnrate.evaluate

        def counting(*a: object, **kw: object) -> object:
            nonlocal evaluated
            evaluated += 1
            return real(*a, **kw)  # type: ignore[arg-type]

        mp.setattr("slamon_daemon.alerts.core.evaluate", counting)
        h = Harness(TOML, services=[svc(s, slo_target=99.9) for s in SERVICES])
        rnd = random.Random(7)
        bursts = {
            "api": {(30, 40), (4000, 4030)},
            "db": {(200, 205)},
            "web": {(6000, 6400)},
            "cdn": set(),
        }
        for minute in range(5 * 24 * 60):
            for sid in SERVICES:
                failed = any(a <= minute < b for a, b in bursts[sid]) or rnd.random() < 0.0004
                at = T0 + timedelta(minutes=minute, seconds=7)
                h.engine.record_check(sid, at, failed)
            h.tick(minute * 60 + 30)
    return [repr(n) for n in h.sent], evaluated


def test_skipping_quiet_services_sends_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    with_shortcut, evaluated_some = scripted(True, monkeypatch)
    without, evaluated_all = scripted(False, monkeypatch)
    assert with_shortcut == without
    assert any("slo_burn" in n and "RESOLVE" in n for n in without)  # fires and resolves
    assert evaluated_all == 5 * 24 * 60 * len(SERVICES)
    assert evaluated_some < evaluated_all  # the shortcut did skip
