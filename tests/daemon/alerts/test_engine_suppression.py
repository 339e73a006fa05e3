"""Suppression that never hides data: dependencies, maintenance, silences."""

from __future__ import annotations

from datetime import timedelta

from slamon_daemon.alerts.model import Action, Rule
from slamon_daemon.alerts.state import AlertStatus, Silence
from slamon_daemon.models import MaintenanceWindow

from .engine_support import Harness, svc

CHILDREN = [f"app{i}" for i in range(1, 8)]
SERVICES = [svc("core-db"), *(svc(c, depends_on=("core-db",)) for c in CHILDREN), svc("other")]


def test_children_fold_into_the_parents_message() -> None:
    h = Harness(services=SERVICES)
    for i, c in enumerate(CHILDREN[:5]):
        h.down(c, 100 + i)  # children first, as timeouts cascade
    h.down("core-db", 110)
    h.down("app6", 112)
    h.down("app7", 114)
    chat, pager = h.tick(130)
    assert chat.fields["title"] == (
        "core-db down; 7 dependent services affected: app1, app2, app3, app4, app5, app6 and app7"
    )
    assert [s["id"] for s in chat.fields["services"]] == ["core-db"]
    assert [d["id"] for d in chat.fields["dependents"]] == CHILDREN
    assert pager.dedup_key == "down|core-db|2026-11-22T02:00:50+00:00"  # the episode start
    held = [s for s in h.states.values() if s.service_id in CHILDREN]
    assert len(held) == 7
    assert all(
        s.held_by == "core-db" and s.status is AlertStatus.FIRING and not s.sent for s in held
    )
    assert len(h.sent) == 2


def test_a_child_failing_later_is_held_silently() -> None:
    h = Harness(services=SERVICES)
    h.down("core-db", 100)
    h.tick(130)
    h.down("app1", 200)
    assert h.tick(230) == []
    child = next(s for s in h.states.values() if s.service_id == "app1")
    assert child.held_by == "core-db"
    parent = next(s for s in h.states.values() if s.service_id == "core-db")
    assert parent.details["held"] == ["app1"]


def test_after_the_parent_recovers_a_child_still_down_alerts_on_its_own() -> None:
    h = Harness(services=SERVICES)
    h.down("core-db", 100)
    h.down("app1", 101)
    h.down("app2", 102)
    h.down("app3", 103)
    h.tick(130)
    h.up("app3", 300, episode=43)  # recovered while held: nothing to say
    h.up("core-db", 400, episode=40)
    h.up("app1", 410, episode=41)  # follows its parent back up within the window
    sent = h.tick(430)
    chat_recovery = next(n for n in sent if n.channel_id == "chat" and n.action is Action.RESOLVE)
    assert (
        "3 dependent services: 2 recovered, 1 still down and alerting on their own: app2"
        in (chat_recovery.fields["text"])
    )
    triggers = [n for n in sent if n.action is Action.TRIGGER]
    assert [(n.channel_id, n.fields["title"]) for n in triggers] == [
        ("chat", "app2 down"),
        ("pager", "app2 down"),
    ]
    announced = {
        s["id"] for n in h.sent if n.action is Action.TRIGGER for s in n.fields["services"]
    }
    assert announced == {"core-db", "app2"}  # app1 and app3 never alerted on their own


def test_transitive_dependencies_hold_under_the_topmost_parent() -> None:
    services = [svc("net"), svc("db", depends_on=("net",)), svc("api", depends_on=("db",))]
    h = Harness(services=services)
    h.down("api", 100)
    h.down("db", 101)
    h.down("net", 102)
    chat, _ = h.tick(130)
    assert chat.fields["title"] == "net down; 2 dependent services affected: api and db"


def test_maintenance_suppresses_and_what_outlasts_it_is_announced() -> None:
    h = Harness(services=SERVICES)
    window = MaintenanceWindow("db upgrade", h.at(0), h.at(600), services=("other",))
    h.engine.set_maintenance([window])
    h.down("other", 100)
    assert h.tick(130) == []
    state = next(iter(h.states.values()))
    assert state.status is AlertStatus.FIRING and state.suppressed_by == "maintenance"
    assert h.tick(599) == []
    assert h.tick(600) == []  # the window ended: announced after a grouping window
    sent = h.tick(630)
    assert [n.fields["title"] for n in sent] == ["other down", "other down"]


def test_maintenance_outage_that_recovers_inside_is_never_sent() -> None:
    h = Harness(services=SERVICES)
    h.engine.set_maintenance([MaintenanceWindow("m", h.at(0), h.at(600))])
    h.down("other", 100)
    h.tick(130)
    h.up("other", 300, episode=40)
    h.tick(330)
    h.tick(700)
    assert h.sent == []
    assert next(iter(h.states.values())).status is AlertStatus.RESOLVED


def test_silence_mutes_then_expires() -> None:
    h = Harness(services=SERVICES)
    h.engine.add_silence(Silence(7, ("oth*",), (), "known flaky", "kim", h.at(0), h.at(1000)))
    h.down("other", 100)
    h.down("core-db", 100)
    sent = h.tick(130)
    assert {n.fields["title"] for n in sent} == {"core-db down"}
    other = next(s for s in h.states.values() if s.service_id == "other")
    assert other.suppressed_by == "silence:7"
    h.tick(1000)
    assert [n.fields["title"] for n in h.tick(1030)] == ["other down", "other down"]


def test_silence_of_reminders_only() -> None:
    h = Harness(services=SERVICES)
    h.down("other", 100)
    h.tick(130)
    h.engine.add_silence(
        Silence(8, ("other",), (Rule.REMINDER,), "working on it", "kim", h.at(200), h.at(10_000))
    )
    assert h.tick(130 + 3600) == []
    h.engine.cancel_silence(8, h.at(4000))
    (r,) = h.tick(4000)
    assert r.fields["reminder"] == 1


def test_incidents_routed_by_services_paging_gets_no_updates() -> None:
    from slamon_daemon.alerts.state import IncidentEvent

    h = Harness(services=SERVICES)
    base = dict(
        incident_id=12,
        title="DB slow",
        status="investigating",
        severity="high",
        priority=1,
        services=("core-db",),
        at=h.at(10),
    )
    created = h.take(h.engine.incident(IncidentEvent(kind="created", **base)))  # type: ignore[arg-type]
    assert [(n.channel_id, n.action) for n in created] == [
        ("chat", Action.TRIGGER),
        ("pager", Action.TRIGGER),
    ]
    assert created[0].fields["incident"]["id"] == 12
    assert created[0].dedup_key == "incident|12"
    internal = IncidentEvent(
        kind="updated", update_id=5, customer_visible=False, message="x", **base
    )  # type: ignore[arg-type]
    assert h.take(h.engine.incident(internal)) == []
    public = IncidentEvent(kind="updated", update_id=6, message="We found it", author="kim", **base)  # type: ignore[arg-type]
    (upd,) = h.take(h.engine.incident(public))
    assert upd.channel_id == "chat" and upd.action is Action.INFO
    assert "kim: We found it" in upd.fields["text"] and upd.key == "incident|12|update-6|chat"
    resolved = h.take(
        h.engine.incident(IncidentEvent(kind="resolved", **{**base, "status": "resolved"}))
    )  # type: ignore[arg-type]
    assert [(n.channel_id, n.action) for n in resolved] == [
        ("chat", Action.RESOLVE),
        ("pager", Action.RESOLVE),
    ]


def test_tls_expiry_warns_escalates_and_resolves_on_renewal() -> None:
    h = Harness(services=SERVICES)
    expiry = h.at(0) + timedelta(days=20)
    assert h.take(h.engine.certificate("other", expiry, h.at(0))) == []
    day7 = h.at(0) + timedelta(days=7)  # 13 days left
    warn = h.take(h.engine.certificate("other", expiry, day7))
    assert [n.severity.value for n in warn] == ["warning", "warning"]
    assert warn[0].fields["certificate"]["threshold_days"] == 14
    assert warn[0].fields["title"] == "TLS certificate of other expires in 13 days"
    assert h.take(h.engine.certificate("other", expiry, day7 + timedelta(hours=1))) == []
    crit = h.take(h.engine.certificate("other", expiry, h.at(0) + timedelta(days=17, hours=12)))
    assert [n.severity.value for n in crit] == ["critical", "critical"]
    assert crit[0].dedup_key == warn[0].dedup_key and crit[0].key != warn[0].key
    renewed = h.take(
        h.engine.certificate("other", expiry + timedelta(days=90), h.at(0) + timedelta(days=18))
    )
    assert [(n.channel_id, n.action) for n in renewed] == [
        ("chat", Action.RESOLVE),
        ("pager", Action.RESOLVE),
    ]
    assert renewed[0].fields["title"] == "TLS certificate of other renewed"
