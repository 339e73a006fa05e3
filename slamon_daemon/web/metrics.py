"""``/metrics``: the Prometheus text format written by prometheus_client from live counters.

A custom collector reads a snapshot provider at scrape time: two callables, one returning a
``ServiceSample`` per service and one the ``DaemonSample``. The daemon feeds them from
memory (no database query at scrape): per service it keeps a ``CheckCounters`` (updated in
O(1) per check) plus what it already has (status, the days of the bar, the last check).

Label sets never change with metadata: every per-service series carries ``service`` (the
stable id), ``name`` and ``node``; description, group and tags live in
``slamon_service_info`` only, so editing them never starts new series. No series or label
carries a target URL.

Latency is in seconds (Prometheus base units) and, as everywhere in slamon, describes the
checks answered correctly (up or degraded): a timeout's "latency" is only the timeout.
"""

from __future__ import annotations

import bisect
import re
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
    StateSetMetricFamily,
)
from prometheus_client.registry import Collector, CollectorRegistry

from ..models import ServiceStatus
from ..rollup import put_count

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds of the check latency histogram, seconds (+Inf is implied)."""
LATENESS_BUCKETS_S = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds of the scheduler lateness histogram, seconds (+Inf is implied)."""
UPTIME_WINDOWS = ("24h", "7d", "30d", "90d")
STATES = tuple(s.value for s in ServiceStatus)
SERVICE_LABELS = ("service", "name", "node")
CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The Content-Type of ``render_metrics``'s bytes."""


def _le(bound: float) -> str:
    return repr(float(bound))


_LATENCY_LE = [_le(b) for b in LATENCY_BUCKETS_S] + ["+Inf"]
_LATENESS_LE = [_le(b) for b in LATENESS_BUCKETS_S] + ["+Inf"]


@dataclass(slots=True)
class Histogram:
    """Counts per bucket (not cumulative; the last is above every bound) and the sum.

    The counts are a list, or an array of counts (``counts_array``: what a service's
    histogram keeps, 4 B a count instead of an int object each once past 256), copied wider
    before a count would not fit."""

    bounds: Sequence[float]
    counts: list[int] | array[int] = field(default_factory=list)
    sum: float = 0.0

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        counts, i = self.counts, bisect.bisect_left(self.bounds, value)
        try:
            counts[i] += 1
        except OverflowError:
            assert isinstance(counts, array)
            self.counts = put_count(counts, i, counts[i] + 1)
        self.sum += value

    def cumulative(self, les: Sequence[str]) -> list[tuple[str, float]]:
        out, running = [], 0
        for le, n in zip(les, self.counts, strict=True):
            running += n
            out.append((le, float(running)))
        return out


def counts_array(bounds: Sequence[float]) -> Histogram:
    """An empty histogram whose counts are an array of 32-bit counts (widened when one
    would pass 2^32 − 1): a service's latency histogram of a day took ~0.15 KB more as a
    list of int objects."""
    return Histogram(bounds, array("I", bytes(4 * (len(bounds) + 1))))


@dataclass(slots=True)
class CheckCounters:
    """What the live state keeps per service for /metrics: updated in O(1) per check."""

    checks: dict[tuple[str, str], int] = field(default_factory=dict)
    """(outcome, error_kind or "none") -> checks since the daemon started."""
    latency: Histogram = field(default_factory=lambda: counts_array(LATENCY_BUCKETS_S))

    def copy(self) -> CheckCounters:
        """A snapshot to hand to another thread (the live counters keep moving)."""
        latency = Histogram(self.latency.bounds, list(self.latency.counts), self.latency.sum)
        return CheckCounters(dict(self.checks), latency)

    def record(self, outcome: str, error_kind: str | None, latency_s: float) -> None:
        """Count one check (its latency only when it was answered correctly)."""
        key = (outcome, error_kind or "none")
        self.checks[key] = self.checks.get(key, 0) + 1
        if outcome != "down":
            self.latency.observe(latency_s)


@dataclass(frozen=True, slots=True)
class ServiceSample:
    """One service at scrape time."""

    id: str
    name: str
    node: str
    status: str  # a ServiceStatus value
    counters: CheckCounters
    uptime: Mapping[str, float]  # window ("24h", "7d", "30d", "90d") -> ratio 0..1; absent: no data
    budget_remaining: float | None = None  # SLA error budget left this period, ratio (may be < 0)
    cert_expires_at: float | None = None  # Unix time; the earliest expiry in the chain
    last_check_at: float | None = None  # Unix time
    group: str = ""
    description: str = ""
    """Free of target URLs and host names: the provider passes it through
    ``public.Redactor`` (the collector also cuts anything shaped like a URL)."""
    tags: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class DaemonSample:
    """The daemon's internals at scrape time."""

    node: str
    lateness: Histogram
    skipped_checks: int = 0
    journal_backlog: int = 0
    store_write_failures: int = 0
    feed_clients: int = 0
    outbox_depth: int | None = None  # None: no alert channels configured
    delivery_failures: int | None = None


_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)


def _info(s: ServiceSample) -> dict[str, str]:
    tags = ",".join(sorted(s.tags))
    description = _URL.sub("[url]", s.description)  # never a URL, even one typed in by hand
    return {"name": s.name, "group": s.group, "description": description, "tags": tags}


def _add_info(m: Metric, s: ServiceSample) -> None:
    assert isinstance(m, InfoMetricFamily)
    m.add_metric([s.id, s.node], _info(s))


def _add_checks(m: Metric, s: ServiceSample) -> None:
    assert isinstance(m, CounterMetricFamily)
    for (outcome, kind), n in s.counters.checks.items():
        m.add_metric([s.id, s.name, s.node, outcome, kind], n)


def _add_latency(m: Metric, s: ServiceSample) -> None:
    assert isinstance(m, HistogramMetricFamily)
    h = s.counters.latency
    m.add_metric([s.id, s.name, s.node], h.cumulative(_LATENCY_LE), h.sum)


def _add_status(m: Metric, s: ServiceSample) -> None:
    assert isinstance(m, StateSetMetricFamily)
    m.add_metric([s.id, s.name, s.node], {state: state == s.status for state in STATES})


def _add_uptime(m: Metric, s: ServiceSample) -> None:
    assert isinstance(m, GaugeMetricFamily)
    for window, ratio in s.uptime.items():
        m.add_metric([s.id, s.name, s.node, window], ratio)


def _gauge_of(
    value: Callable[[ServiceSample], float | None],
) -> Callable[[Metric, ServiceSample], None]:
    def add(m: Metric, s: ServiceSample) -> None:
        assert isinstance(m, GaugeMetricFamily)
        v = value(s)
        if v is not None:
            m.add_metric([s.id, s.name, s.node], v)

    return add


@dataclass(frozen=True, slots=True)
class _Spec:
    """One per-service metric family: how to make it, fill it, and tell that it changed."""

    make: Callable[[], Metric]
    add: Callable[[Metric, ServiceSample], None]
    key: Callable[[ServiceSample], object]


SERVICE_FAMILIES: tuple[_Spec, ...] = (
    _Spec(
        lambda: InfoMetricFamily(
            "slamon_service",
            "Service metadata (join on service); description, group and tags live only here.",
            labels=("service", "node"),
        ),
        _add_info,
        lambda s: (s.node, *_info(s).values()),
    ),
    _Spec(
        lambda: CounterMetricFamily(
            "slamon_checks",
            "Checks made since the daemon started, by outcome and error kind.",
            labels=(*SERVICE_LABELS, "outcome", "error_kind"),
        ),
        _add_checks,
        lambda s: (s.name, s.node, tuple(s.counters.checks.items())),
    ),
    _Spec(
        lambda: HistogramMetricFamily(
            "slamon_check_duration_seconds",
            "Response time of the checks answered correctly (up or degraded).",
            labels=SERVICE_LABELS,
            unit="seconds",
        ),
        _add_latency,
        lambda s: (s.name, s.node, s.counters.latency.sum, sum(s.counters.latency.counts)),
    ),
    _Spec(
        lambda: StateSetMetricFamily(
            "slamon_service_status", "Current status of the service.", labels=SERVICE_LABELS
        ),
        _add_status,
        lambda s: (s.name, s.node, s.status),
    ),
    _Spec(
        lambda: GaugeMetricFamily(
            "slamon_service_uptime_ratio",
            "(up + degraded) / (checks - maintenance checks) over the window.",
            labels=(*SERVICE_LABELS, "window"),
        ),
        _add_uptime,
        lambda s: (s.name, s.node, tuple(s.uptime.items())),
    ),
    _Spec(
        lambda: GaugeMetricFamily(
            "slamon_sla_error_budget_remaining_ratio",
            "Share of this SLA period's error budget still left (negative when overspent).",
            labels=SERVICE_LABELS,
        ),
        _gauge_of(lambda s: s.budget_remaining),
        lambda s: (s.name, s.node, s.budget_remaining),
    ),
    _Spec(
        lambda: GaugeMetricFamily(
            "slamon_tls_certificate_expiry_timestamp_seconds",
            "When the earliest certificate of the target's chain expires (Unix time).",
            labels=SERVICE_LABELS,
        ),
        _gauge_of(lambda s: s.cert_expires_at),
        lambda s: (s.name, s.node, s.cert_expires_at),
    ),
    _Spec(
        lambda: GaugeMetricFamily(
            "slamon_last_check_timestamp_seconds",
            "When the last check of the service started (Unix time).",
            labels=SERVICE_LABELS,
        ),
        _gauge_of(lambda s: s.last_check_at),
        lambda s: (s.name, s.node, s.last_check_at),
    ),
)
"""The per-service families, in the order they are written."""


class SlamonCollector(Collector):
    """Yields slamon's metric families from the two snapshot callables at each scrape."""

    def __init__(
        self,
        services: Callable[[], Iterable[ServiceSample]],
        daemon: Callable[[], DaemonSample],
    ) -> None:
        self._services = services
        self._daemon = daemon

    def collect(self) -> Iterator[Metric]:
        yield from self._service_families(list(self._services()))
        yield from self._daemon_families(self._daemon())

    @staticmethod
    def _service_families(
        samples: Sequence[ServiceSample], specs: Sequence[_Spec] = SERVICE_FAMILIES
    ) -> Iterator[Metric]:
        for spec in specs:
            family = spec.make()
            for s in samples:
                spec.add(family, s)
            yield family

    @staticmethod
    def _daemon_families(d: DaemonSample) -> Iterator[Metric]:
        node = [d.node]
        lateness = HistogramMetricFamily(
            "slamon_scheduler_lateness_seconds",
            "How late checks started after their scheduled time.",
            labels=("node",),
            unit="seconds",
        )
        lateness.add_metric(node, d.lateness.cumulative(_LATENESS_LE), d.lateness.sum)
        yield lateness
        simple: list[tuple[type[GaugeMetricFamily | CounterMetricFamily], str, str, float]] = [
            (
                CounterMetricFamily,
                "slamon_scheduler_skipped_checks",
                "Check slots skipped because the previous check of the service still ran.",
                d.skipped_checks,
            ),
            (
                GaugeMetricFamily,
                "slamon_journal_backlog_records",
                "Check results waiting to be written to the store.",
                d.journal_backlog,
            ),
            (
                CounterMetricFamily,
                "slamon_store_write_failures",
                "Failed writes to the store (results are spooled and replayed).",
                d.store_write_failures,
            ),
            (GaugeMetricFamily, "slamon_feed_clients", "Connected feed clients.", d.feed_clients),
        ]
        if d.outbox_depth is not None:
            simple.append(
                (
                    GaugeMetricFamily,
                    "slamon_alert_outbox_depth",
                    "Alert deliveries waiting in the outbox.",
                    d.outbox_depth,
                )
            )
        if d.delivery_failures is not None:
            simple.append(
                (
                    CounterMetricFamily,
                    "slamon_alert_delivery_failures",
                    "Failed alert delivery attempts.",
                    d.delivery_failures,
                )
            )
        for family, name, doc, value in simple:
            m = family(name, doc, labels=("node",))
            m.add_metric(node, value)
            yield m


def make_registry(collector: Collector) -> CollectorRegistry:
    """A registry holding only slamon's collector (no process or platform collectors)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def render_metrics(registry: Collector) -> bytes:
    """The exposition text of ``registry`` (serve with ``CONTENT_TYPE``)."""
    body: bytes = generate_latest(registry)
    return body
