"""SLO burn-rate alerts: the multi-window, multi-burn-rate alerts of the Google SRE workbook.

Definitions (chapter "Alerting on SLOs", table 5-8):

* The error budget is ``1 − target`` of the checks (target 99.9 % → 0.1 %). Maintenance
  checks count for nothing; a degraded check answered correctly, so it is good (rollup.py).
* The burn rate over a window is ``error ratio in the window / error budget``: 1× spends the
  budget exactly over the budget period, 14.4× spends a 30-day budget's 2 % in one hour.
* An alert fires when BOTH its long and its short window burn at least its factor: the long
  window makes it significant, the short one makes it stop soon after the burning stops.

  ====== =========== ============ ======
  kind   long window short window factor
  ====== =========== ============ ======
  page   1 hour      5 minutes    14.4
  page   6 hours     30 minutes   6
  ticket 3 days      6 hours      1
  ====== =========== ============ ======

* At burn rate ``b`` the budget left (a fraction ``r`` of the period's, 1 when unknown) runs
  out in ``r × period / b``.

Counts come from a ``SloLedger`` per service: a ring of per-minute counts over the last 6
hours (windows up to 6 h are measured in whole minutes, the current minute included) and a
ring of per-hour counts over the last 73 hours (the 3-day window, in whole hours, the
current hour included). It is seeded after a restart from the hourly rollups and the raw
checks of the last 6 hours, and then fed every check.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from ..rollup import put_count

MINUTE_SLOTS = 6 * 60
HOUR_SLOTS = 73


@dataclass(frozen=True, slots=True)
class BurnWindowPair:
    """One row of the workbook's table."""

    kind: str  # "page" or "ticket"
    long_s: float
    short_s: float
    factor: float


WORKBOOK: tuple[BurnWindowPair, ...] = (
    BurnWindowPair("page", 3600.0, 300.0, 14.4),
    BurnWindowPair("page", 6 * 3600.0, 1800.0, 6.0),
    BurnWindowPair("ticket", 3 * 86400.0, 6 * 3600.0, 1.0),
)
KINDS = ("page", "ticket")


@dataclass(frozen=True, slots=True)
class Counts:
    """Checks in a window: how many failed, out of how many counted."""

    bad: int
    total: int

    @property
    def error_ratio(self) -> float | None:
        return self.bad / self.total if self.total else None


def burn_rate(counts: Counts, target_percent: float) -> float | None:
    """How many times faster than allowed the window spent the budget (None: no checks).

    Computed in exact fractions of the target as written (99.9 is 999/1000, not the float
    0.99900000000000011), so 36 failures in 2,500 checks burn exactly 14.4x and fire.
    """
    if not counts.total:
        return None
    budget = (100 - Fraction(repr(float(target_percent)))) / 100
    return float(Fraction(counts.bad, counts.total) / budget)


def budget_runs_out_in(rate: float, period_s: float, remaining: float = 1.0) -> float | None:
    """Seconds until the budget left is spent at ``rate`` (None when nothing is burning)."""
    if rate <= 0:
        return None
    return max(0.0, remaining) * period_s / rate


@dataclass(frozen=True, slots=True)
class BurnVerdict:
    """The evaluation of one kind (page or ticket) for one service."""

    kind: str
    firing: bool
    pair: BurnWindowPair  # the row that fired, or the page/ticket row burning hardest
    long_rate: float | None
    short_rate: float | None


def _minute(at: datetime) -> int:
    return int(at.timestamp() // 60)


def _hour(at: datetime) -> int:
    return int(at.timestamp() // 3600)


_QUIET_MINUTES = (HOUR_SLOTS + 1) * 60
"""A failure this many minutes before ``now`` is outside every window (the hour ring's
73 hours, rounded out by one)."""

_SPARSE = "i"
"""The typecode of a ring's failure counts kept sparse: (stamp, count) pairs. A dense ring
is "B", "H", "I" or "q" (``put_count``), never this."""


def _clear(a: array[int] | None, head: int, to: int, slots: int) -> None:
    """Zero the slots of the stamps after ``head`` up to ``to`` (every slot once the gap
    is a whole ring): the ring moves on to ``to``. Sparse pairs need nothing: a pair's
    stamp says whether it is still in the ring."""
    if a is None or a.typecode == _SPARSE:
        return
    if to - head >= slots:
        a[:] = array(a.typecode, bytes(slots * a.itemsize))
        return
    for stamp in range(head + 1, to + 1):
        a[stamp % slots] = 0


def _dense(pairs: array[int], head: int, slots: int) -> array[int]:
    """A sparse ring's pairs still in the ring, as a dense ring of ``slots`` counts."""
    ring = array("B", bytes(slots))
    for k in range(0, len(pairs), 2):
        stamp = pairs[k]
        if stamp > head - slots:
            i = stamp % slots
            ring = put_count(ring, i, ring[i] + pairs[k + 1])
    return ring


def _count_bad(
    a: array[int] | None, stamp: int, n: int, head: int, slots: int, *, add: bool = True
) -> array[int] | None:
    """The failure ring ``a`` with ``n`` more failures at ``stamp`` (``add=False``: exactly
    ``n``); ``stamp`` is in the ring (head − slots < stamp ≤ head).

    A ring's failures start as sparse (stamp, count) pairs — a service fails in few of its
    minutes and hours, and 8 B a failing stamp beat a slot for every stamp — and become a
    dense ring of ``slots`` counts once the pairs would take more than the dense ring's
    one byte a slot (or a count passes 2^31 − 1). Pairs out of the ring are dropped when
    one is added."""
    if a is None:
        if not n:
            return None
        a = array(_SPARSE)
    if a.typecode != _SPARSE:
        i = stamp % slots
        return put_count(a, i, n + (a[i] if add else 0))
    for k in range(0, len(a), 2):
        if a[k] == stamp:
            try:
                a[k + 1] = n + (a[k + 1] if add else 0)
                return a
            except OverflowError:
                break
    else:
        if not n:
            return a
        if a and min(a[::2]) <= head - slots:
            a = array(
                _SPARSE,
                [x for k in range(0, len(a), 2) if a[k] > head - slots for x in (a[k], a[k + 1])],
            )
        if 4 * (len(a) + 2) <= slots and n < 2**31:
            a.extend((stamp, n))
            return a
    ring = _dense(a, head, slots)
    i = stamp % slots
    return put_count(ring, i, n + (ring[i] if add else 0))


class SloLedger:
    """Per-minute and per-hour counts of one service's checks, in fixed rings.

    Each ring holds the counts of the ``slots`` stamps (minutes, hours) up to its newest
    one (``_m_head``, ``_h_head``): moving on zeroes the slots it passes over, so a slot
    needs no stamp of its own. A check older than the minute ring still counts in its hour;
    one older than the hour ring counts nowhere. Compact: counts start as one byte (an
    hour of checks every minute is 60), an array is copied to a wider typecode the first
    time a value does not fit (counts stay exact). The failure counts exist only while a
    failure is in the ring (dropped when ``last_bad`` leaves it), as (stamp, count) pairs
    while they are few, then as a ring (``_count_bad``): after a day of checks every
    minute, 0.77 KB a service that never failed, 1.07 KB one that failed every 97 minutes
    (tracemalloc; stop 22's 2-byte hours and failure rings of a slot per stamp: 0.85 and
    1.56 KB; a stamp per slot: 3.4 KB, int64 everywhere: 10.5 KB).
    ``last_bad`` is the latest minute a failure was counted in (-1: none), so the engine
    can skip services no window can see failing (``quiet``).
    """

    __slots__ = ("_m_head", "_m_bad", "_m_total", "_h_head", "_h_bad", "_h_total", "last_bad")

    def __init__(self) -> None:
        self._m_head = self._h_head = -1
        self._m_total = array("B", bytes(MINUTE_SLOTS))
        self._m_bad: array[int] | None = None
        self._h_total = array("B", bytes(HOUR_SLOTS))
        self._h_bad: array[int] | None = None
        self.last_bad = -1

    def quiet(self, now: datetime) -> bool:
        """Whether no window ending at ``now`` holds a failure (every burn rate is 0)."""
        return self.last_bad < _minute(now) - _QUIET_MINUTES

    def add(self, at: datetime, failed: bool, *, hours: bool = True) -> None:
        """Count one check (maintenance checks are not given to the ledger at all).

        ``hours=False`` when replaying raw checks of hours already seeded from rollups.
        """
        m = _minute(at)
        if m > self._m_head:
            _clear(self._m_total, self._m_head, m, MINUTE_SLOTS)
            if self._m_bad is not None:
                if self.last_bad <= m - MINUTE_SLOTS:
                    self._m_bad = None  # every failure counted has left the ring
                else:
                    _clear(self._m_bad, self._m_head, m, MINUTE_SLOTS)
            self._m_head = m
        if m > self._m_head - MINUTE_SLOTS:
            i = m % MINUTE_SLOTS
            self._m_total = put_count(self._m_total, i, self._m_total[i] + 1)
            if failed:
                self._m_bad = _count_bad(self._m_bad, m, 1, self._m_head, MINUTE_SLOTS)
                if m > self.last_bad:
                    self.last_bad = m
        if hours:
            self._set_hour(_hour(at), int(failed), 1, add=True)

    def seed_hour(self, hour_start: datetime, bad: int, total: int) -> None:
        """Set one hour's counts (from an hourly rollup: down, checks − maintenance)."""
        self._set_hour(_hour(hour_start), bad, total, add=False)

    def _set_hour(self, h: int, bad: int, total: int, *, add: bool) -> None:
        """Set (or with ``add``, add to) hour ``h``'s counts."""
        if h > self._h_head:
            _clear(self._h_total, self._h_head, h, HOUR_SLOTS)
            if self._h_bad is not None:
                if self.last_bad < (h - HOUR_SLOTS + 1) * 60:
                    self._h_bad = None  # every failure counted has left the ring
                else:
                    _clear(self._h_bad, self._h_head, h, HOUR_SLOTS)
            self._h_head = h
        elif h <= self._h_head - HOUR_SLOTS:
            return  # older than the ring holds
        i = h % HOUR_SLOTS
        self._h_total = put_count(self._h_total, i, total + (self._h_total[i] if add else 0))
        if bad or (self._h_bad is not None and not add):
            self._h_bad = _count_bad(self._h_bad, h, bad, self._h_head, HOUR_SLOTS, add=add)
        if bad and h * 60 + 59 > self.last_bad:
            self.last_bad = h * 60 + 59

    def counts(self, window_s: float, now: datetime) -> Counts:
        """Checks of the last ``window_s`` seconds, in whole minutes (≤ 6 h) or hours."""
        if window_s <= MINUTE_SLOTS * 60:
            last, n = _minute(now), int(window_s // 60)
            head, bads, totals, slots = self._m_head, self._m_bad, self._m_total, MINUTE_SLOTS
        else:
            last, n = _hour(now), int(window_s // 3600)
            head, bads, totals, slots = self._h_head, self._h_bad, self._h_total, HOUR_SLOTS
        n = min(n, slots)
        first, end = max(last - n, head - slots) + 1, min(last, head) + 1
        bad = total = 0
        for stamp in range(first, end):
            total += totals[stamp % slots]
        if bads is None:
            pass
        elif bads.typecode == _SPARSE:
            for k in range(0, len(bads), 2):
                if first <= bads[k] < end:
                    bad += bads[k + 1]
        else:
            for stamp in range(first, end):
                bad += bads[stamp % slots]
        return Counts(bad, total)


def _closeness(v: BurnVerdict) -> tuple[float, float]:
    """How near a quiet row is to firing: both windows, then the long one (for messages)."""
    long_rate, short_rate = v.long_rate or 0.0, v.short_rate or 0.0
    return min(long_rate, short_rate) / v.pair.factor, long_rate / v.pair.factor


def evaluate(ledger: SloLedger, target_percent: float, now: datetime) -> list[BurnVerdict]:
    """The page and ticket verdicts of one service at ``now``.

    A kind fires when any of its rows fires; the verdict names the first firing row in the
    table's order (the fastest burn), else the row closest to firing.
    """
    out: list[BurnVerdict] = []
    for kind in KINDS:
        verdicts = []
        for pair in (p for p in WORKBOOK if p.kind == kind):
            long_rate = burn_rate(ledger.counts(pair.long_s, now), target_percent)
            short_rate = burn_rate(ledger.counts(pair.short_s, now), target_percent)
            firing = (
                long_rate is not None
                and short_rate is not None
                and long_rate >= pair.factor
                and short_rate >= pair.factor
            )
            verdicts.append(BurnVerdict(kind, firing, pair, long_rate, short_rate))
        fired = [v for v in verdicts if v.firing]
        out.append(fired[0] if fired else max(verdicts, key=_closeness))
    return out
