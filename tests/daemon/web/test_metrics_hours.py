"""/metrics' rolling 24 hours per service, kept in one array: it answers as the plain dict
of one list per hour it replaced (issue 14 point 3: 4.1 KB a service after a day, now 0.6)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from slamon_daemon.models import Check, Outcome
from slamon_daemon.rollup import uptime_ratio
from slamon_daemon.web.metrics_source import _Hours

T0 = datetime(2026, 12, 1, 12, 30, tzinfo=UTC)


class ReferenceHours:
    """The first version: a dict hour -> [up, degraded, checks, maintenance], the hours
    more than a day before a new one dropped."""

    def __init__(self) -> None:
        self.slots: dict[int, list[int]] = {}

    def add(self, check: Check) -> None:
        hour = int(check.started_at.timestamp() // 3600)
        slot = self.slots.get(hour)
        if slot is None:
            for old in [h for h in self.slots if h <= hour - 24]:
                del self.slots[old]
            slot = self.slots[hour] = [0, 0, 0, 0]
        slot[0] += check.outcome is Outcome.UP
        slot[1] += check.outcome is Outcome.DEGRADED
        slot[2] += 1
        slot[3] += check.maintenance

    def ratio(self, now: datetime) -> float | None:
        first = int(now.timestamp() // 3600) - 23
        sums = [0, 0, 0, 0]
        for hour, slot in self.slots.items():
            if hour >= first:
                for i in range(4):
                    sums[i] += slot[i]
        return uptime_ratio(*sums)


@pytest.mark.parametrize("seed", range(5))
def test_the_array_counts_as_the_dict(seed: int) -> None:
    rnd = random.Random(seed)
    new, ref = _Hours(), ReferenceHours()
    t = T0
    newest = t
    for _ in range(600):
        t += timedelta(minutes=rnd.choice([0, 1, 7, 59, 130, 60 * 30]))
        # a late check now and then (another node's, replayed), never older than a day
        at = t - timedelta(minutes=rnd.randint(0, 23 * 60)) if rnd.random() < 0.1 else t
        at = max(at, newest - timedelta(hours=22))
        newest = max(newest, at)
        c = Check(
            "api",
            at,
            1.0,
            rnd.choice(list(Outcome)),
            maintenance=rnd.random() < 0.1,
        )
        new.add(c)
        ref.add(c)
        now = newest + timedelta(minutes=rnd.randint(0, 3 * 60))
        assert new.ratio(now) == ref.ratio(now)


def test_a_check_older_than_the_day_counts_nowhere() -> None:
    hours = _Hours()
    hours.add(Check("api", T0, 1.0, Outcome.UP))
    hours.add(Check("api", T0 - timedelta(hours=25), 1.0, Outcome.DOWN))
    assert hours.ratio(T0) == 1.0
