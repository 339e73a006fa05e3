"""/metrics: read back by prometheus_client's own parser, checked by promtool when installed."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families

from slamon_daemon.web.metrics import (
    LATENESS_BUCKETS_S,
    CheckCounters,
    DaemonSample,
    Histogram,
    ServiceSample,
    SlamonCollector,
    make_registry,
    render_metrics,
)
from slamon_daemon.web.metrics_cache import MetricsRenderer

from .sample import URL_MARK

T0 = 1_790_000_000.0


def _service(i: int, **changes: object) -> ServiceSample:
    c = CheckCounters()
    for ms in (4, 12, 30, 80, 300, 1200):
        c.record("up", None, ms / 1000)
    c.record("degraded", None, 3.2)
    c.record("down", "timeout", 7.0)
    c.record("down", "http_error", 0.05)
    s = ServiceSample(
        id=f"svc-{i}",
        name=f'Service "{i}"',
        node="eu-1",
        status="degraded" if i == 2 else "operational",
        counters=c,
        uptime={"24h": 0.9993, "7d": 0.999, "30d": 0.9991, "90d": 0.9989},
        budget_remaining=0.42,
        cert_expires_at=T0 + 86400 * 40,
        last_check_at=T0 - 5,
        group="Payments",
        description="checks the payment API",
        tags=("prod", "eu"),
    )
    return dataclasses.replace(s, **changes)  # type: ignore[arg-type]


def _daemon(**changes: object) -> DaemonSample:
    h = Histogram(LATENESS_BUCKETS_S)
    for v in (0.0005, 0.002, 0.02, 0.3, 1.5):
        h.observe(v)
    d = DaemonSample(
        node="eu-1",
        lateness=h,
        skipped_checks=3,
        journal_backlog=12,
        store_write_failures=1,
        feed_clients=2,
        outbox_depth=4,
        delivery_failures=5,
    )
    return dataclasses.replace(d, **changes)  # type: ignore[arg-type]


def _text(services: list[ServiceSample], daemon: DaemonSample | None = None) -> str:
    registry = make_registry(SlamonCollector(lambda: services, lambda: daemon or _daemon()))
    return render_metrics(registry).decode()


def _families(text: str) -> dict[str, object]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_parsed_by_prometheus_client() -> None:
    fams = _families(_text([_service(1), _service(2)]))
    assert set(fams) >= {
        "slamon_service_info",
        "slamon_checks",
        "slamon_check_duration_seconds",
        "slamon_service_status",
        "slamon_service_uptime_ratio",
        "slamon_sla_error_budget_remaining_ratio",
        "slamon_tls_certificate_expiry_timestamp_seconds",
        "slamon_last_check_timestamp_seconds",
        "slamon_scheduler_lateness_seconds",
        "slamon_scheduler_skipped_checks",
        "slamon_journal_backlog_records",
        "slamon_store_write_failures",
        "slamon_feed_clients",
        "slamon_alert_outbox_depth",
        "slamon_alert_delivery_failures",
    }
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in fams.values()
        for s in f.samples  # type: ignore[attr-defined]
    }
    key = (("name", 'Service "1"'), ("node", "eu-1"), ("service", "svc-1"))
    assert (
        samples[
            (
                "slamon_checks_total",
                (("error_kind", "timeout"), *key[:2], ("outcome", "down"), key[2]),
            )
        ]
        == 1
    )
    assert (
        samples[
            ("slamon_checks_total", (("error_kind", "none"), *key[:2], ("outcome", "up"), key[2]))
        ]
        == 6
    )
    # latency in seconds, of correct answers only (7 of 9 checks)
    assert samples[("slamon_check_duration_seconds_count", key)] == 7
    assert samples[("slamon_check_duration_seconds_sum", key)] == pytest.approx(4.826)
    assert samples[("slamon_check_duration_seconds_bucket", (("le", "0.005"), *key))] == 1
    assert samples[("slamon_check_duration_seconds_bucket", (("le", "1.0"), *key))] == 5
    assert samples[("slamon_check_duration_seconds_bucket", (("le", "+Inf"), *key))] == 7
    # state set: exactly one state true
    states = {
        lbl[-1][1]
        if lbl[-1][0] == "slamon_service_status"
        else dict(lbl)["slamon_service_status"]: v
        for (n, lbl), v in samples.items()
        if n == "slamon_service_status" and dict(lbl)["service"] == "svc-2"
    }
    assert states["degraded"] == 1 and sum(states.values()) == 1 and len(states) == 6
    assert samples[("slamon_service_uptime_ratio", (*key, ("window", "7d")))] == 0.999
    assert samples[("slamon_tls_certificate_expiry_timestamp_seconds", key)] == T0 + 86400 * 40
    assert samples[("slamon_sla_error_budget_remaining_ratio", key)] == 0.42
    assert samples[("slamon_scheduler_lateness_seconds_count", (("node", "eu-1"),))] == 5
    assert samples[("slamon_alert_outbox_depth", (("node", "eu-1"),))] == 4


def test_metadata_only_in_the_info_metric() -> None:
    before = _families(_text([_service(1)]))
    after = _families(_text([_service(1, description="new words", tags=("x",), group="Other")]))
    for name, fam in before.items():
        if name == "slamon_service_info":
            continue
        labels_before = [s.labels for s in fam.samples]  # type: ignore[attr-defined]
        labels_after = [s.labels for s in after[name].samples]  # type: ignore[attr-defined]
        assert labels_before == labels_after, name
    (info,) = after["slamon_service_info"].samples  # type: ignore[attr-defined]
    assert info.labels["description"] == "new words" and info.labels["group"] == "Other"


def test_optional_series_are_absent_not_zero() -> None:
    svc = _service(1, cert_expires_at=None, budget_remaining=None, uptime={})
    text = _text([svc], _daemon(outbox_depth=None, delivery_failures=None))
    fams = _families(text)
    assert fams["slamon_tls_certificate_expiry_timestamp_seconds"].samples == []  # type: ignore[attr-defined]
    assert fams["slamon_service_uptime_ratio"].samples == []  # type: ignore[attr-defined]
    assert "slamon_alert_outbox_depth" not in fams


def test_no_url_in_metrics() -> None:
    text = _text([_service(1, description=f"polls https://{URL_MARK}/health daily")])
    # no field of ServiceSample holds the target URL, and one typed into a description is cut
    assert "url" not in {f.name for f in dataclasses.fields(ServiceSample)}
    assert URL_MARK not in text
    assert 'description="polls [url] daily"' in text


def test_cached_renderer_matches_generate_latest() -> None:
    services = [_service(i) for i in range(1, 6)]
    renderer = MetricsRenderer(lambda: services, _daemon)
    assert renderer.render() == _text(services).encode()
    assert renderer.rendered == 5
    assert renderer.render() == _text(services).encode()
    assert renderer.rendered == 0  # nothing changed: every line from the cache
    services[2].counters.record("down", "dns_error", 0.2)  # a new error kind
    services[2] = dataclasses.replace(services[2], last_check_at=T0, status="degraded")
    services[4] = dataclasses.replace(services[4], description="renamed", budget_remaining=None)
    del services[0]
    services.append(_service(9))
    assert renderer.render() == _text(services).encode()
    assert renderer.rendered == 3
    frozen = [dataclasses.replace(x, counters=x.counters.copy()) for x in services]
    expected = _text(frozen).encode()
    services[0].counters.record("up", None, 0.1)  # the live counters move on; the copy not
    assert renderer.render_from(frozen, _daemon()) == expected


PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian package prometheus)")
def test_promtool_check_metrics() -> None:
    assert PROMTOOL is not None
    text = _text([_service(i) for i in range(1, 4)])
    done = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=text.encode(), capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    # promtool's lint ("problems") go to stdout; there must be none
    assert done.stdout.decode().strip() == "", done.stdout.decode()
