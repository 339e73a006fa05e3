"""The words of alert messages: titles and texts a person reads, and their template fields.

Every message is written for someone woken at night: what is down, since when, why, what
else it takes with it, and for budgets how long is left — in words, not in ratios.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from .burnrate import BurnVerdict
from .fields import base_fields
from .model import Action, Event, Severity
from .state import AlertState, IncidentEvent, ServiceInfo, iso
from .words import duration_words, name_list, plural

Services = Mapping[str, ServiceInfo]


def clock_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


def _name(services: Services, sid: str) -> str:
    info = services.get(sid)
    return info.name if info else sid


def service_field(a: AlertState, services: Services, now: datetime, status: str) -> dict[str, Any]:
    info = services.get(a.service_id)
    return {
        "id": a.service_id,
        "name": info.name if info else a.service_id,
        "tags": sorted(info.tags) if info else [],
        "status": status,
        "since": iso(a.episode),
        "duration_s": round(((a.resolved_at or now) - a.episode).total_seconds(), 3),
        "cause": a.details.get("cause"),
        "error": a.details.get("error"),
    }


def _cause(a: AlertState) -> str:
    cause, error = a.details.get("cause"), a.details.get("error")
    if cause and error:
        return f" ({cause}: {error})"
    return f" ({cause or error})" if cause or error else ""


def down_fields(
    members: Sequence[AlertState],
    dependents: Mapping[str, Sequence[str]],
    services: Services,
    now: datetime,
) -> dict[str, Any]:
    """A trigger for one or more services confirmed down in one window."""
    ids = [a.service_id for a in members]
    deps = sorted({d for sid in ids for d in dependents.get(sid, ())})
    if len(members) == 1:
        title = f"{ids[0]} down"
    else:
        title = f"{plural(len(ids), 'service')} down: {name_list(ids)}"
    if deps:
        title += f"; {plural(len(deps), 'dependent service')} affected: {name_list(deps)}"
    lines = []
    for a in members:
        line = f"{_name(services, a.service_id)} ({a.service_id}) down since {clock_time(a.episode)}{_cause(a)}"
        if a.resolved_at is not None:
            line += f"; recovered at {clock_time(a.resolved_at)}"
        lines.append(line)
    if deps:
        lines.append(
            f"Dependent services affected (held, not alerted separately): {name_list(deps, limit=50)}"
        )
    return base_fields(
        event=Event.DOWN.value,
        action=Action.TRIGGER.value,
        severity=max((a.severity for a in members), key=lambda s: s.rank).value,
        title=title,
        text="\n".join(lines),
        at=iso(now),
        services=[service_field(a, services, now, "major_outage") for a in members],
        dependents=[{"id": d, "name": _name(services, d), "status": "major_outage"} for d in deps],
    )


def recovery_fields(
    members: Sequence[AlertState],
    still_down: Sequence[str],
    dependents_note: str,
    services: Services,
    now: datetime,
) -> dict[str, Any]:
    """A resolve for one or more recovered services (``still_down``: the rest of the storm)."""
    ids = [a.service_id for a in members]
    if len(members) == 1:
        a = members[0]
        took = duration_words(((a.resolved_at or now) - a.episode).total_seconds())
        title = f"{ids[0]} recovered after {took}"
    else:
        title = f"{plural(len(ids), 'service')} recovered: {name_list(ids)}"
    lines = [
        f"{_name(services, a.service_id)} ({a.service_id}) up again at"
        f" {clock_time(a.resolved_at or now)}, down"
        f" {duration_words(((a.resolved_at or now) - a.episode).total_seconds())}"
        for a in members
    ]
    if still_down:
        lines.append(f"Still down: {name_list(list(still_down), limit=50)}")
    if dependents_note:
        lines.append(dependents_note)
    return base_fields(
        event=Event.RECOVERY.value,
        action=Action.RESOLVE.value,
        severity=max((a.severity for a in members), key=lambda s: s.rank).value,
        title=title,
        text="\n".join(lines),
        at=iso(now),
        services=[service_field(a, services, now, "operational") for a in members],
        still_down=[{"id": s, "name": _name(services, s)} for s in still_down],
    )


def reminder_fields(
    members: Sequence[AlertState], number: int, services: Services, now: datetime
) -> dict[str, Any]:
    """A reminder that unacknowledged outages go on."""
    ids = [a.service_id for a in members]
    longest = max((now - a.episode).total_seconds() for a in members)
    if len(members) == 1:
        title = f"Still down: {ids[0]} for {duration_words(longest)}"
    else:
        title = f"Still down: {plural(len(ids), 'service')} ({name_list(ids)}), up to {duration_words(longest)}"
    lines = [
        f"{_name(services, a.service_id)} ({a.service_id}) down for"
        f" {duration_words((now - a.episode).total_seconds())}{_cause(a)}; not acknowledged"
        for a in members
    ]
    return base_fields(
        event=Event.REMINDER.value,
        action=Action.TRIGGER.value,
        severity=max((a.severity for a in members), key=lambda s: s.rank).value,
        title=title,
        text="\n".join(lines),
        at=iso(now),
        services=[service_field(a, services, now, "major_outage") for a in members],
        reminder=number,
    )


INCIDENT_SEVERITY = {
    "low": Severity.INFO,
    "medium": Severity.WARNING,
    "high": Severity.CRITICAL,
    "critical": Severity.CRITICAL,
}


def incident_fields(event: IncidentEvent) -> tuple[Event, Action, dict[str, Any]]:
    kind = {
        "created": (Event.INCIDENT_CREATED, Action.TRIGGER, "Incident opened"),
        "updated": (Event.INCIDENT_UPDATED, Action.INFO, "Incident update"),
        "resolved": (Event.INCIDENT_RESOLVED, Action.RESOLVE, "Incident resolved"),
    }[event.kind]
    ev, action, label = kind
    affected = f" — affects {name_list(list(event.services))}" if event.services else ""
    title = f"{label}: #{event.incident_id} {event.title} [{event.status}, P{event.priority}]"
    text = f"{label} #{event.incident_id} ({event.severity}, P{event.priority}){affected}"
    if event.message:
        text += f"\n{event.author or 'someone'}: {event.message}"
    fields = base_fields(
        event=ev.value,
        action=action.value,
        severity=INCIDENT_SEVERITY.get(event.severity, Severity.WARNING).value,
        title=title,
        text=text,
        at=iso(event.at),
        incident={
            "id": event.incident_id,
            "title": event.title,
            "status": event.status,
            "severity": event.severity,
            "priority": event.priority,
            "message": event.message,
            "author": event.author,
            "customer_visible": event.customer_visible,
        },
    )
    return ev, action, fields


def tls_fields(a: AlertState, services: Services, now: datetime, renewed: bool) -> dict[str, Any]:
    expires = a.episode
    days_left = (expires - now).total_seconds() / 86400
    threshold = int(a.details.get("threshold_days", 0))
    name = _name(services, a.service_id)
    if renewed:
        new = a.details.get("renewed_until")
        title = f"TLS certificate of {a.service_id} renewed"
        text = f"{name} ({a.service_id}) now presents a certificate chain valid until {new}."
    elif days_left <= 0:
        title = f"TLS certificate of {a.service_id} has expired"
        text = f"A certificate in the chain of {name} ({a.service_id}) expired at {clock_time(expires)}."
    else:
        title = f"TLS certificate of {a.service_id} expires in {duration_words(days_left * 86400)}"
        text = (
            f"The earliest expiry in the certificate chain of {name} ({a.service_id}) is"
            f" {clock_time(expires)}, {duration_words(days_left * 86400)} from now"
            f" (warning at {threshold} days)."
        )
    return base_fields(
        event=(Event.TLS_RENEWED if renewed else Event.TLS_EXPIRING).value,
        action=(Action.RESOLVE if renewed else Action.TRIGGER).value,
        severity=a.severity.value,
        title=title,
        text=text,
        at=iso(now),
        services=[service_field(a, services, now, "operational")],
        certificate={
            "expires_at": iso(expires),
            "days_left": round(days_left, 2),
            "threshold_days": threshold,
        },
    )


def slo_fields(
    a: AlertState,
    verdict: BurnVerdict,
    target: float,
    runs_out_s: float | None,
    period_s: float,
    services: Services,
    now: datetime,
    resolved: bool,
) -> dict[str, Any]:
    rate = verdict.long_rate or 0.0
    long_w, short_w = duration_words(verdict.pair.long_s), duration_words(verdict.pair.short_s)
    days, rest = divmod(int(period_s), 86400)
    budget = (
        f"the {days}-day error budget"
        if days and not rest
        else f"the error budget of {duration_words(period_s)}"
    )
    if resolved:
        title = f"{a.service_id} no longer burning its error budget ({verdict.kind})"
        text = (
            f"{_name(services, a.service_id)} ({a.service_id}): the error rate over the last"
            f" {short_w} is back under {verdict.pair.factor:g}× the budget rate."
        )
        runs_out = None
    else:
        runs_out = duration_words(runs_out_s) if runs_out_s is not None else "never"
        title = (
            f"{a.service_id} burning its error budget {rate:.1f}× too fast ({verdict.kind}):"
            f" at this rate {budget} runs out in {runs_out}"
        )
        text = (
            f"{_name(services, a.service_id)} ({a.service_id}) failed {rate:.1f}× more often"
            f" than its {target:g}% target allows over the last {long_w}"
            f" ({(verdict.short_rate or 0):.1f}× over the last {short_w}; alert at"
            f" {verdict.pair.factor:g}×). At this rate {budget} runs out in {runs_out}."
        )
    return base_fields(
        event=(Event.SLO_RECOVERED if resolved else Event.SLO_BURN).value,
        action=(Action.RESOLVE if resolved else Action.TRIGGER).value,
        severity=a.severity.value,
        title=title,
        text=text,
        at=iso(now),
        services=[service_field(a, services, now, "degraded")],
        slo={
            "alert": verdict.kind,
            "target": target,
            "factor": verdict.pair.factor,
            "long_window": long_w,
            "short_window": short_w,
            "burn_rate_long": round(rate, 3),
            "burn_rate_short": round(verdict.short_rate or 0.0, 3),
            "budget_runs_out_in": runs_out,
            "budget_runs_out_in_s": round(runs_out_s, 1)
            if runs_out_s is not None and not resolved
            else None,
        },
    )


def test_fields(channel_id: str, node: str, now: datetime, by: str) -> dict[str, Any]:
    """The fields of a test-send ("slamon alert test CHANNEL", the TUI's test button)."""
    key = f"test|{channel_id}|{iso(now)}"
    return base_fields(
        event=Event.TEST.value,
        action=Action.INFO.value,
        severity=Severity.INFO.value,
        title=f"slamon test message for channel {channel_id}",
        text=f"{by} sent this test from slamon node {node} at {clock_time(now)}."
        " If you can read it, alerts reach this channel.",
        at=iso(now),
        key=key,
        dedup_key=key,
        channel=channel_id,
        node=node,
        test=True,
    )
