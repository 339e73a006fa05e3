"""/metrics for 1,000 services: time to render one scrape through prometheus_client.

Builds what the daemon's live state keeps per service (a CheckCounters with a realistic
spread of outcomes and error kinds, status, four uptime windows, budget, certificate expiry,
last check) and times three ways of answering a scrape:

* full: SlamonCollector + generate_latest over every service (no cache);
* cold: MetricsRenderer's first scrape (every service rendered);
* steady: MetricsRenderer when a quarter of the services were checked since the last scrape
  (60 s checks, a 15 s scrape interval), which is the daemon's normal case.

Target (issue 13): 1,000 services in under 100 ms.

    .venv/bin/python bench/metrics_render.py [--services 1000] [--scrapes 30]
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import median, print_machine, quantile, verdict  # noqa: E402
from slamon_daemon.web.metrics import (  # noqa: E402
    LATENESS_BUCKETS_S,
    CheckCounters,
    DaemonSample,
    Histogram,
    ServiceSample,
    SlamonCollector,
    make_registry,
    render_metrics,
)
from slamon_daemon.web.metrics_cache import MetricsRenderer  # noqa: E402

TARGET_S = 0.100


def live_state(n: int, seed: int = 7) -> list[ServiceSample]:
    """What the daemon would hold after a day of checks at 60 s (1,440 per service)."""
    rnd = random.Random(seed)
    now = time.time()
    out = []
    for i in range(n):
        c = CheckCounters()
        for _ in range(1440):
            r = rnd.random()
            if r < 0.97:
                c.record("up", None, rnd.lognormvariate(-3.0, 0.6))
            elif r < 0.99:
                c.record("degraded", None, rnd.uniform(2.0, 4.0))
            else:
                c.record("down", rnd.choice(["timeout", "http_error", "connection_error"]), 7.0)
        out.append(
            ServiceSample(
                id=f"svc-{i:04d}",
                name=f"Service {i:04d}",
                node="eu-1",
                status="operational" if i % 50 else "degraded",
                counters=c,
                uptime={"24h": 0.999, "7d": 0.9985, "30d": 0.9991, "90d": 0.9993},
                budget_remaining=0.62,
                cert_expires_at=now + 86400 * (30 + i % 60),
                last_check_at=now - i % 60,
                group=["Payments", "Identity", ""][i % 3],
                description=f"Service number {i}",
                tags=("prod", f"team-{i % 7}"),
            )
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--scrapes", type=int, default=30)
    args = ap.parse_args()
    print_machine()
    samples = live_state(args.services)
    lateness = Histogram(LATENESS_BUCKETS_S)
    for k in range(10_000):
        lateness.observe((k % 100) / 1000)
    daemon = DaemonSample(node="eu-1", lateness=lateness, feed_clients=3, outbox_depth=0)
    registry = make_registry(SlamonCollector(lambda: samples, lambda: daemon))
    body = render_metrics(registry)
    lines = sum(1 for line in body.splitlines() if not line.startswith(b"#"))
    print(f"services={args.services} samples={lines} body={len(body) / 1024:.0f} KiB")
    full = _time(lambda: render_metrics(registry), max(3, args.scrapes // 10))
    print(f"full   (no cache):        p50 {_ms(median(full))}, max {_ms(max(full))}")

    current = list(samples)
    renderer = MetricsRenderer(lambda: current, lambda: daemon)
    cold = _time(renderer.render, 1)
    assert renderer.render() == body, "the cached rendering differs from generate_latest"
    print(f"cold   (first scrape):    {_ms(cold[0])}")
    rnd = random.Random(3)
    steady = []
    changed = args.services // 4
    for k in range(args.scrapes):
        for i in rnd.sample(range(len(current)), changed):
            s = current[i]
            s.counters.record("up", None, 0.05)
            current[i] = dataclasses.replace(s, last_check_at=(s.last_check_at or 0) + 15 + k)
        steady += _time(renderer.render, 1)
    print(
        f"steady ({changed} changed/scrape): p50 {_ms(median(steady))},"
        f" p99 {_ms(quantile(steady, 0.99))}, max {_ms(max(steady))}"
    )
    verdict(
        f"{args.services:,} services under 100 ms",
        median(steady) < TARGET_S,
        f"steady p50 {_ms(median(steady))}, cold {_ms(cold[0])}, uncached {_ms(median(full))}",
    )


def _time(fn: object, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append(time.perf_counter() - t0)
    return out


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


if __name__ == "__main__":
    main()
