"""Burn rates against hand-computed figures (SRE workbook, "Alerting on SLOs")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from slamon_daemon.alerts.burnrate import (
    WORKBOOK,
    Counts,
    SloLedger,
    budget_runs_out_in,
    burn_rate,
    evaluate,
)
from slamon_daemon.alerts.words import duration_words

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DAY = 86400.0


def test_workbook_table() -> None:
    assert [(p.kind, p.long_s, p.short_s, p.factor) for p in WORKBOOK] == [
        ("page", 3600, 300, 14.4),
        ("page", 21600, 1800, 6.0),
        ("ticket", 259200, 21600, 1.0),
    ]


def test_burn_rate_hand_computed() -> None:
    # 99.9 % target: budget 0.1 %. 1 failure in 60 checks = 1.667 % errors = 16.67x.
    assert burn_rate(Counts(1, 60), 99.9) == pytest.approx(16.6667, abs=1e-4)
    # 36 of 2,500 = 1.44 % = exactly the 14.4x page threshold.
    assert burn_rate(Counts(36, 2500), 99.9) == 14.4
    # 99.5 % target: budget 0.5 %. 3 of 100 = 3 % = 6x.
    assert burn_rate(Counts(3, 100), 99.5) == 6.0
    assert burn_rate(Counts(0, 100), 99.9) == 0.0
    assert burn_rate(Counts(0, 0), 99.9) is None


def test_budget_runs_out_hand_computed() -> None:
    # At 14.4x a 30-day budget lasts 30 d / 14.4 = 50 h = 2 days 2 hours.
    assert budget_runs_out_in(14.4, 30 * DAY) == 180_000.0
    assert duration_words(180_000) == "2 days 2 hours"
    # At 16.67x (1 in 60 at 99.9 %): 720 h / 16.667 = 43.2 h.
    rate = burn_rate(Counts(1, 60), 99.9)
    assert rate is not None
    assert budget_runs_out_in(rate, 30 * DAY) == pytest.approx(155_520.0)
    assert duration_words(155_520) == "1 day 19 hours"
    # With 25 % of the budget left, at 6x: 0.25 × 720 h / 6 = 30 h.
    assert budget_runs_out_in(6.0, 30 * DAY, remaining=0.25) == 108_000.0
    assert budget_runs_out_in(0.0, 30 * DAY) is None


def feed(ledger: SloLedger, start: datetime, minutes: int, bad_every: int | None) -> None:
    """One check a minute for ``minutes`` minutes; every ``bad_every``-th one failed."""
    for i in range(minutes):
        failed = bad_every is not None and i % bad_every == bad_every - 1
        ledger.add(start + timedelta(minutes=i, seconds=10), failed)


def test_ledger_windows_count_whole_minutes_and_hours() -> None:
    ledger = SloLedger()
    feed(ledger, T0, 120, bad_every=10)  # 12:00 .. 13:59, failures at minutes 9, 19, ...
    now = T0 + timedelta(minutes=119, seconds=30)
    assert ledger.counts(300, now) == Counts(1, 5)  # minutes 115..119; 119 failed
    assert ledger.counts(3600, now) == Counts(6, 60)
    assert ledger.counts(6 * 3600, now) == Counts(12, 120)
    assert ledger.counts(3 * DAY, now) == Counts(12, 120)  # from the hour ring


def test_ledger_old_slots_do_not_count() -> None:
    ledger = SloLedger()
    feed(ledger, T0, 10, bad_every=1)  # ten failures at 12:00..12:09
    later = T0 + timedelta(hours=7)
    assert ledger.counts(6 * 3600, later) == Counts(0, 0)  # past the minute ring
    assert ledger.counts(3 * DAY, later) == Counts(10, 10)  # still in the 3-day window
    assert ledger.counts(3 * DAY, T0 + timedelta(days=3, hours=1)) == Counts(0, 0)


def test_ledger_seeded_from_rollups_and_recent_checks() -> None:
    ledger = SloLedger()
    for h in range(72):  # three days of hourly rollups: 60 checks, 1 failure each
        ledger.seed_hour(T0 - timedelta(hours=72 - h), 1, 60)
    ledger.add(T0 + timedelta(seconds=5), True, hours=False)  # a replayed raw check
    assert ledger.counts(3 * DAY, T0 + timedelta(minutes=1)) == Counts(71, 71 * 60)
    assert ledger.counts(300, T0 + timedelta(minutes=1)) == Counts(1, 1)


def test_page_fires_on_a_fast_burn_and_stops_with_the_short_window() -> None:
    ledger = SloLedger()
    feed(ledger, T0, 55, bad_every=None)  # 55 good minutes
    feed(ledger, T0 + timedelta(minutes=55), 5, bad_every=1)  # then 5 failed
    now = T0 + timedelta(minutes=59, seconds=30)
    page, ticket = evaluate(ledger, 99.9, now)
    # 1 h: 5/60 = 8.33 % = 83.3x; 5 min: 5/5 = 1000x: both over 14.4.
    assert page.kind == "page" and page.firing
    assert page.pair.factor == 14.4
    assert page.long_rate == pytest.approx(83.333, abs=1e-3)
    assert page.short_rate == pytest.approx(1000.0)
    # ticket: 3 d = 5/60 → 83x and 6 h the same: over 1x.
    assert ticket.kind == "ticket" and ticket.firing
    feed(ledger, T0 + timedelta(minutes=60), 5, bad_every=None)  # five good minutes later
    page, _ = evaluate(ledger, 99.9, T0 + timedelta(minutes=64, seconds=30))
    # 1 h/5 min: 5/60 but 0/5 — that row stops; 6 h/30 min: 5/65 = 76.9x and 5/30 = 166.7x
    # — that row still fires, so the page goes on.
    assert page.firing and page.pair.factor == 6.0
    assert page.long_rate == pytest.approx(5 / 65 / 0.001)
    assert page.short_rate == pytest.approx(5 / 30 / 0.001)
    feed(ledger, T0 + timedelta(minutes=65), 25, bad_every=None)  # 30 good minutes in all
    page, _ = evaluate(ledger, 99.9, T0 + timedelta(minutes=89, seconds=30))
    # 30 min (60..89): 0/30 → the 6 h row stops; 5 min 0/5 → the 1 h row too: no page.
    assert not page.firing


def test_slow_burn_pages_on_the_six_hour_pair() -> None:
    ledger = SloLedger()
    # 6 h of one check a minute; failures at minutes 0 and 125 only.
    for i in range(360):
        ledger.add(T0 + timedelta(minutes=i, seconds=1), i in (0, 125))
    now = T0 + timedelta(minutes=359, seconds=30)
    page, _ = evaluate(ledger, 99.9, now)
    # 6 h: 2/360 = 5.56x < 6; 30 min: 0/30: no page.
    assert not page.firing
    assert page.pair.factor == 6.0 and page.long_rate == pytest.approx(2 / 360 / 0.001)
    ledger = SloLedger()
    for i in range(360):
        ledger.add(T0 + timedelta(minutes=i, seconds=1), i in (0, 125, 340))
    page, _ = evaluate(ledger, 99.9, now)
    # 1 h: 1/60 = 16.7x but 5 min (355..359): 0 → that row is quiet. 6 h: 3/360 = 8.33x and
    # 30 min (330..359): 1/30 = 33.3x, both ≥ 6 → the page fires on the 6 h row.
    assert page.firing and page.pair.long_s == 6 * 3600
    assert page.long_rate == pytest.approx(3 / 360 / 0.001)
    assert page.short_rate == pytest.approx(1 / 30 / 0.001)


def test_ticket_only_hand_computed() -> None:
    ledger = SloLedger()
    for h in range(72):  # the 72 hours before T0 at 60 checks an hour with 0 failures ...
        ledger.seed_hour(T0 - timedelta(hours=72 - h), 0, 60)
    ledger.seed_hour(T0 - timedelta(hours=2), 3, 60)  # ... but 3 failures two hours ago
    ledger.seed_hour(T0 - timedelta(hours=1), 2, 60)  # and 2 an hour ago
    for i in range(30):
        ledger.add(T0 + timedelta(minutes=i, seconds=1), False)
    now = T0 + timedelta(minutes=29, seconds=59)
    page, ticket = evaluate(ledger, 99.9, now)
    # 3 d (the hours T0−71 h .. T0): 5 failures in 71 × 60 + 30 = 4,290 checks → 1.166x ≥ 1; 6 h (minutes only: 30
    # checks, 0 failed) → 0x: the ticket needs both windows, so it does not fire.
    assert ticket.long_rate == pytest.approx(5 / 4290 / 0.001)
    assert not ticket.firing and not page.firing
    for i in range(30, 60):
        ledger.add(T0 + timedelta(minutes=i, seconds=1), i == 59)
    now = T0 + timedelta(minutes=59, seconds=30)
    page, ticket = evaluate(ledger, 99.9, now)
    # 6 h: 1/60 = 16.7x ≥ 1 and 3 d: 6/4,320 = 1.39x ≥ 1 → ticket. 1 h: 16.7x, 5 min: 1/5 =
    # 200x → the page fires too.
    assert ticket.firing and ticket.long_rate == pytest.approx(6 / 4320 / 0.001)
    assert page.firing
