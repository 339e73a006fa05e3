"""Live state of every service: status with confirmation, transitions, outage episodes and
the in-memory 90 days.

The store is the durable copy; this is what the feed reads (PERF-NOTES.md: never compute the
dashboard from the database per request). Per service it keeps the current status, the last
checks for the sparkline, the open outage episode and one Rollup per UTC day of the bar.

Status rules (SPEC §3.3):
* ``maintenance`` while the last check ran inside a maintenance window; such checks neither
  confirm a failure nor a recovery;
* ``major_outage`` once ``confirm_failures`` consecutive checks failed; it ends only after as
  many consecutive successes (confirmed recovery);
* ``partial_outage`` when at least ``FLAP_FAILURES`` of the last ``FLAP_WINDOW`` checks
  failed while no failure is confirmed (a flapping service);
* ``degraded`` when the last check was slower than ``degraded_after`` or failed without
  being confirmed yet;
* ``operational`` otherwise; ``unknown`` before the first check.

Several regions (issue 15, a cluster on PostgreSQL: checks carry their region): the rules
above run per region; ``major_outage`` needs the failure confirmed by at least ``quorum``
of the service's regions (default: a majority), regions whose node is flagged sick not
counted; fewer confirming regions make a ``partial_outage`` that names them ("down from
us-east only"). A check without a region (a single-node daemon) is judged as before.

Outage episodes: one opens at the first failed check of a service that has none open, takes
the worst status seen, and closes at the check that brings the service back to operational.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from .clock import Clock, SystemClock
from .models import (
    STATUS_SEVERITY,
    Check,
    DailyStatus,
    OutageEpisode,
    Outcome,
    Service,
    ServiceStatus,
    Transition,
)
from .rollup import (
    DEFAULT_MAJOR_THRESHOLD,
    Rollup,
    bucket_of,
    cell_of,
    daily_status,
    day_counts,
    downtime_pieces,
    put_count,
    uptime_percent_text,
)

HISTORY_DAYS = 90
BAR_PAGE = 2000
"""Services whose past days are read at a time at a start (``daemon.read_past_days``)."""
BAR_READERS = 2
"""Pages of the past days read side by side at a start (``daemon.read_past_days``)."""
WINDOWS = (30, 60, 90)
SPARKLINE_POINTS = 60
FLAP_WINDOW = 10
FLAP_FAILURES = 3


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_OUTCOMES = tuple(Outcome)
_OUTCOME_CODE = {o: i for i, o in enumerate(_OUTCOMES)}
_FLAG_BITS = 3  # a recent check's word: tenths << 13 | µs << 3 | maintenance | outcome
_LATENCY_SHIFT = _FLAG_BITS + 10
_OUTCOME_BITS = 3  # the outcome's index in Outcome (three of them)
_MAINT = 4  # the maintenance flag
_SPAN = 2**32  # milliseconds a recent check's 4-byte start reaches (49.7 days)
_DOWN = _OUTCOME_CODE[Outcome.DOWN]


def latency_tenths(latency_ms: float) -> int:
    """A latency in whole tenths of a millisecond, as ``round(latency_ms, 1)`` shows it:
    ``k / 10`` is exactly the float ``round(latency_ms, 1)`` for the ``k`` returned (below
    2^50 tenths: 3,500 years)."""
    return round(round(latency_ms, 1) * 10)


class RecentCheck(NamedTuple):
    """One of a service's recent checks, as the live state keeps it (``RecentChecks``)."""

    started_at: datetime
    latency_ms: float  # to 0.1 ms (``latency_tenths``)
    outcome: Outcome
    maintenance: bool


class RecentChecks:
    """A service's last ``SPARKLINE_POINTS`` checks, as much as the live state needs of
    them (start, latency, outcome, maintenance), for the sparkline and the flapping rule.

    Kept in two arrays of 4-byte numbers, not one ``Check`` a check: 60 checks of 50,000
    services were 3 million objects (~16 KB a service, ~0.8 GB), every one of them walked
    by each full collection of the garbage collector.

    * ``_at``: a check's start in whole milliseconds after ``_base`` (microseconds since
      the epoch): 4 bytes reach 49.7 days. A start before the base or past that reach
      moves the base to the oldest start kept (8 bytes, base 0, once the starts kept span
      more than that).
    * ``_word``: the rest of the check, ``tenths << 13 | µs << 3 | flags``: its latency in
      tenths of a millisecond (``latency_tenths``: every reader shows a recent latency to
      0.1 ms, ``round(x, 1)``, and reads the same from it), the start's microseconds
      within its millisecond, the outcome's index in Outcome and the maintenance flag
      (``_MAINT``); 8 bytes for a negative latency or one of 52.4 s or more.

    Once full they are a ring: ``_head`` is the oldest check's slot, a new check takes its
    place (nothing moves), and the arrays are exactly 60 items: ~0.75 KB a service
    (8-byte starts and 8-byte float latencies took 1.0 KB, 11 MiB more at 50,000 services;
    three arrays grown by appends and shifted by deleting the first item took ~1.5 KB).
    ``added`` counts every check appended, so a reader (status.get's sparkline) can tell
    which ones are new; a rebuilt list (``merge_history``) is a new object.
    """

    __slots__ = ("_at", "_word", "_base", "_head", "added")

    def __init__(self, checks: Iterable[Check | RecentCheck] = ()) -> None:
        self._at = array("I")
        self._word = array("I")
        self._base = 0
        self._head = 0
        self.added = 0
        for c in checks:
            self.append(c)

    def append(self, check: Check | RecentCheck) -> None:
        us = (check.started_at - _EPOCH) // _MICROSECOND
        self.added += 1
        at = self._at
        n = len(at)
        if not n and at.typecode == "I":
            self._base = us
        ms, rest = divmod(us - self._base, 1000)
        word = (
            round(round(check.latency_ms, 1) * 10) << _LATENCY_SHIFT  # latency_tenths
            | rest << _FLAG_BITS
            | _OUTCOME_CODE[check.outcome]
            | (_MAINT if check.maintenance else 0)
        )
        if n < SPARKLINE_POINTS:
            try:
                at.append(ms)
            except OverflowError:
                self._rebase(us, n)
            try:
                self._word.append(word)
            except OverflowError:  # a negative latency or one of 52.4 s or more
                self._word = array("q", self._word)
                self._word.append(word)
            if n + 1 == SPARKLINE_POINTS:  # full: exactly this long from now on
                self._at = array(self._at.typecode, self._at)
                self._word = array(self._word.typecode, self._word)
            return
        head = self._head
        try:
            at[head] = ms
        except OverflowError:
            self._rebase(us, head)
        try:
            self._word[head] = word
        except OverflowError:
            self._word = array("q", self._word)
            self._word[head] = word
        self._head = (head + 1) % SPARKLINE_POINTS

    def _rebase(self, us: int, slot: int) -> None:
        """Put the start ``us`` (its microseconds within the millisecond are in its word)
        in ``slot`` (``len`` to append) when its offset from the base does not fit: the
        base moves to the oldest start kept, or the starts become 8-byte milliseconds
        since the base 0 when they span 4 bytes' reach."""
        base = self._base
        starts = [base // 1000 + x for x in self._at]  # whole ms since the epoch + base's µs
        new = base // 1000 + (us - base) // 1000
        if slot == len(starts):
            starts.append(new)
        else:
            starts[slot] = new
        # every start is base % 1000 + 1000 × its item; keep base % 1000 as it is
        low = min(starts)
        if max(starts) - low < _SPAN:
            self._at = array("I", [x - low for x in starts])
            self._base = low * 1000 + base % 1000
        else:
            self._at, self._base = array("q", starts), base % 1000

    def __len__(self) -> int:
        return len(self._at)

    def __bool__(self) -> bool:
        return bool(self._at)

    def _slot(self, i: int) -> int:
        """The slot of the ``i``-th check, oldest first (negative: from the newest)."""
        n = len(self._at)
        if not -n <= i < n:
            raise IndexError("recent check index out of range")
        return (self._head + i) % n

    def _us(self, j: int) -> int:
        """The start of the check in slot ``j``, microseconds since the epoch."""
        return self._base + 1000 * self._at[j] + (self._word[j] >> _FLAG_BITS & 1023)

    def __getitem__(self, i: int) -> RecentCheck:
        j = self._slot(i)
        word = self._word[j]
        return RecentCheck(
            _EPOCH + self._us(j) * _MICROSECOND,
            (word >> _LATENCY_SHIFT) / 10,
            _OUTCOMES[word & _OUTCOME_BITS],
            bool(word & _MAINT),
        )

    def __iter__(self) -> Iterator[RecentCheck]:
        for i in range(len(self._at)):
            yield self[i]

    def _in_order(self, a: array[Any], start: int) -> list[Any]:
        """The items of ``a`` (one of the two arrays) from the ``start``-th check on."""
        head = self._head
        if not head:
            return a[start:].tolist()
        return (a[head:] + a[:head])[start:].tolist()

    def latencies(self, start: int = 0) -> list[float]:
        """The latencies (ms, to 0.1 ms) from the ``start``-th check on, oldest first."""
        return [(w >> _LATENCY_SHIFT) / 10 for w in self._in_order(self._word, start)]

    def outcomes(self, start: int = 0) -> list[Outcome]:
        """The outcomes from the ``start``-th check on, oldest first."""
        return [_OUTCOMES[w & _OUTCOME_BITS] for w in self._in_order(self._word, start)]

    def flapping_failures(self, after: datetime | None) -> int:
        """How many of the last ``FLAP_WINDOW`` checks outside maintenance, started at or
        after ``after`` (None: any), failed."""
        words, head = self._word, self._head
        since = None if after is None else (after - _EPOCH) // _MICROSECOND
        n = len(words)
        seen = failed = 0
        for k in range(n - 1, -1, -1):
            if seen == FLAP_WINDOW:
                break
            j = (head + k) % n
            word = words[j]
            if word & _MAINT or (since is not None and self._us(j) < since):
                continue
            seen += 1
            failed += word & _OUTCOME_BITS == _DOWN
        return failed

    def with_older(self, older: Sequence[Check]) -> RecentChecks:
        """A new list: ``older`` checks, then these (the newest ``SPARKLINE_POINTS``)."""
        return RecentChecks([*older, *self])


_EMPTY_DAYS = bytes(4 * HISTORY_DAYS)
# Where a packed day's numbers (four 32-bit, native order) keep their low 16 bits (the
# index of the low half) and the flags their low byte (byte of the day's 16; the next
# byte up is _NEXT_BYTE away)
_LOW = 0 if sys.byteorder == "little" else 1
_FLAG_BYTE, _NEXT_BYTE = (12, 1) if sys.byteorder == "little" else (15, -1)
_IN_A_ROW = array("H", range(2 * HISTORY_DAYS)).tobytes()  # offsets of days in a row


class PastDays:
    """A service's past days of the 90-day bar, as compact as its readers allow (issue 14
    point 3): per UTC day its ``day_counts`` in two arrays and a byte string, the
    ``HISTORY_DAYS`` days from ``first`` (an ordinal) on.

    A past day no longer changes but for a late check (a replayed journal, another node's),
    which adds to it. Its latency histogram and error counts only a day's detail shows, and
    that reads them from the database. A day-rollup object took 392 B without them (1.7 GB
    for 50,000 services × 89 days, every one walked by the garbage collector); this takes
    ~0.8 KiB a service for all 90 days (16-bit counts) and is 4 objects for the collector.
    """

    __slots__ = ("first", "good", "counted", "flags")

    def __init__(self, last: int) -> None:
        """Empty days up to the ordinal ``last``."""
        self.first = last - HISTORY_DAYS + 1
        # 16-bit counts (a check a minute: 1,440 a day); 32-bit once a day holds more
        self.good = array("H", _EMPTY_DAYS[: 2 * HISTORY_DAYS])  # up + degraded
        self.counted = array("H", _EMPTY_DAYS[: 2 * HISTORY_DAYS])  # checks - maintenance
        self.flags = bytearray(HISTORY_DAYS)

    def _widen(self) -> None:
        """32-bit signed counts: a day holds more than 65,535 checks (or a negative count)."""
        self.good, self.counted = array("i", self.good), array("i", self.counted)

    def add(self, day: int, good: int, counted: int, flags: int) -> None:
        """Add ``day_counts`` to the day of ordinal ``day``; a day newer than the last moves
        the window on (the oldest days leave it), one older than the first is dropped."""
        i = day - self.first
        if i < 0:
            return  # older than the bar of any day since the newest counted
        if i >= HISTORY_DAYS:
            k = min(i - HISTORY_DAYS + 1, HISTORY_DAYS)
            size = self.good.itemsize * k
            del self.good[:k], self.counted[:k], self.flags[:k]
            self.good.frombytes(_EMPTY_DAYS[:size])
            self.counted.frombytes(_EMPTY_DAYS[:size])
            self.flags.extend(bytes(k))
            self.first = day - HISTORY_DAYS + 1
            i = HISTORY_DAYS - 1
        try:
            g, c = self.good[i] + good, self.counted[i] + counted
            self.good[i], self.counted[i] = g, c
        except OverflowError:
            self._widen()
            self.good[i], self.counted[i] = g, c
        self.flags[i] |= flags

    def add_packed(self, start: int, packed: Sequence[int]) -> None:
        """``add`` for each day of ``packed`` (``Store.daily_counts``: offset from the
        ordinal ``start``, good, counted, flags; four per day, in any order). Days in a row
        (the usual case: every day counted, in order) whose numbers all fit in 16 bits (a day
        of fewer than 65,536 checks) are written as whole slices, taken from the packed
        bytes as they are (a start of 50,000 services × 89 days spent 9 % of its CPU
        converting them one by one); any other day is added one by one."""
        n = len(packed) // 4
        if not (isinstance(packed, array) and packed.itemsize == 4 and n):
            self._add_each(start, packed)
            return
        raw = packed.tobytes()
        halves = array("H", raw)  # each 32-bit number as its two 16-bit halves
        # the high halves of the four numbers and the flags' second byte all zero: 16 bits
        upper = halves[1 - _LOW :: 2].tobytes() + raw[_FLAG_BYTE + _NEXT_BYTE :: 16]
        offsets = halves[_LOW::8]
        o = offsets[0]
        i = start + o - self.first
        if (
            upper.count(0) != len(upper)
            or not 0 <= i <= HISTORY_DAYS - n
            or offsets.tobytes() != _IN_A_ROW[2 * o : 2 * (o + n)]
            or any(self.flags[i : i + n])
        ):
            self._add_each(start, packed)
            return
        good, counted = halves[2 + _LOW :: 8], halves[4 + _LOW :: 8]
        if self.good.typecode != "H":
            good, counted = array(self.good.typecode, good), array(self.good.typecode, counted)
        self.good[i : i + n], self.counted[i : i + n] = good, counted
        self.flags[i : i + n] = raw[_FLAG_BYTE::16]

    def _add_each(self, start: int, packed: Sequence[int]) -> None:
        for k in range(0, len(packed), 4):
            self.add(start + packed[k], packed[k + 1], packed[k + 2], packed[k + 3])

    def sums(self, first: int, last: int) -> tuple[int, int]:
        """(good, counted) summed over the days with ordinals in [first, last]."""
        i, j = max(0, first - self.first), min(HISTORY_DAYS, last - self.first + 1)
        if i >= j:
            return 0, 0
        return sum(self.good[i:j]), sum(self.counted[i:j])

    def cell(self, day: int, threshold: float) -> DailyStatus:
        i = day - self.first
        if not 0 <= i < HISTORY_DAYS:
            return DailyStatus.NO_DATA
        return cell_of(self.good[i], self.counted[i], self.flags[i], threshold)


_BARS: dict[str, str] = {}
"""The past days' cells as JSON list items, shared by the services whose are the same (most
are: every day operational), for one day (``_BARS_DAY``)."""
_BARS_DAY = [0]


class DayHistogram:
    """Today's latency histogram of a service (rollup.py's buckets), compact: the counts of
    the buckets from ``lo`` on in one array. A dict of ~110 buckets (a day of checks every
    minute) took ~5-8 KB with its integer objects; this takes a byte a bucket of the range
    while every count fits in one (``put_count`` copies the array wider before one would
    not: a day of checks every minute spread over ~110 buckets stays in bytes; 4 B a bucket
    took ~0.3 KB more a service by the end of a day, 16 MiB at 50,000 services)."""

    __slots__ = ("lo", "counts")

    def __init__(self) -> None:
        self.lo = 0
        self.counts = array("B")

    def add(self, bucket: int, n: int = 1) -> None:
        c = self.counts
        if not c:
            self.lo, i = bucket, 0
            c.frombytes(bytes(c.itemsize))
        else:
            i = bucket - self.lo
            if i < 0:
                c[0:0] = array(c.typecode, bytes(-c.itemsize * i))
                self.lo, i = bucket, 0
            elif i >= len(c):
                c.frombytes(bytes(c.itemsize * (i - len(c) + 1)))
        try:
            c[i] += n
        except OverflowError:
            self.counts = put_count(c, i, c[i] + n)

    def as_dict(self) -> dict[int, int]:
        """As ``Rollup.hist``."""
        lo = self.lo
        return {lo + i: n for i, n in enumerate(self.counts) if n}


class BarHistory:
    """What the live state loads of the stored days (``LiveState.load_history``): each
    service's past days already compact, today's (and later) rollups whole."""

    __slots__ = ("today", "past", "live")

    def __init__(self, today: date) -> None:
        self.today = today.toordinal()
        self.past: dict[str, PastDays] = {}
        self.live: list[Rollup] = []

    def add_counts(self, since: date, rows: Iterable[tuple[str, Sequence[int]]]) -> None:
        """Add the past days of ``Store.daily_counts(since, …)``."""
        past, start = self.past, since.toordinal()
        for sid, packed in rows:
            if packed:
                p = past.get(sid)
                if p is None:
                    p = past[sid] = PastDays(self.today - 1)
                p.add_packed(start, packed)

    def add_rollups(self, rollups: Iterable[Rollup]) -> None:
        """Add rollups: a past day's as its counts, today's and later ones whole."""
        old: list[Rollup] = []
        for r in rollups:
            (old if r.day.toordinal() < self.today else self.live).append(r)
        if not old:
            return
        # the window ends with the newest past day given (a test's days may be long past)
        last = max(r.day.toordinal() for r in old)
        for r in old:
            p = self.past.get(r.service_id)
            if p is None:
                p = self.past[r.service_id] = PastDays(last)
            p.add(r.day.toordinal(), *day_counts(r))


@dataclass(slots=True)
class RegionState:
    """One region's view of a service (issue 15): the confirmation rules per region."""

    consecutive_failures: int = 0
    consecutive_successes: int = 0
    confirmed_down: bool = False
    node: str = ""
    last_at: datetime | None = None
    last_failed: bool = False


def quorum_of(service: Service, regions: int) -> int:
    """How many regions must confirm a failure: the service's quorum, else a majority."""
    if service.quorum is not None:
        return max(1, min(service.quorum, regions))
    return regions // 2 + 1


@dataclass(slots=True)
class ServiceState:
    service: Service
    status: ServiceStatus = ServiceStatus.UNKNOWN
    status_since: datetime = field(default_factory=lambda: datetime.now(UTC))
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    confirmed_down: bool = False
    last_check: Check | None = None
    recent: RecentChecks = field(default_factory=RecentChecks)
    # Today's rollup (and a later day's downtime already known), whole: service.day and the
    # percentiles read it; the days before ``settled`` (an ordinal) are in ``past``.
    days: dict[date, Rollup] = field(default_factory=dict)
    episode: OutageEpisode | None = None
    # Failures before this moment no longer count as flapping: a confirmed recovery closes
    # the outage, whose failures must not hold the service in partial_outage afterwards.
    flap_after: datetime | None = None
    past: PastDays | None = None
    settled: int = 0
    # The latency histogram of the day ``settled`` (today), apart from its rollup in ``days``
    hist: DayHistogram | None = None
    # The past days' cells as JSON list items for (today's ordinal, threshold)
    _bar: tuple[int, float, str] | None = None
    # issue 15: per region (empty on a single-node daemon); the regions confirming a failure
    regions: dict[str, RegionState] = field(default_factory=dict)
    down_regions: tuple[str, ...] = ()
    # Bumped at every change of what status.get shows but the service's settings (a check,
    # history merged or loaded): its cached part of the reply is rebuilt when this moves.
    version: int = 0

    @property
    def status_note(self) -> str | None:
        """Which regions see the service down when they are too few for a major outage."""
        if not self.down_regions or self.confirmed_down:
            return None
        return f"down from {', '.join(self.down_regions)} only"

    def region_summary(self) -> dict[str, dict[str, object]]:
        """Each region's view, as status.get shows it."""
        return {
            name: {
                "down": r.confirmed_down,
                "failures": r.consecutive_failures,
                "node": r.node,
                "last_at": r.last_at.isoformat() if r.last_at else None,
            }
            for name, r in sorted(self.regions.items())
        }

    @property
    def failure_pending(self) -> bool:
        """A failure was seen but not yet confirmed (or a recovery not yet confirmed)."""
        if self.confirmed_down:
            return self.consecutive_successes > 0
        return self.consecutive_failures > 0

    def pending_in(self, region: str | None) -> bool:
        """``failure_pending`` as one region sees it (None: the service as a whole)."""
        r = self.regions.get(region) if region is not None else None
        if r is None:
            return self.failure_pending
        if r.confirmed_down:
            return r.consecutive_successes > 0
        return r.consecutive_failures > 0

    def add_to_day(self, check: Check) -> None:
        """Count a check in its UTC day, its downtime in the days it falls in (rollup.py).

        The days before the check's are past: their rollups become ``PastDays`` counts. A
        late check of a past day (a replayed journal, another node's) counts in that day's
        cell and uptime as before; its downtime and latency only the database keeps."""
        self.version += 1
        day = check.started_at.astimezone(UTC).date()
        o = day.toordinal()
        if o > self.settled:
            self._settle(o)
        if o < self.settled:
            r = Rollup(service_id=self.service.id, day=day)
            r.add(check, downtime=False)
            self._add_past(o, *day_counts(r))
        else:
            self._day(day).add(check, downtime=False, histogram=False)
            if check.outcome is not Outcome.DOWN:
                if self.hist is None:
                    self.hist = DayHistogram()
                self.hist.add(bucket_of(check.latency_ms))
        for d, _hour, seconds in downtime_pieces(check, "day"):
            if d.toordinal() >= self.settled:
                self._day(d).downtime_s += seconds

    def _day(self, day: date) -> Rollup:
        r = self.days.get(day)
        if r is None:
            r = self.days[day] = Rollup(service_id=self.service.id, day=day)
        return r

    def _add_past(self, day: int, good: int, counted: int, flags: int) -> None:
        if not (good or counted or flags):
            return  # a day of downtime only (a failure before midnight): no cell, no uptime
        if self.past is None:
            self.past = PastDays(max(day, self.settled - 1))
        self.past.add(day, good, counted, flags)
        self._bar = None

    def _settle(self, today: int) -> None:
        """Days before the ordinal ``today`` are past: keep only their counts."""
        self.settled = today
        self.hist = None  # the day before's: the database has it
        for d in [d for d in self.days if d.toordinal() < today]:
            self._add_past(d.toordinal(), *day_counts(self.days.pop(d)))

    def _put_live(self, r: Rollup) -> None:
        """A whole rollup of a day not past (loaded, merged): today's histogram goes apart."""
        o = r.day.toordinal()
        if o < self.settled:
            self._add_past(o, *day_counts(r))
            return
        if o == self.settled and r.hist:
            if self.hist is None:
                self.hist = DayHistogram()
            for b, n in r.hist.items():
                self.hist.add(b, n)
            r.hist = {}
        self.days[r.day] = r

    def day_rollup(self, day: date) -> Rollup | None:
        """The live rollup of a day not past yet (today's: service.day), with its histogram."""
        r = self.days.get(day)
        if r is None or self.hist is None or day.toordinal() != self.settled:
            return r
        return dataclasses.replace(r, hist=self.hist.as_dict())

    def counts(self, first: date, last: date) -> tuple[int, int]:
        """(up + degraded, checks − maintenance) summed over the days [first, last]: the
        uptime of a window is ``uptime_ratio(good, 0, counted, 0)``."""
        a, b = first.toordinal(), last.toordinal()
        good, counted = self.past.sums(a, b) if self.past is not None else (0, 0)
        for d, r in self.days.items():
            if a <= d.toordinal() <= b:
                good += r.up + r.degraded
                counted += r.checks - r.maintenance
        return good, counted

    def _cell(self, day: date, threshold: float) -> str:
        r = self.days.get(day)
        if r is not None or self.past is None:
            return daily_status(r, threshold).value
        return self.past.cell(day.toordinal(), threshold).value

    def _past_items(self, today: date, threshold: float) -> str:
        """The cells of the ``HISTORY_DAYS - 1`` days before ``today`` as JSON list items
        (``"o","nd",…``), kept until the day, the threshold or a past day changes."""
        t = today.toordinal()
        if t > self.settled:
            self._settle(t)
        bar = self._bar
        if bar is not None and bar[0] == t and bar[1] == threshold:
            return bar[2]
        p = self.past
        if p is None:
            items = ",".join(['"nd"'] * (HISTORY_DAYS - 1))
        else:
            items = ",".join(
                [f'"{p.cell(o, threshold).value}"' for o in range(t - HISTORY_DAYS + 1, t)]
            )
        if _BARS_DAY[0] != t:
            _BARS.clear()
            _BARS_DAY[0] = t
        items = _BARS.setdefault(items, items)  # one string for every service with this bar
        self._bar = (t, threshold, items)
        return items

    def history(
        self, today: date, threshold: float = DEFAULT_MAJOR_THRESHOLD
    ) -> tuple[list[str], dict[str, str]]:
        """The 90 daily cells (oldest first, today last) and uptime text per window."""
        cells, uptime = self.history_json(today, threshold)
        out: list[str] = json.loads(cells)
        return out, uptime

    def history_json(
        self, today: date, threshold: float = DEFAULT_MAJOR_THRESHOLD
    ) -> tuple[str, dict[str, str]]:
        """``history`` with the cells as a JSON list: the 89 past days are encoded once a
        day (status.get re-encodes a service at each of its checks)."""
        items = self._past_items(today, threshold)
        cells = f'[{items},"{self._cell(today, threshold)}"]'
        uptime = {}
        for w in WINDOWS:
            good, counted = self.counts(today - timedelta(days=w - 1), today)
            uptime[str(w)] = uptime_percent_text(good, 0, counted, 0)
        return cells, uptime


@dataclass(slots=True)
class Changes:
    """What one check changed: status transitions and the episode to persist (if any)."""

    transitions: list[Transition] = field(default_factory=list)
    episode: OutageEpisode | None = None


class LiveState:
    """Every service's live state and the overall status."""

    def __init__(
        self, major_threshold: float = DEFAULT_MAJOR_THRESHOLD, *, clock: Clock | None = None
    ) -> None:
        self._clock = clock or SystemClock()
        self.services: dict[str, ServiceState] = {}
        self.overall = ServiceStatus.OPERATIONAL
        self.overall_since = self._clock.now()
        self.major_threshold = major_threshold
        # The overall status is at least this while incidents are open (their severity).
        self.incident_floor = ServiceStatus.OPERATIONAL
        # How many services are in each status: the overall status is read from these counts,
        # not from a walk over every service at each transition (10,000 services at start).
        self._by_status: dict[ServiceStatus, int] = {}
        # issue 15: the regions present in the cluster (a service without ``regions`` is
        # probed from all of them) and the nodes flagged sick (their failures do not count)
        self.known_regions: tuple[str, ...] = ()
        self.sick_nodes: frozenset[str] = frozenset()

    def _count(self, status: ServiceStatus, delta: int) -> None:
        self._by_status[status] = self._by_status.get(status, 0) + delta

    def _recount(self) -> None:
        self._by_status = {}
        for st in self.services.values():
            self._count(st.status, +1)

    def set_incident_floor(self, floor: ServiceStatus, at: datetime) -> list[Transition]:
        """Open incidents changed: recompute the overall status (SPEC §3.3)."""
        self.incident_floor = floor
        overall = self._overall()
        if overall is self.overall:
            return []
        t = Transition(None, self.overall, overall, at)
        self.overall, self.overall_since = overall, at
        return [t]

    def set_services(self, services: list[Service]) -> None:
        """Track exactly these (active) services, keeping the state of those already known."""
        keep = {s.id for s in services}
        for sid in [sid for sid in self.services if sid not in keep]:
            del self.services[sid]
        for s in services:
            st = self.services.get(s.id)
            if st is None:
                self.services[s.id] = ServiceState(service=s, status_since=self._clock.now())
            else:
                st.service = s
        self._recount()

    def _bars(self, rollups: list[Rollup] | BarHistory) -> BarHistory:
        """Rollups as a ``BarHistory`` of today (the clock's)."""
        if isinstance(rollups, BarHistory):
            return rollups
        bars = BarHistory(self._clock.now().astimezone(UTC).date())
        bars.add_rollups(rollups)
        return bars

    def load_history(
        self,
        rollups: list[Rollup] | BarHistory,
        latest: dict[str, list[Check]],
        open_episodes: list[OutageEpisode] | None = None,
        transitions: Mapping[str | None, Transition] | None = None,
    ) -> None:
        """Warm start from the store: daily rollups, latest checks, open episodes; no transitions.

        ``transitions`` are the newest stored transition of each service (None: overall):
        a status that the checks bring back is dated from it, so "since" survives a restart.
        """
        bars = self._bars(rollups)
        for sid, known in self.services.items():
            past = bars.past.get(sid)
            if bars.today > known.settled:
                known._settle(bars.today)
            if past is not None:
                if known.past is None:
                    known.past = past
                else:
                    for i in range(HISTORY_DAYS):
                        known._add_past(
                            past.first + i, past.good[i], past.counted[i], past.flags[i]
                        )
                known._bar = None
                known.version += 1
        for r in bars.live:
            st = self.services.get(r.service_id)
            if st is not None:
                st._put_live(r)
                st.version += 1
        for e in open_episodes or []:
            st = self.services.get(e.service_id)
            if st is not None:
                st.episode = e
                st.version += 1
        for sid, checks in latest.items():
            st = self.services.get(sid)
            if st is None or not checks:
                continue
            for c in checks:
                st.recent.append(c)
                self._advance(st, c)
            if st.regions:
                self._judge_regions(st)
            st.last_check = checks[-1]
            st.version += 1
            st.status = self._status_of(st)
            st.status_since = _since(st.status, checks, (transitions or {}).get(sid))
        self._recount()
        self.overall = self._overall()
        last = (transitions or {}).get(None)
        if last is not None and last.status is self.overall:
            self.overall_since = last.at

    def apply(self, check: Check) -> Changes:
        """Fold one check in; returns the transitions (service, then overall) and episode change."""
        out = Changes()
        st = self.services.get(check.service_id)
        if st is None:
            return out
        st.last_check = check
        st.recent.append(check)
        st.add_to_day(check)
        self._advance(st, check)
        if st.regions:
            self._judge_regions(st)
        new = self._status_of(st)
        if check.failed and not check.maintenance and st.episode is None:
            st.episode = OutageEpisode(
                service_id=st.service.id,
                started_at=check.started_at,
                worst_status=new,
                cause=check.error_kind.value if check.error_kind else None,
                error=check.error,
            )
        if st.episode is not None:
            ep = st.episode
            if check.failed and not check.maintenance:
                ep.failed_checks += 1
            if STATUS_SEVERITY[new] > STATUS_SEVERITY[ep.worst_status]:
                ep.worst_status = new
            # An episode ends with a confirmed recovery only: it stays open through a
            # maintenance window (whose checks confirm nothing either way).
            if not st.confirmed_down and (
                new is ServiceStatus.OPERATIONAL
                or (new is ServiceStatus.DEGRADED and not st.failure_pending)
            ):
                ep.ended_at = check.started_at
                st.episode = None
            out.episode = OutageEpisode(
                **{f: getattr(ep, f) for f in OutageEpisode.__dataclass_fields__}
            )
        if new is not st.status:
            out.transitions.append(Transition(st.service.id, st.status, new, check.started_at))
            self._count(st.status, -1)
            self._count(new, +1)
            st.status, st.status_since = new, check.started_at
            overall = self._overall()
            if overall is not self.overall:
                out.transitions.append(Transition(None, self.overall, overall, check.started_at))
                self.overall, self.overall_since = overall, check.started_at
        return out

    def _advance(self, st: ServiceState, c: Check) -> None:
        if c.maintenance:
            return  # maintenance checks confirm nothing
        if c.region is not None:
            self._advance_region(st, c)
            return
        confirm = st.service.confirm_failures
        if c.outcome is Outcome.DOWN:
            st.consecutive_failures += 1
            st.consecutive_successes = 0
            if st.consecutive_failures >= confirm:
                st.confirmed_down = True
        else:
            st.consecutive_successes += 1
            st.consecutive_failures = 0
            if st.confirmed_down and st.consecutive_successes >= confirm:
                st.confirmed_down = False
                st.flap_after = c.started_at

    @staticmethod
    def _advance_region(st: ServiceState, c: Check) -> None:
        """The confirmation rules within the check's region (issue 15)."""
        assert c.region is not None
        r = st.regions.get(c.region)
        if r is None:
            r = st.regions[c.region] = RegionState()
        if r.last_at is not None and c.started_at < r.last_at:
            return  # a late check (a node's journal replayed): counted in the days only
        r.node, r.last_at, r.last_failed = c.node, c.started_at, c.outcome is Outcome.DOWN
        confirm = st.service.confirm_failures
        if c.outcome is Outcome.DOWN:
            r.consecutive_failures += 1
            r.consecutive_successes = 0
            if r.consecutive_failures >= confirm:
                r.confirmed_down = True
        else:
            r.consecutive_successes += 1
            r.consecutive_failures = 0
            if r.confirmed_down and r.consecutive_successes >= confirm:
                r.confirmed_down = False
                st.flap_after = c.started_at  # that region's failures no longer flap

    def _expected_regions(self, st: ServiceState) -> set[str]:
        """The regions that probe a service: its own list, else every region present."""
        expected = set(st.service.regions or self.known_regions or st.regions)
        return expected | {name for name in st.regions if not st.service.regions}

    def quorum_view(self, st: ServiceState) -> dict[str, object]:
        """The quorum picture of a service (issue 15, service.get): the regions that probe
        it, how many must confirm a failure for a major outage, those confirming one now,
        and those not counted (their node is sick)."""
        expected = sorted(self._expected_regions(st))
        return {
            "needed": quorum_of(st.service, len(expected)),
            "regions": expected,
            "down": list(st.down_regions),
            "not_counted": sorted(
                name
                for name, r in st.regions.items()
                if name in expected and r.node in self.sick_nodes
            ),
        }

    def classify(self, check: Check) -> Check:
        """A new check of a cluster's node, marked for the quorum figures (issue 15): a
        failure that fewer than the quorum of regions see now (their latest checks, this
        one included; sick nodes' not counted) is ``regional``; else its ``share`` is how
        many regions see it (each stands for that share of the downtime)."""
        st = self.services.get(check.service_id)
        if check.region is None or st is None or not check.failed or check.maintenance:
            return check
        expected = self._expected_regions(st) | {check.region}
        failing = {
            name
            for name, r in st.regions.items()
            if name in expected and r.last_failed and r.node not in self.sick_nodes
        } - {check.region}
        if check.node not in self.sick_nodes:
            failing.add(check.region)
        if len(failing) >= quorum_of(st.service, len(expected)):
            return dataclasses.replace(check, share=len(failing))
        return dataclasses.replace(check, regional=True)

    def _judge_regions(self, st: ServiceState) -> None:
        """The service's confirmation from its regions' (issue 15): a major outage needs a
        quorum of regions, not counting those whose node is sick."""
        expected = self._expected_regions(st)
        counted = {
            name: r
            for name, r in st.regions.items()
            if name in expected and r.node not in self.sick_nodes
        }
        down = tuple(sorted(name for name, r in counted.items() if r.confirmed_down))
        was_down = st.confirmed_down
        st.confirmed_down = len(down) >= quorum_of(st.service, len(expected))
        st.down_regions = down
        pending = [r for r in counted.values() if r.consecutive_failures > 0 or r.confirmed_down]
        st.consecutive_failures = max((r.consecutive_failures for r in pending), default=0)
        st.consecutive_successes = min(
            (r.consecutive_successes for r in counted.values() if r.confirmed_down), default=0
        )
        if was_down and not st.confirmed_down:
            st.flap_after = st.last_check.started_at if st.last_check else st.flap_after

    @staticmethod
    def _status_of(st: ServiceState) -> ServiceStatus:
        last = st.last_check
        if last is None:
            return ServiceStatus.UNKNOWN
        if last.maintenance:
            return ServiceStatus.MAINTENANCE
        if st.confirmed_down:
            return ServiceStatus.MAJOR_OUTAGE
        if st.down_regions:
            return ServiceStatus.PARTIAL_OUTAGE  # too few regions confirm: "down from X only"
        if st.recent.flapping_failures(st.flap_after) >= FLAP_FAILURES:
            return ServiceStatus.PARTIAL_OUTAGE
        if last.outcome is not Outcome.UP:
            return ServiceStatus.DEGRADED
        return ServiceStatus.OPERATIONAL

    def _overall(self) -> ServiceStatus:
        """Worst status across services (some, not all, in major outage is a partial outage),
        and at least the floor set by open incidents."""
        counted = {
            k: n
            for k, n in self._by_status.items()
            if n > 0 and k not in (ServiceStatus.UNKNOWN, ServiceStatus.MAINTENANCE)
        }
        worst = ServiceStatus.OPERATIONAL
        if counted:
            worst = max(counted, key=STATUS_SEVERITY.__getitem__)
            if worst is ServiceStatus.MAJOR_OUTAGE and len(counted) > 1:
                worst = ServiceStatus.PARTIAL_OUTAGE
        return max(worst, self.incident_floor, key=STATUS_SEVERITY.__getitem__)

    # -- a database reached after a start without it (issue 10) -------------------------

    def merge_history(
        self,
        rollups: list[Rollup] | BarHistory,
        latest: dict[str, list[Check]],
        open_episodes: list[OutageEpisode],
    ) -> list[OutageEpisode]:
        """Add what the database held from before this run under what this run counted.

        slamond started while the database was unreachable, so the state holds only this
        run's checks; ``rollups``, ``latest`` and ``open_episodes`` must not include them.
        Days are summed, older checks go before this run's in the sparkline. An outage
        episode left open by the previous run is carried on when this run has none and the
        service has not recovered since; otherwise it ends where this run's view begins.

        Returns:
            The episodes closed here, to be written.
        """
        bars = self._bars(rollups)
        for sid, past in bars.past.items():
            st = self.services.get(sid)
            if st is None:
                continue
            if bars.today > st.settled:
                st._settle(bars.today)  # this run's past days first, then the stored ones
            for i in range(HISTORY_DAYS):
                st._add_past(past.first + i, past.good[i], past.counted[i], past.flags[i])
            st.version += 1
        for r in bars.live:
            st = self.services.get(r.service_id)
            if st is None:
                continue
            if bars.today > st.settled:
                st._settle(bars.today)
            st.version += 1
            if r.day.toordinal() < st.settled:  # past for this run already
                st._add_past(r.day.toordinal(), *day_counts(r))
                continue
            merged = Rollup(service_id=r.service_id, day=r.day)
            merged.merge(r)
            live = st.days.get(r.day)
            if live is not None:
                merged.merge(live)  # its histogram is apart (st.hist): the stored one is added
            st._put_live(merged)
        first_live: dict[str, datetime] = {}
        for sid, st in self.services.items():
            if st.recent:
                first_live[sid] = st.recent[0].started_at
            older = [
                c
                for c in latest.get(sid, [])
                if sid not in first_live or c.started_at < first_live[sid]
            ]
            if older:
                st.version += 1
                st.recent = st.recent.with_older(older)
                if st.last_check is None:
                    st.last_check = older[-1]
        closed: list[OutageEpisode] = []
        for e in open_episodes:
            st = self.services.get(e.service_id)
            if st is None:
                continue
            if st.episode is not None:
                e.ended_at = st.episode.started_at
                closed.append(e)
            elif e.service_id in first_live and not st.failure_pending and not st.confirmed_down:
                e.ended_at = first_live[e.service_id]
                closed.append(e)
            else:
                st.episode = e
                st.version += 1
        return closed


def _since(status: ServiceStatus, checks: Sequence[Check], last: Transition | None) -> datetime:
    """Since when ``status`` holds at a warm start: the stored transition into it when that
    is the newest one; else (the checks read back disagree with the stored history) the last
    check's time, the earliest moment the status is known to hold."""
    if last is not None and last.status is status and last.at <= checks[-1].started_at:
        return last.at
    return checks[-1].started_at


def first_overall(state: LiveState) -> Transition:
    """The overall status's first transition (from unknown), to store on a first start: the
    next start dates the overall status from it rather than from the restart."""
    return Transition(None, ServiceStatus.UNKNOWN, state.overall, state.overall_since)
