"""The dashboard model's folding rules and the shared text formats (no Textual)."""

from __future__ import annotations

from datetime import UTC, datetime

from slamon_daemon.text import latency
from slamon_tui.formatting import days_ago_label, latency_text, uptime_text
from slamon_tui.models.dashboard import MAX_LATENCIES, DashboardModel

from .fake_daemon import make_check, make_service, make_snapshot


def loaded(*services: dict[str, object]) -> DashboardModel:
    model = DashboardModel()
    model.apply_snapshot(make_snapshot(list(services) or [make_service("api", "API")]))
    return model


def test_snapshot_keeps_order_and_pads_short_bars() -> None:
    model = loaded(make_service("b", daily=["o", "mo"]), make_service("a"))
    assert list(model.services) == ["b", "a"]
    assert len(model.services["b"].daily) == 90
    assert model.services["b"].daily[-2:] == ["o", "mo"]
    assert model.services["b"].daily[0] == "nd"


def test_check_appends_latency_and_sets_today_and_uptime() -> None:
    model = loaded()
    at = datetime(2026, 11, 21, 23, 5, tzinfo=UTC)
    check = make_check("api", 321.0, outcome="down", error_kind="timeout", at=at)
    service = model.apply_check(
        {"service_id": "api", "check": check, "daily": "po", "uptime": {"30": "99.00"}}
    )
    assert service is not None
    assert service.latencies[-1] == 321.0
    assert service.outcomes[-1] == "down"
    assert service.failed_points[-1] is True
    assert len(service.latencies) == len(service.outcomes) == MAX_LATENCIES
    assert service.daily[-1] == "po"
    assert service.uptime["30"] == "99.00"
    assert service.last_check == check


def test_check_already_in_the_snapshot_is_not_counted_twice() -> None:
    model = loaded(make_service("api", latencies=[1.0, 2.0]))
    old = model.services["api"].last_check
    assert old is not None
    model.apply_check({"service_id": "api", "check": dict(old), "daily": "o"})
    assert model.services["api"].latencies == [1.0, 2.0]


def test_check_for_unknown_service_asks_for_resync() -> None:
    assert loaded().apply_check({"service_id": "new", "check": make_check("new", 1.0)}) is None


def test_check_on_a_new_utc_day_moves_the_window() -> None:
    model = loaded(make_service("api"), make_service("web"))
    assert model.days[-1] == "2026-11-21"
    web_before = list(model.services["web"].daily)
    at = datetime(2026, 11, 22, 0, 0, 30, tzinfo=UTC)
    model.apply_check({"service_id": "api", "check": make_check("api", 5.0, at=at), "daily": "o"})
    assert model.days[-1] == "2026-11-22"
    assert len(model.days) == 90
    assert model.services["api"].daily[-1] == "o"
    # The other service has no check today yet: its new cell is "no data".
    assert model.services["web"].daily == web_before[1:] + ["nd"]


def test_status_events() -> None:
    model = loaded()
    changed = model.apply_status(
        {"kind": "service", "service_id": "api", "status": "major_outage", "at": "x"}
    )
    assert changed is model.services["api"]
    assert model.services["api"].status == "major_outage"
    assert model.apply_status({"kind": "overall", "status": "degraded"}) is True
    assert model.overall == "degraded"
    assert model.apply_status({"kind": "service", "service_id": "zzz", "status": "o"}) is None


def test_latency_text() -> None:
    assert latency_text(None) == "—"
    assert latency_text(make_check("a", 123.4)) == "123 ms"
    assert latency_text(make_check("a", 0.3)) == "<1 ms"
    assert latency_text(make_check("a", 12345.0)) == "12.3 s"
    assert latency_text(make_check("a", 9.0, outcome="down", error_kind="timeout")) == "timeout"
    http = make_check("a", 9.0, outcome="down", error_kind="http_error", status_code=503)
    assert latency_text(http) == "HTTP 503"
    assert all(len(latency(ms)) <= 8 for ms in (0.1, 9999.4, 99_999.0))


def test_uptime_and_scale_texts() -> None:
    assert uptime_text({"30": "99.95"}, 30) == "99.95%"
    assert uptime_text({"30": "—"}, 30) == "—"
    # Exactly as the daemon sends it, with a % sign: never shortened or rounded.
    assert uptime_text({"90": "100.00"}, 90) == "100.00%"
    assert uptime_text({"30": "99.999"}, 30) == "99.999%"
    assert uptime_text({}, 90) == "—"
    label = days_ago_label(30, 30)
    assert len(label) == 30
    assert label.startswith("30 days ago") and label.endswith("Today")


def test_outcomes_are_aligned_with_latencies() -> None:
    model = loaded(
        make_service("a", latencies=[1.0, 2.0, 3.0], outcomes=["up", "down", "degraded"]),
        # A daemon older than "outcomes": every point counts as answered.
        {k: v for k, v in make_service("b", latencies=[4.0, 5.0]).items() if k != "outcomes"},
        # More outcomes than latencies: the newest ones are kept, aligned at the right.
        make_service("c", latencies=[6.0], outcomes=["up", "down"]),
    )
    assert model.services["a"].failed_points == [False, True, False]
    assert model.services["b"].outcomes == ["up", "up"]
    assert model.services["c"].outcomes == ["down"]
