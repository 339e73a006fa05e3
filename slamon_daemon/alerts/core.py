"""The alert engine's state and shared helpers: suppression, dependencies, announcing,
SLO evaluation and the collection of changes. The rules themselves are in outages.py
(down, recovery, storms, reminders) and engine.py (the public events); see engine.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..errors import SlamonError
from ..models import MaintenanceWindow
from . import messages
from .burnrate import KINDS, WORKBOOK, BurnVerdict, SloLedger, budget_runs_out_in, evaluate
from .config import AlertsConfig, ChannelConfig
from .model import Action, Event, Notification, Rule, Severity
from .routing import Router
from .state import AlertState, AlertStatus, ServiceInfo, Silence, alert_id

AFTER_OUTAGE = {
    kind: timedelta(seconds=max(p.short_s for p in WORKBOOK if p.kind == kind)) for kind in KINDS
}
"""How long after an alerted outage ends its SLO alerts stay quiet (page 30 min, ticket 6 h):
the longest short window of the kind. Until then the short window still holds failures of
the outage, which its own alert already told; a burn still firing after that is new."""


class AlertMap(dict[str, AlertState]):
    """The engine's alerts by id, also indexed by service (an alert's service never
    changes), so the rules' per-service lookups do not scan every alert: with a storm of
    1,000 outages a scan per event made confirming them all O(n²)."""

    def __init__(self) -> None:
        super().__init__()
        self.by_service: dict[str, dict[str, None]] = {}

    def __setitem__(self, key: str, value: AlertState) -> None:
        super().__setitem__(key, value)
        self.by_service.setdefault(value.service_id, {})[key] = None

    def __delitem__(self, key: str) -> None:
        a = self[key]
        super().__delitem__(key)
        ids = self.by_service.get(a.service_id)
        if ids is not None:
            ids.pop(key, None)
            if not ids:
                del self.by_service[a.service_id]

    def pop(self, key: str, default: Any = None) -> Any:
        if key not in self:
            return default
        a = self[key]
        del self[key]
        return a

    def of_service(self, service_id: str) -> list[AlertState]:
        """The alerts of one service, in insertion order."""
        return [self[k] for k in self.by_service.get(service_id, ())]


class UnknownAlert(SlamonError):
    """No open alert has this id."""


@dataclass(slots=True)
class Changes:
    """What one engine call produced: notifications to enqueue, alert states to upsert."""

    notifications: list[Notification] = field(default_factory=list)
    states: list[AlertState] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.notifications or self.states)


@dataclass(frozen=True, slots=True)
class DownService:
    """A service the live state holds confirmed down (for ``reconcile``)."""

    episode: datetime
    cause: str | None = None
    error: str | None = None


class EngineCore:
    """The engine's state and the helpers every rule uses (engine.py has the rules)."""

    def __init__(
        self,
        alerts: AlertsConfig,
        channels: Sequence[ChannelConfig],
        services: Iterable[ServiceInfo],
        *,
        node: str = "local",
    ) -> None:
        self.config = alerts
        self.node = node
        self.services: dict[str, ServiceInfo] = {s.id: s for s in services}
        self.router = Router(channels, self.services, alerts)
        self.alerts: AlertMap = AlertMap()
        self.silences: dict[int, Silence] = {}
        self.maintenance: list[MaintenanceWindow] = []
        self.ledgers: dict[str, SloLedger] = {}
        self.budget_remaining: dict[str, float] = {}
        self.outage_ended: dict[str, datetime] = {}
        """When each service's last outage alert ended (SLO alerts keep quiet after it)."""
        self._slo_minute: int | None = None
        self._out = Changes()
        self._changed: dict[str, AlertState] = {}

    def _silenced(self, service_id: str, rule: Rule, at: datetime) -> Silence | None:
        return next((s for s in self.silences.values() if s.matches(service_id, rule, at)), None)

    def _suppression(
        self, service_id: str, rule: Rule, at: datetime, slo_kind: str = "page"
    ) -> str | None:
        if any(w.covers(service_id, at) for w in self.maintenance):
            return "maintenance"
        s = self._silenced(service_id, rule, at)
        if s is not None:
            return f"silence:{s.id}"
        if rule is Rule.SLO_BURN and self._outage_explains(service_id, at, slo_kind):
            return "outage"
        return None

    def _outage_explains(self, service_id: str, at: datetime, slo_kind: str) -> bool:
        """Whether an outage alert (open, or ended less than AFTER_OUTAGE ago) already tells
        what an SLO alert of ``slo_kind`` would: one fault pages once."""
        if self._is_down(service_id):
            return True
        ended = self.outage_ended.get(service_id)
        return ended is not None and at - ended < AFTER_OUTAGE.get(slo_kind, timedelta(0))

    def _announce_unsuppressed(self, now: datetime) -> None:
        for a in list(self.alerts.values()):
            if a.status is not AlertStatus.FIRING or a.suppressed_by is None or a.sent:
                continue
            if a.resolved_at is not None or self._suppression(
                a.service_id, a.rule, now, str(a.details.get("kind", "page"))
            ):
                continue
            a.suppressed_by = None
            if a.rule is Rule.DOWN:
                a.status, a.group_at = AlertStatus.PENDING, self._window(now, resolves=False)
                self._touch(a)
            elif a.rule is Rule.TLS:
                self._announce(a, now, f"trigger-{a.details.get('threshold_days')}d")
            elif a.rule is Rule.SLO_BURN:
                self._evaluate_slo(a.service_id, now, announce=a)

    def _announce(
        self, a: AlertState, now: datetime, kind: str, verdict: BurnVerdict | None = None
    ) -> None:
        """Announce one (TLS or SLO) alert at once, unless something suppresses it."""
        a.suppressed_by = self._suppression(
            a.service_id, a.rule, now, str(a.details.get("kind", "page"))
        )
        self._touch(a)
        if a.suppressed_by is not None:
            return
        if a.rule is Rule.TLS:
            fields = messages.tls_fields(a, self.services, now, renewed=False)
            event = Event.TLS_EXPIRING
        else:
            assert verdict is not None
            fields = self._slo_message(a, verdict, now, resolved=False)
            event = Event.SLO_BURN
        for c in self.router.channels_for(a.rule, a.service_id, a.severity):
            self._notify(
                c,
                f"{a.alert_id}|{kind}|{c}",
                a.alert_id,
                a.alert_id,
                event,
                Action.TRIGGER,
                a.severity,
                fields,
                now,
            )
            a.sent[c] = a.alert_id

    def _send_resolves(
        self, a: AlertState, fields: dict[str, Any], event: Event, now: datetime
    ) -> None:
        for c, dedup in a.sent.items():
            if self.router.wants_resolve(c):
                self._notify(
                    c,
                    f"{dedup}|resolve|{c}",
                    dedup,
                    a.alert_id,
                    event,
                    Action.RESOLVE,
                    a.severity,
                    fields,
                    now,
                )

    # -- SLO -------------------------------------------------------------------------------

    def _slo_message(
        self, a: AlertState, verdict: BurnVerdict, now: datetime, *, resolved: bool
    ) -> dict[str, Any]:
        info = self.services.get(a.service_id)
        target = info.slo_target if info else 99.9
        period = self.config.slo_budget_period
        runs_out = budget_runs_out_in(
            verdict.long_rate or 0.0, period, self.budget_remaining.get(a.service_id, 1.0)
        )
        return messages.slo_fields(
            a, verdict, target, runs_out, period, self.services, now, resolved
        )

    def _evaluate_slo(
        self, service_id: str, now: datetime, announce: AlertState | None = None
    ) -> None:
        ledger = self.ledgers.get(service_id)
        if ledger is None:
            return
        info = self.services.get(service_id)
        for verdict in evaluate(ledger, info.slo_target if info else 99.9, now):
            subject = f"{service_id}:{verdict.kind}"
            current = next(
                (a for a in self._open(Rule.SLO_BURN, service_id) if a.subject == subject), None
            )
            if verdict.firing and current is None:
                start = now.replace(second=0, microsecond=0)
                severity = Severity.CRITICAL if verdict.kind == "page" else Severity.WARNING
                a = AlertState(
                    alert_id(Rule.SLO_BURN, subject, start),
                    Rule.SLO_BURN,
                    subject,
                    service_id,
                    start,
                    AlertStatus.FIRING,
                    severity,
                    opened_at=now,
                    fired_at=now,
                    details={"kind": verdict.kind},
                )
                self.alerts[a.alert_id] = a
                self._announce(a, now, "trigger", verdict)
            elif verdict.firing and current is announce and current is not None:
                self._announce(current, now, "trigger", verdict)
            elif not verdict.firing and current is not None:
                current.status, current.resolved_at = AlertStatus.RESOLVED, now
                self._touch(current)
                fields = self._slo_message(current, verdict, now, resolved=True)
                self._send_resolves(current, fields, Event.SLO_RECOVERED, now)

    # -- shared lookups ---------------------------------------------------------------------

    def _is_down(self, service_id: str) -> bool:
        return any(a.resolved_at is None for a in self._open(Rule.DOWN, service_id))

    def _down_ancestor(self, service_id: str) -> str | None:
        """The topmost confirmed-down service this one depends on (transitively), or None."""
        found: str | None = None
        seen = {service_id}
        stack = list(self.services[service_id].depends_on) if service_id in self.services else []
        while stack:
            parent = stack.pop()
            if parent in seen:
                continue
            seen.add(parent)
            if self._is_down(parent):
                found = parent
            if parent in self.services:
                stack.extend(self.services[parent].depends_on)
        return found

    def _window(self, at: datetime, *, resolves: bool) -> datetime:
        """The start of the open grouping window ``at`` falls in, or ``at`` (a new window)."""
        span = timedelta(seconds=self.config.grouping_window)
        for a in self.alerts.values():
            waiting = a.resolve_pending if resolves else a.status is AlertStatus.PENDING
            if waiting and a.group_at is not None and a.group_at <= at < a.group_at + span:
                return a.group_at
        return at

    # -- plumbing --------------------------------------------------------------------------

    def _open(self, rule: Rule, service_id: str | None = None) -> list[AlertState]:
        pool = self.alerts.values() if service_id is None else self.alerts.of_service(service_id)
        return [a for a in pool if a.rule is rule and a.open]

    def _notify(
        self,
        channel: str,
        key: str,
        dedup: str,
        alert: str | None,
        event: Event,
        action: Action,
        severity: Severity,
        fields: Mapping[str, Any],
        now: datetime,
    ) -> None:
        if not self.config.enabled:
            return
        full = dict(fields)
        full.update(key=key, dedup_key=dedup, channel=channel, node=self.node, alert_id=alert)
        self._out.notifications.append(
            Notification(key, channel, alert, event, action, severity, dedup, full, now)
        )

    def _touch(self, a: AlertState) -> None:
        self._changed[a.alert_id] = a

    def _end(self) -> Changes:
        out = self._out
        out.states = [a.copy() for a in self._changed.values()]
        for a in self._changed.values():
            if a.status is AlertStatus.RESOLVED and not a.resolve_pending:
                self.alerts.pop(a.alert_id, None)  # the store keeps it; memory keeps open ones
        self._out, self._changed = Changes(), {}
        return out
