"""Hourly and daily aggregation, latency percentiles, uptime math and the daily status.

Definitions (do not guess them elsewhere; import them from here):

* Uptime % = (up + degraded) / (checks − maintenance checks). A degraded check answered
  correctly, only slowly, so it counts as up. Maintenance checks count for nothing.
* Uptime is shown with two decimals and truncated, never rounded: 99.996 shows as 99.99,
  so 100.00 means that nothing failed.
* Downtime = the time each failed check (outside maintenance) stands for: from its start
  until the next check of that service, at most its interval. A first failure followed by
  a quick re-check 5 s later stands for 5 s, not for a whole interval; the last failed check
  before a pause stands for its interval. A day's (an hour's, a month's) downtime is the
  part of that time inside it: an outage across midnight is split at midnight.
  Checks land one at a time, so a failed check is first counted for its whole interval and
  the next check takes back what it cuts short (``Check.previous_down_until``); from a list
  of raw checks (a rebuild) the same figures come from neighbours (``linked``).
* Latency figures (min/avg/max/p50/p95/p99) describe the checks that got a correct answer
  (up or degraded); a timeout's "latency" is only the timeout and would distort them.
* Percentiles are nearest-rank ("the smallest latency that at least p % of checks did not
  exceed") read from a mergeable log histogram: bucket i holds latencies in
  (γ^(i−1), γ^i] ms with γ = 1.02, and is read back as 2γ^i/(γ+1), so a percentile is within
  1 % of the exact nearest-rank value (clamped to the exact min and max).
* Daily status: ``nd`` no checks; ``maintenance`` if every check of the day was in a
  maintenance window; ``o`` no failed and no degraded check; ``degraded`` degraded (slow but
  correct) checks and no failed one; ``po`` failures that keep the day's uptime at or above
  the major threshold (default 99.0 %); ``mo`` below it. One failed check does not paint a
  day red, and a slow day is not an outage.
* Days and hours are UTC.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from itertools import accumulate
from typing import Any

from .models import Check, DailyStatus, Outcome

DEFAULT_MAJOR_THRESHOLD = 99.0
HIST_GAMMA = 1.02
HIST_ERROR_BOUND = (HIST_GAMMA - 1) / (HIST_GAMMA + 1)  # 0.0099…: "within 1 %"
_LOG_GAMMA = math.log(HIST_GAMMA)
_MIN_LATENCY_MS = 0.001  # below this every latency shares bucket 0 (never seen in practice)


WIDER_COUNTS = {"B": "H", "H": "I", "I": "q"}
"""The next wider typecode of an array of counts (each holds every value of the narrower):
counts kept in memory start as small as they fit and are copied wider when one does not."""


def put_count(a: array[int], i: int, value: int) -> array[int]:
    """``a`` with ``a[i] = value``: ``a`` itself, or a copy in the narrowest wider typecode
    (``WIDER_COUNTS``) that holds the value, so counts stay exact whatever they reach."""
    try:
        a[i] = value
    except OverflowError:
        while True:
            wider = WIDER_COUNTS.get(a.typecode)
            if wider is None:
                raise
            a = array(wider, a)
            try:
                a[i] = value
            except OverflowError:
                continue
            break
    return a


def bucket_of(latency_ms: float) -> int:
    """Histogram bucket of a latency: i with γ^(i−1) < latency ≤ γ^i."""
    if latency_ms <= _MIN_LATENCY_MS:
        return math.ceil(math.log(_MIN_LATENCY_MS) / _LOG_GAMMA)
    return math.ceil(math.log(latency_ms) / _LOG_GAMMA - 1e-12)


def bucket_value(i: int) -> float:
    """The value a bucket is read back as (relative error ≤ HIST_ERROR_BOUND)."""
    return 2 * HIST_GAMMA**i / (HIST_GAMMA + 1)


@dataclass(slots=True)
class Rollup:
    """Aggregates of one service's checks over one UTC day (``hour`` None) or hour of it.

    Every field merges exactly (sums, min, max, histogram counts), so a rollup is maintained
    by ``add``-ing checks or ``merge``-ing partial rollups, in any grouping, with the same
    result; latency sums are kept in integer microseconds for that reason.
    """

    service_id: str
    day: date
    hour: int | None = None
    checks: int = 0
    up: int = 0
    degraded: int = 0
    down: int = 0
    maintenance: int = 0
    downtime_s: float = 0.0
    maintenance_s: float = 0.0  # the intervals of the maintenance checks
    latency_count: int = 0
    latency_sum_us: int = 0
    latency_min_ms: float | None = None
    latency_max_ms: float | None = None
    hist: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def start(self) -> datetime:
        """When the period starts (UTC)."""
        return datetime(self.day.year, self.day.month, self.day.day, self.hour or 0, tzinfo=UTC)

    def add(
        self,
        check: Check,
        *,
        downtime: bool = True,
        bucket: int | None = None,
        histogram: bool = True,
    ) -> None:
        """Count one check. With ``downtime``, the check alone: a failed one adds its whole
        interval here; ``rollup_deltas`` passes False and spreads the downtime over the
        periods it falls in, taking back what the next check cut short. ``bucket``: the
        latency's histogram bucket when the caller has it already. ``histogram=False``
        leaves ``hist`` alone (the live state keeps today's histogram apart, compact)."""
        self.checks += 1
        if check.maintenance:
            self.maintenance += 1  # excluded from uptime and downtime (SPEC §3.7)
            self.maintenance_s += check.interval_s
        elif check.outcome is Outcome.UP or check.regional:
            self.up += 1  # a regional failure (issue 15) is up for the quorum
        elif check.outcome is Outcome.DEGRADED:
            self.degraded += 1
        else:
            self.down += 1
            if downtime:
                self.downtime_s += check.interval_s
        if check.error_kind is not None and not check.maintenance:
            k = check.error_kind.value
            self.errors[k] = self.errors.get(k, 0) + 1
        if check.outcome is not Outcome.DOWN:
            lat = check.latency_ms
            self.latency_count += 1
            self.latency_sum_us += round(lat * 1000)
            self.latency_min_ms = (
                lat if self.latency_min_ms is None else min(self.latency_min_ms, lat)
            )
            self.latency_max_ms = (
                lat if self.latency_max_ms is None else max(self.latency_max_ms, lat)
            )
            if histogram:
                b = bucket_of(lat) if bucket is None else bucket
                self.hist[b] = self.hist.get(b, 0) + 1

    def merge(self, other: Rollup) -> None:
        """Add another partial rollup (same service; any period)."""
        self.checks += other.checks
        self.up += other.up
        self.degraded += other.degraded
        self.down += other.down
        self.maintenance += other.maintenance
        self.downtime_s += other.downtime_s
        self.maintenance_s += other.maintenance_s
        self.latency_count += other.latency_count
        self.latency_sum_us += other.latency_sum_us
        if other.latency_min_ms is not None:
            mn = self.latency_min_ms
            self.latency_min_ms = (
                other.latency_min_ms if mn is None else min(mn, other.latency_min_ms)
            )
        if other.latency_max_ms is not None:
            mx = self.latency_max_ms
            self.latency_max_ms = (
                other.latency_max_ms if mx is None else max(mx, other.latency_max_ms)
            )
        if not self.hist:
            self.hist = dict(other.hist)  # the first merged into an empty total: a copy
        else:
            for b, n in other.hist.items():
                self.hist[b] = self.hist.get(b, 0) + n
        if not self.errors:
            self.errors = dict(other.errors)
        else:
            for k, v in other.errors.items():
                self.errors[k] = self.errors.get(k, 0) + v

    @property
    def latency_avg_ms(self) -> float | None:
        return self.latency_sum_us / 1000 / self.latency_count if self.latency_count else None

    def percentile(self, p: float) -> float | None:
        """Nearest-rank percentile ``p`` (0 < p ≤ 100) of the answered checks' latency."""
        return percentile_of(self.hist, p, self.latency_min_ms, self.latency_max_ms)

    def uptime_text(self) -> str:
        return uptime_percent_text(self.up, self.degraded, self.checks, self.maintenance)

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {
            "day": self.day.isoformat(),
            "checks": self.checks,
            "up": self.up,
            "degraded": self.degraded,
            "down": self.down,
            "maintenance": self.maintenance,
            "downtime_s": round(self.downtime_s, 3),
            "uptime": self.uptime_text(),
            "latency_min_ms": _r(self.latency_min_ms),
            "latency_avg_ms": _r(self.latency_avg_ms),
            "latency_max_ms": _r(self.latency_max_ms),
            "p50_ms": _r(self.percentile(50)),
            "p95_ms": _r(self.percentile(95)),
            "p99_ms": _r(self.percentile(99)),
            "errors": dict(self.errors),
        }
        if self.hour is not None:
            d["hour"] = self.hour
            d["start"] = self.start.isoformat()
        return d

    def hist_json(self) -> str:
        return counts_json(self.hist)

    def errors_json(self) -> str:
        return counts_json(self.errors)

    @staticmethod
    def hist_from_json(text: str | None) -> dict[int, int]:
        """A stored latency histogram; repeated keys add up (``counts_from_json``). A new
        dict, the caller's to change. The texts read lately are remembered with what they
        hold (``_HIST_MEMO``): a finished month's rows are read again at every report."""
        if not text or text == "{}":
            return {}
        parsed = _HIST_MEMO.get(text)
        if parsed is None:
            parsed = _parse_hist(text)
            if len(_HIST_MEMO) >= HIST_MEMO_SIZE:
                _HIST_MEMO.clear()  # a cheap bound; the next reads fill it again
            _HIST_MEMO[text] = parsed
        return dict(parsed)


HIST_MEMO_SIZE = 2048
"""Histogram texts remembered (a text holds at most ~1.5 kB, COUNTS_COMPACT_AT, and its
dict ~110 buckets: ~10 kB each, ~20 MB at most). A report of 1,000 services × a month
reads 1,000 monthly rows; service.get ~160 daily and hourly ones."""
_HIST_MEMO: dict[str, dict[int, int]] = {}


def parse_hist(text: str | None) -> dict[int, int]:
    """``Rollup.hist_from_json`` without remembering the text: for a text read once (the
    hours at a local report's ends, summed: 2,000 of them would push the months' texts out
    of ``_HIST_MEMO`` at every report, issue 14)."""
    return _parse_hist(text) if text and text != "{}" else {}


def _parse_hist(text: str) -> dict[int, int]:
    """``{"12":3,"15":1,"12":1}`` -> {12: 4, 15: 1}. The keys and counts are integers, so
    the object is read as one JSON list of integers (``[12,3,15,1,12,1]``) by the C parser:
    several times faster than a regular expression and ``int`` per pair."""
    flat = json.loads("[" + text[1:-1].replace('"', "").replace(":", ",") + "]")
    it = iter(flat)
    out: dict[int, int] = dict(zip(it, it, strict=True))
    if 2 * len(out) == len(flat):
        return out  # no key repeated (a compacted object)
    out = dict.fromkeys(out, 0)
    it = iter(flat)
    for b, n in zip(it, it, strict=True):
        out[b] += n
    return out


def counts_json(counts: dict[int, int] | dict[str, int]) -> str:
    """A histogram or error count as the compact JSON object the rollup columns hold, keys in
    order (``{"12":3,"15":1}``). Written by hand: json.dumps costs ~10 times as much, and the
    keys (bucket numbers, error kinds) never need escaping."""
    if not counts:
        return "{}"
    if len(counts) == 1:
        for k, v in counts.items():
            return f'{{"{k}":{v}}}'
    return "{" + ",".join([f'"{k}":{v}' for k, v in sorted(counts.items())]) + "}"


def counts_from_json(text: str | None) -> dict[str, int]:
    """A stored histogram or error count: a JSON object whose repeated keys add up.

    The writer appends each batch's counts to the stored object (``{"12":3,"15":1,"12":1}``,
    Dialect.add_rollups) and merges the keys only once it grows long, so a key may appear
    more than once; every occurrence counts."""
    if not text or text == "{}":
        return {}
    counts: dict[str, int] = json.loads(text)
    if text.count(":") == len(counts):  # no key repeated (a compacted object)
        return counts
    out: dict[str, int] = {}
    for k, v in _PAIR.findall(text):
        out[k] = out.get(k, 0) + int(v)
    return out


_PAIR = re.compile(r'"([^"]*)"\s*:\s*(-?\d+)')
"""One ``"key":count`` of a stored count object with repeated keys (json.loads keeps only
the last of them; an object without repeats is read by json.loads)."""


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def percentile_of(
    hist: dict[int, int], p: float, lo: float | None, hi: float | None
) -> float | None:
    """Nearest-rank percentile from a histogram, clamped to the exact [lo, hi]."""
    n = sum(hist.values())
    if n == 0:
        return None
    rank = max(1, math.ceil(p / 100 * n))
    if rank >= n and hi is not None:
        return hi  # the largest value is known exactly
    if rank == 1 and lo is not None:
        return lo
    keys = sorted(hist)
    if 2 * rank > n:
        # The upper half (p95, p99: the figures asked for most): walk down from the largest
        # bucket while the counts above stay within n - rank; no running sums of every bucket.
        above, i, acc = n - rank, len(keys) - 1, 0
        while i > 0 and acc + (c := hist[keys[i]]) <= above:
            acc += c
            i -= 1
    else:
        i = bisect_left(list(accumulate(map(hist.__getitem__, keys))), rank)
        if i == len(keys):
            return hi
    v = bucket_value(keys[i])
    if lo is not None:
        v = max(v, lo)
    if hi is not None:
        v = min(v, hi)
    return v


def rollup_deltas(
    checks: Iterable[Check], *, hourly: bool = False, monthly: bool = False
) -> list[Rollup]:
    """Fold checks into one partial rollup per (service, UTC day[, hour]); with ``monthly``,
    per (service, UTC month), labelled with the month's first day.

    A check is counted in the period it started in; its downtime (and what it takes back
    from the check before it) in the periods that time falls in, so a delta may hold
    downtime and no check (the hour after a failed check at 23:59:30)."""
    unit = "hour" if hourly else "month" if monthly else "day"
    by_key: dict[tuple[str, date, int | None], Rollup] = {}

    def rollup(key: tuple[str, date, int | None]) -> Rollup:
        r = by_key.get(key)
        if r is None:
            r = by_key[key] = Rollup(service_id=key[0], day=key[1], hour=key[2])
        return r

    for c in checks:
        day, hour = period_of(c.started_at, unit)
        rollup((c.service_id, day, hour)).add(c, downtime=False)
        for day, hour, seconds in downtime_pieces(c, unit):
            rollup((c.service_id, day, hour)).downtime_s += seconds
    return list(by_key.values())


FoldKey = tuple[str, date, int | None]
"""(service_id, day, hour): the key of a rollup (hour None for days and months)."""


def fold_batch(
    checks: Iterable[Check],
) -> tuple[dict[FoldKey, Rollup], dict[FoldKey, Rollup], dict[FoldKey, Rollup]]:
    """``rollup_deltas`` for days, hours and months at once (what the writer adds to the
    stored rollups per batch): each check's UTC time and latency bucket found once."""
    days: dict[FoldKey, Rollup] = {}
    hours: dict[FoldKey, Rollup] = {}
    months: dict[FoldKey, Rollup] = {}
    up, degraded = Outcome.UP, Outcome.DEGRADED
    for c in checks:
        t = c.started_at
        u = t if t.tzinfo is UTC else t.astimezone(UTC)
        day = u.date()
        sid = c.service_id
        # What the check adds, found once for its three rollups (Rollup.add, inlined).
        outcome, maint = c.outcome, c.maintenance
        kind = None if maint or c.error_kind is None else c.error_kind.value
        answered = outcome is not Outcome.DOWN
        if c.regional:
            outcome = up  # a regional failure (issue 15) is up for the quorum, as in add()
        lat = c.latency_ms
        lat_us = round(lat * 1000) if answered else 0
        b = bucket_of(lat) if answered else 0
        for by_key, key in (
            (days, (sid, day, None)),
            (hours, (sid, day, u.hour)),
            (months, (sid, day.replace(day=1), None)),
        ):
            r = by_key.get(key)
            if r is None:
                # Positional: half the cost of keywords, three times a check.
                r = by_key[key] = Rollup(sid, key[1], key[2])
            r.checks += 1
            if maint:
                r.maintenance += 1
                r.maintenance_s += c.interval_s
            elif outcome is up:
                r.up += 1
            elif outcome is degraded:
                r.degraded += 1
            else:
                r.down += 1
            if kind is not None:
                r.errors[kind] = r.errors.get(kind, 0) + 1
            if answered:
                r.latency_count += 1
                r.latency_sum_us += lat_us
                lo = r.latency_min_ms
                if lo is None:
                    r.latency_min_ms = r.latency_max_ms = lat
                elif lat < lo:
                    r.latency_min_ms = lat
                elif lat > r.latency_max_ms:  # type: ignore[operator]
                    r.latency_max_ms = lat
                hist = r.hist
                hist[b] = hist.get(b, 0) + 1
        if (c.failed and not c.maintenance) or c.previous_down_until is not None:
            for by_key, unit in ((days, "day"), (hours, "hour"), (months, "month")):
                for pday, phour, seconds in downtime_pieces(c, unit):
                    piece: FoldKey = (sid, pday, phour)
                    r = by_key.get(piece)
                    if r is None:
                        r = by_key[piece] = Rollup(sid, pday, phour)
                    r.downtime_s += seconds
    return days, hours, months


SingleRow = tuple[str, date, int, tuple[Any, ...]]
"""A lone check's rollup values (single_rows): service, UTC day, hour, the values of
ROLLUP_COLUMNS in order, the same for its day, hour and month."""


def single_rows(checks: Sequence[Check]) -> tuple[list[SingleRow], list[Check]]:
    """The checks of a batch that are their service's only check in it and put no downtime
    anywhere (neither failed outside maintenance nor taking back a failure's), as the values
    their day's, hour's and month's partial rollups hold — one tuple for the three, the same
    values ``fold_batch`` and ``counts_json`` give a key with one such check — and the other
    checks, in order, for ``fold_batch``. Most checks of a busy daemon's batch are lone ones
    (its services are many, each checked once per batch): three Rollups with two dicts each
    and six ``counts_json`` per check were most of the writer's fold."""
    many: set[str] = set()
    seen: dict[str, Check] = {}
    for c in checks:
        sid = c.service_id
        if sid in seen:
            many.add(sid)
        else:
            seen[sid] = c
    lone: list[SingleRow] = []
    rest: list[Check] = []
    down, up, degraded = Outcome.DOWN, Outcome.UP, Outcome.DEGRADED
    for sid, c in seen.items():
        outcome, maint = c.outcome, c.maintenance
        if sid in many or (outcome is down and not maint) or c.previous_down_until is not None:
            continue
        t = c.started_at
        u = t if t.tzinfo is UTC else t.astimezone(UTC)
        # checks, up, degraded, down, maintenance (as Rollup.add counts them)
        if maint:
            counts: tuple[int, ...] = (1, 0, 0, 0, 1)
        elif outcome is up or c.regional:
            counts = (1, 1, 0, 0, 0)
        elif outcome is degraded:
            counts = (1, 0, 1, 0, 0)
        else:
            counts = (1, 0, 0, 1, 0)
        kind = None if maint or c.error_kind is None else c.error_kind.value
        errors = "{}" if kind is None else f'{{"{kind}":1}}'
        if outcome is not down:
            lat = c.latency_ms
            latency: tuple[Any, ...] = (1, round(lat * 1000), lat, lat, f'{{"{bucket_of(lat)}":1}}')
        else:
            latency = (0, 0, None, None, "{}")
        values = (*counts, 0.0, *latency, errors, (0.0 + c.interval_s) if maint else 0.0)
        lone.append((sid, u.date(), u.hour, values))
    if many or len(lone) < len(seen):
        singles = {row[0] for row in lone}
        rest = [c for c in checks if c.service_id not in singles]
    return lone, rest


def period_of(t: datetime, unit: str) -> tuple[date, int | None]:
    """The (day, hour) key of the hour, day or month holding ``t`` (UTC)."""
    u = t.astimezone(UTC)
    if unit == "hour":
        return u.date(), u.hour
    if unit == "month":
        return u.date().replace(day=1), None
    return u.date(), None


def _period_end(t: datetime, unit: str) -> datetime:
    """The end of the hour, day or month holding ``t`` (UTC)."""
    u = t.astimezone(UTC)
    if unit == "hour":
        return u.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    d = datetime(u.year, u.month, u.day, tzinfo=UTC)
    if unit == "month":
        return (d.replace(day=28) + timedelta(days=4)).replace(day=1)
    return d + timedelta(days=1)


def downtime_spans(c: Check) -> list[tuple[datetime, datetime, float]]:
    """The downtime a check adds, as (from, to, +1) and what it takes back, (from, to, −1):
    a failed check outside maintenance stands for its whole interval until the next check
    says otherwise; a check after a failed one takes back the rest of that one's interval."""
    spans: list[tuple[datetime, datetime, float]] = []
    if c.failed and not c.maintenance and not c.regional:
        spans.append((c.started_at, c.started_at + timedelta(seconds=c.interval_s), 1 / c.share))
    if c.previous_down_until is not None and c.previous_down_until > c.started_at:
        spans.append((c.started_at, c.previous_down_until, -1 / c.previous_share))
    return spans


def downtime_pieces(c: Check, unit: str) -> list[tuple[date, int | None, float]]:
    """``downtime_spans`` cut at the hours, days or months they cross: (day, hour, ±s)."""
    pieces: list[tuple[date, int | None, float]] = []
    for start, end, sign in downtime_spans(c):
        t = start
        while t < end:
            stop = min(end, _period_end(t, unit))
            day, hour = period_of(t, unit)
            pieces.append((day, hour, sign * (stop - t).total_seconds()))
            t = stop
    return pieces


def link_previous(previous: Check | None, check: Check) -> Check:
    """``check``, knowing the check of its service before it: when that one failed (outside
    maintenance) and its interval reaches past this check's start, this check takes back the
    rest (``previous_down_until``)."""
    if previous is None or not previous.failed or previous.maintenance or previous.regional:
        return check
    until = previous.started_at + timedelta(seconds=previous.interval_s)
    if not previous.started_at < check.started_at < until:
        return check
    return dataclasses.replace(check, previous_down_until=until, previous_share=previous.share)


def linked(checks: Iterable[Check], last: dict[str, Check] | None = None) -> list[Check]:
    """Raw checks in time order, each linked to the one before it of its service (from
    ``last`` for the first; ``last`` is updated), so they fold as the daemon folded them."""
    last = {} if last is None else last
    out = []
    for c in sorted(checks, key=lambda x: x.started_at):
        # In a cluster each region's checks follow each other (issue 15).
        key = c.service_id if c.region is None else f"{c.service_id}\x00{c.region}"
        c = dataclasses.replace(c, previous_down_until=None, previous_share=1)
        c = link_previous(last.get(key), c)
        last[key] = c
        out.append(c)
    return out


def downtime_within(checks: Iterable[Check], start: datetime, end: datetime) -> float:
    """Seconds of downtime in [start, end) that ``checks`` (linked) stand for."""
    total = 0.0
    for c in checks:
        for a, b, sign in downtime_spans(c):
            lo, hi = max(a, start), min(b, end)
            if lo < hi:
                total += sign * (hi - lo).total_seconds()
    return total


def uptime_ratio(up: int, degraded: int, checks: int, maintenance: int) -> float | None:
    """Uptime as a fraction in [0, 1], or None when no check counts (no data, or all maintenance)."""
    counted = checks - maintenance
    if counted <= 0:
        return None
    return (up + degraded) / counted


def uptime_percent_text(up: int, degraded: int, checks: int, maintenance: int) -> str:
    """Uptime % with two decimals, truncated toward zero ("—" when there is no data).

    Integer arithmetic, so 9999/10000 is "99.99" and never "100.00".
    """
    counted = checks - maintenance
    if counted <= 0:
        return "—"
    hundredths = (up + degraded) * 10000 // counted
    return f"{hundredths // 100}.{hundredths % 100:02d}"


def daily_status(r: Rollup | None, major_threshold: float = DEFAULT_MAJOR_THRESHOLD) -> DailyStatus:
    """The 90-day-bar cell for one day's rollup (see the module docstring): the rule is
    ``cell_of``'s, which a past day's counts are read by too."""
    if r is None:
        return DailyStatus.NO_DATA
    return cell_of(*day_counts(r), major_threshold)


_HAS_CHECKS, _HAS_DEGRADED, _HAS_DOWN = 1, 2, 4
"""The flags a past day keeps beside its counts: what ``daily_status`` asks of a rollup
(checks, degraded and down checks or not) besides its uptime."""


def day_counts(r: Rollup) -> tuple[int, int, int]:
    """What a past day of the bar keeps of its rollup: (up + degraded, checks − maintenance,
    flags). The uptime of any sum of days is read from the first two (``uptime_percent_text``
    of (good, 0, counted, 0) is that of (up, degraded, checks, maintenance)); the day's cell
    from the three (``cell_of``, as ``daily_status``). Summing two days' figures and
    or-ing their flags gives those of the merged rollups."""
    flags = (
        (_HAS_CHECKS if r.checks > 0 else 0)
        | (_HAS_DEGRADED if r.degraded > 0 else 0)
        | (_HAS_DOWN if r.down > 0 else 0)
    )
    return r.up + r.degraded, r.checks - r.maintenance, flags


def cell_of(good: int, counted: int, flags: int, threshold: float) -> DailyStatus:
    """The bar's cell of a day from its ``day_counts`` (``daily_status`` of its rollup)."""
    if not flags & _HAS_CHECKS:
        return DailyStatus.NO_DATA
    if counted <= 0:
        return DailyStatus.MAINTENANCE
    if not flags & (_HAS_DOWN | _HAS_DEGRADED):
        return DailyStatus.OPERATIONAL
    if not flags & _HAS_DOWN:
        return DailyStatus.DEGRADED
    # Exact rationals: 99.0 % exactly is "po", not "mo", whatever floating point would say.
    if Fraction(good * 100, counted) >= Fraction(str(threshold)):
        return DailyStatus.PARTIAL_OUTAGE
    return DailyStatus.MAJOR_OUTAGE


def sum_rollups(rollups: Iterable[Rollup], service_id: str, day: date) -> Rollup:
    """Merge several rollups into one (e.g. a window of days) labelled ``day``."""
    total = Rollup(service_id=service_id, day=day)
    for r in rollups:
        total.merge(r)
    return total
