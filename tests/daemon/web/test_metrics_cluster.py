"""/metrics on a cluster node: the counters hold the checks this node made, the uptime every
node's (issue 15: a sum over the nodes' series counts each check once)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from slamon_daemon.models import Check, Outcome
from slamon_daemon.web.metrics_source import MetricsBook


def test_another_nodes_checks_feed_the_uptime_but_not_the_counters() -> None:
    now = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)
    book = MetricsBook()
    mine = Check("api", now - timedelta(minutes=2), 20.0, Outcome.UP)
    theirs = Check("api", now - timedelta(minutes=1), 3000.0, Outcome.DOWN)
    book.record(mine)
    book.record(theirs, made_here=False)
    counters = book.counters["api"]
    assert counters.checks == {("up", "none"): 1}
    assert sum(counters.latency.counts) == 1 and counters.latency.sum == 0.02
    assert book.hours["api"].ratio(now) == 0.5  # one up of the two checks made in the hour


def test_a_node_that_only_hears_of_a_service_exports_no_counts_for_it() -> None:
    now = datetime(2026, 12, 2, 0, 5, tzinfo=UTC)
    book = MetricsBook()
    book.record(Check("web", now, 10.0, Outcome.UP), made_here=False)
    assert "web" not in book.counters
    assert book.hours["web"].ratio(now) == 1.0
