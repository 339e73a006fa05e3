"""SLO burn-rate alerts through the engine: the page, its words, its end, seeding."""

from __future__ import annotations

from datetime import timedelta

from slamon_daemon.alerts.model import Action, Event, Notification, Severity

from .engine_support import T0, Harness, svc

TOML = """
[[alert_channel]]
id = "tickets"
type = "webhook"
url = "https://tickets.example/hook"
rules = ["slo_burn"]
"""


def feed(h: Harness, sid: str, start_min: int, minutes: int, failed: bool) -> None:
    for i in range(start_min, start_min + minutes):
        h.engine.record_check(sid, T0 + timedelta(minutes=i, seconds=5), failed)


def test_page_and_ticket_with_time_left_in_words() -> None:
    h = Harness(TOML, services=[svc("api", slo_target=99.9)])
    feed(h, "api", 0, 55, False)
    feed(h, "api", 55, 5, True)
    sent = h.tick(59 * 60 + 30)
    page = next(n for n in sent if n.fields["slo"]["alert"] == "page")
    ticket = next(n for n in sent if n.fields["slo"]["alert"] == "ticket")
    assert page.event is Event.SLO_BURN and page.severity is Severity.CRITICAL
    assert ticket.severity is Severity.WARNING
    # 5 failed of 60 at 99.9 %: 83.3x; a 30-day budget lasts 720 h / 83.33 = 8 h 38 min.
    assert page.fields["title"] == (
        "api burning its error budget 83.3× too fast (page): at this rate the 30-day error"
        " budget runs out in 8 hours 38 minutes"
    )
    assert page.fields["slo"]["budget_runs_out_in_s"] == 31104.0
    assert (
        page.fields["slo"]["long_window"] == "1 hour"
        and page.fields["slo"]["short_window"] == "5 minutes"
    )
    assert (
        "failed 83.3× more often than its 99.9% target allows over the last 1 hour"
        in page.fields["text"]
    )
    assert h.tick(59 * 60 + 40) == []  # once a minute, and a firing alert is not re-sent
    feed(h, "api", 60, 40, False)
    sent = h.tick(99 * 60 + 30)  # 30+ good minutes: both page rows stop
    resolved = [n for n in sent if n.event is Event.SLO_RECOVERED]
    assert [n.fields["slo"]["alert"] for n in resolved] == ["page"]
    assert resolved[0].action is Action.RESOLVE and resolved[0].dedup_key == page.dedup_key


def test_budget_left_shortens_the_time() -> None:
    h = Harness(TOML, services=[svc("api", slo_target=99.9)])
    h.engine.budget_remaining["api"] = 0.5
    feed(h, "api", 0, 55, False)
    feed(h, "api", 55, 5, True)
    page = next(n for n in h.tick(59 * 60 + 30) if n.fields["slo"]["alert"] == "page")
    assert page.fields["slo"]["budget_runs_out_in_s"] == 15552.0  # half of 31,104 s
    assert page.fields["slo"]["budget_runs_out_in"] == "4 hours 19 minutes"


def test_no_burn_page_on_top_of_an_outage_page() -> None:
    h = Harness(
        TOML.replace('rules = ["slo_burn"]', 'rules = ["slo_burn", "down"]'), services=[svc("api")]
    )
    h.down("api", 55 * 60)
    feed(h, "api", 0, 55, False)
    feed(h, "api", 55, 5, True)
    sent = h.tick(59 * 60 + 30)
    assert [n.event for n in sent] == [Event.DOWN]
    burning = [s for s in h.states.values() if s.rule.value == "slo_burn"]
    assert burning and all(s.suppressed_by == "outage" for s in burning)


def test_seeded_ledger_after_a_restart() -> None:
    h = Harness(TOML, services=[svc("api", slo_target=99.0)])
    hours = [(T0 - timedelta(hours=72 - i), 2, 60) for i in range(72)]  # 3.3 % errors: 3.3x
    recent = [(T0 + timedelta(minutes=i, seconds=1), i % 20 == 0) for i in range(60)]
    h.engine.seed_slo("api", hours, recent)
    sent = h.tick(59 * 60 + 30)
    assert [n.fields["slo"]["alert"] for n in sent] == ["ticket"]


BOTH = TOML.replace('rules = ["slo_burn"]', 'rules = ["slo_burn", "down"]')


def test_a_burn_the_outage_explains_is_not_sent_after_the_recovery() -> None:
    """One fault pages once: the down alert told it; the burn its failures leave in the
    windows after the recovery (30 min for a page, 6 h for a ticket) is not a new page."""
    h = Harness(BOTH, services=[svc("api")])
    feed(h, "api", 0, 55, False)
    h.down("api", 55 * 60)
    feed(h, "api", 55, 5, True)
    assert [n.event for n in h.tick(59 * 60 + 30)] == [Event.DOWN]
    recovered = h.up("api", 60 * 60 + 10, episode=55 * 60)
    sent = list(recovered)
    for minute in range(60, 7 * 60 + 1):  # (fed as time goes: the ledger is a ring)
        feed(h, "api", minute, 1, False)
        sent += h.tick(minute * 60 + 30)
    assert Event.SLO_BURN not in {n.event for n in sent}
    assert Event.SLO_RECOVERED not in {n.event for n in sent}
    burning = [s for s in h.states.values() if s.rule.value == "slo_burn"]
    assert burning and all(s.status.value == "resolved" and not s.sent for s in burning)


def test_a_burn_that_goes_on_after_the_outage_pages_once_the_outage_is_out_of_it() -> None:
    h = Harness(BOTH, services=[svc("api")])
    feed(h, "api", 0, 55, False)
    h.down("api", 55 * 60)
    feed(h, "api", 55, 5, True)
    h.tick(59 * 60 + 30)
    h.up("api", 60 * 60 + 10, episode=55 * 60)
    sent: dict[int, list[Notification]] = {}
    for m in range(60, 95):  # every other check fails (never confirmed down): 500x
        h.engine.record_check("api", T0 + timedelta(minutes=m, seconds=5), m % 2 == 0)
        sent[m] = h.tick(m * 60 + 30)
    early = [n for m in range(60, 90) for n in sent[m]]
    assert Event.SLO_BURN not in {n.event for n in early}  # still the outage's failures
    late = {m: sent[m] for m in range(90, 95)}
    pages = {
        m: [n for n in sent if n.event is Event.SLO_BURN and n.fields["slo"]["alert"] == "page"]
        for m, sent in late.items()
    }
    assert len(pages[90]) == 1 and not any(pages[m] for m in range(91, 95))
