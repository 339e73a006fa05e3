"""The alert engine: events and time in, notifications and alert-state changes out. No I/O.

The daemon calls it from one task: ``service_down`` / ``service_recovered`` at confirmed
transitions, ``incident``, ``certificate`` (the earliest expiry of a chain), ``record_check``
(SLO ledger), ``acknowledge``, silences and maintenance as they change, and ``tick(now)``
about once a second. Each call returns ``Changes``: notifications to enqueue (each with a
stable key the outbox deduplicates) and the alert states to upsert — both written in one
transaction, so a crash loses neither or both.

Rules
  down        a service confirmed down (after confirm_failures) opens an alert ``pending``;
              it is announced when its grouping window (``grouping_window`` after the first
              of a storm) closes: one message per channel for every service of the window.
  recovery    a resolve goes to every channel that got the trigger (unless it set
              ``send_recovery = false``), grouped by window like triggers; a paging channel
              gets the resolve of a storm's dedup_key once every service in it is up.
  reminder    every ``reminder_every`` while an announced outage is unacknowledged, per
              channel (off by default for paging channels); due reminders of one channel at
              one tick make one message.
  incident    created, customer-visible update, resolved: at once, routed by the incident's
              services; paging channels get created (trigger) and resolved only.
  tls         the earliest expiry of a certificate chain within ``tls_expiry_days`` (14 and
              3 by default); one alert per certificate, raised again at each lower threshold
              with the same dedup key, resolved when a later expiry is seen.
  slo_burn    page (14.4x over 1 h and 5 min, or 6x over 6 h and 30 min) and ticket (1x
              over 3 d and 6 h), evaluated once a minute (burnrate.py).

Suppression never hides data: the alert is kept, with why it was not announced.
  maintenance a window covering the service; silences: matching service globs and rules;
              ``outage``: an SLO alert of a service whose outage alert is open.
              When the window or silence ends and the alert still stands, it is announced.
  depends_on  while a parent is confirmed down its children are held (``held_by``) and
              folded into the parent's message ("core-db down; 7 dependent services
              affected: ..."). When the parent recovers, a child still down re-opens as
              ``pending`` and alerts on its own after a grouping window — unless it recovers
              within that window (children usually follow their parent back up).
  ack         an acknowledged alert gets no more reminders; who and when are kept.

Keys (never derived from a channel's text): the alert id is (rule, subject, episode start);
a notification key is (dedup key, kind, channel), the dedup key being the alert id or, for
a storm, (rule, window start, channel). Restoring the open alerts after a restart and
replaying events yields the same keys, so nothing is sent twice and nothing is forgotten.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from ..errors import SlamonError
from ..models import MaintenanceWindow
from . import messages
from .burnrate import BurnVerdict, SloLedger, budget_runs_out_in, evaluate
from .config import AlertsConfig, ChannelConfig
from .model import Action, Event, Notification, Rule, Severity
from .routing import Router
from .state import AlertState, AlertStatus, IncidentEvent, ServiceInfo, Silence, alert_id, iso


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


class AlertEngine:
    """Alert rules over time. See the module docstring."""

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
        self.alerts: dict[str, AlertState] = {}
        self.silences: dict[int, Silence] = {}
        self.maintenance: list[MaintenanceWindow] = []
        self.ledgers: dict[str, SloLedger] = {}
        self.budget_remaining: dict[str, float] = {}
        self._slo_minute: int | None = None
        self._out = Changes()
        self._changed: dict[str, AlertState] = {}

    # -- configuration ---------------------------------------------------------------------

    def configure(
        self,
        alerts: AlertsConfig,
        channels: Sequence[ChannelConfig],
        services: Iterable[ServiceInfo],
    ) -> None:
        """New settings (reload): alert state is kept."""
        self.config = alerts
        self.services = {s.id: s for s in services}
        self.router = Router(channels, self.services, alerts)

    def set_maintenance(self, windows: Sequence[MaintenanceWindow]) -> None:
        self.maintenance = list(windows)

    def add_silence(self, silence: Silence) -> None:
        self.silences[silence.id] = silence

    def cancel_silence(self, silence_id: int, at: datetime) -> None:
        s = self.silences.get(silence_id)
        if s is not None:
            self.silences[silence_id] = replace(s, cancelled_at=at)

    def restore(self, states: Iterable[AlertState], silences: Iterable[Silence] = ()) -> None:
        """Load the stored open alerts (and those whose resolve is pending) after a start."""
        for a in states:
            if a.open or a.resolve_pending:
                self.alerts[a.alert_id] = a.copy()
        for s in silences:
            self.silences[s.id] = s

    # -- events ----------------------------------------------------------------------------

    def service_down(
        self,
        service_id: str,
        episode: datetime,
        at: datetime,
        *,
        cause: str | None = None,
        error: str | None = None,
    ) -> Changes:
        """A service was confirmed down (the outage episode started at ``episode``)."""
        aid = alert_id(Rule.DOWN, service_id, episode)
        if aid in self.alerts:
            return self._end()
        for old in self._open(Rule.DOWN, service_id):
            self._recover(old, at)  # a stale outage the state machine has left behind
        info = self.services.get(service_id)
        a = AlertState(
            alert_id=aid,
            rule=Rule.DOWN,
            subject=service_id,
            service_id=service_id,
            episode=episode,
            status=AlertStatus.PENDING,
            severity=info.severity if info else Severity.CRITICAL,
            opened_at=at,
            details={"cause": cause, "error": error},
            group_at=self._window(at, resolves=False),
        )
        self.alerts[aid] = a
        self._touch(a)
        return self._end()

    def service_recovered(self, service_id: str, episode: datetime, at: datetime) -> Changes:
        """A service's recovery was confirmed (its outage episode ended at ``at``)."""
        a = self.alerts.get(alert_id(Rule.DOWN, service_id, episode))
        candidates = [a] if a is not None and a.open else self._open(Rule.DOWN, service_id)
        for x in candidates:
            self._recover(x, at)
        return self._end()

    def reconcile(self, now: datetime, down: Mapping[str, DownService]) -> Changes:
        """After a start: align the restored alerts with what the live state holds down."""
        for a in [a for a in self.alerts.values() if a.rule is Rule.DOWN and a.open]:
            d = down.get(a.service_id)
            if a.resolved_at is None and (d is None or d.episode != a.episode):
                self._recover(a, now)
        for sid, d in down.items():
            self.service_down(sid, d.episode, now, cause=d.cause, error=d.error)
        return self._end()

    def acknowledge(self, alert_id_: str, by: str, at: datetime) -> Changes:
        """Stop the reminders of an open alert; who and when are kept.

        Raises:
            UnknownAlert: no open alert has this id.
        """
        a = self.alerts.get(alert_id_)
        if a is None or not a.open:
            raise UnknownAlert(f"no open alert {alert_id_!r}")
        if a.acked_by is None:
            a.acked_by, a.acked_at = by, at
            self._touch(a)
        return self._end()

    def incident(self, event: IncidentEvent) -> Changes:
        """An incident was created, updated (customer-visible updates only) or resolved."""
        if event.kind == "updated" and not event.customer_visible:
            return self._end()
        if event.services and all(
            self._silenced(s, Rule.INCIDENT, event.at) for s in event.services
        ):
            return self._end()
        ev, action, fields = messages.incident_fields(event)
        severity = Severity(fields["severity"])
        kind = {"created": "created", "resolved": "resolved"}.get(
            event.kind, f"update-{event.update_id or iso(event.at)}"
        )
        dedup = f"incident|{event.incident_id}"
        for c in self.router.channels_for_any(Rule.INCIDENT, event.services, severity, action):
            if action is Action.RESOLVE and not self.router.wants_resolve(c):
                continue
            self._notify(
                c, f"{dedup}|{kind}|{c}", dedup, None, ev, action, severity, fields, event.at
            )
        return self._end()

    def certificate(self, service_id: str, expires_at: datetime, at: datetime) -> Changes:
        """The earliest expiry of the certificate chain a service presented at ``at``."""
        for old in self._open(Rule.TLS, service_id):
            if expires_at > old.episode:  # renewed
                old.status, old.resolved_at = AlertStatus.RESOLVED, at
                old.details["renewed_until"] = iso(expires_at)
                self._touch(old)
                fields = messages.tls_fields(old, self.services, at, renewed=True)
                self._send_resolves(old, fields, Event.TLS_RENEWED, at)
        days_left = (expires_at - at).total_seconds() / 86400
        crossed = [t for t in self.config.tls_expiry_days if days_left <= t]
        if not crossed:
            return self._end()
        threshold = min(crossed)
        aid = alert_id(Rule.TLS, service_id, expires_at)
        known = self.alerts.get(aid)
        if known is not None and int(known.details.get("threshold_days", 0)) <= threshold:
            return self._end()
        severity = Severity.CRITICAL if threshold <= 3 else Severity.WARNING
        a = known
        if a is None:  # noqa: SIM108
            a = AlertState(
                aid,
                Rule.TLS,
                service_id,
                service_id,
                expires_at,
                AlertStatus.FIRING,
                severity,
                opened_at=at,
            )
            self.alerts[aid] = a
        a.severity = severity
        a.details["threshold_days"] = threshold
        a.fired_at = at
        self._announce(a, at, f"trigger-{threshold}d")
        return self._end()

    def record_check(
        self, service_id: str, at: datetime, failed: bool, maintenance: bool = False
    ) -> None:
        """Count a check in the service's SLO ledger (maintenance checks count for nothing)."""
        if maintenance:
            return
        ledger = self.ledgers.get(service_id)
        if ledger is None:
            ledger = self.ledgers[service_id] = SloLedger()
        ledger.add(at, failed)

    def seed_slo(
        self,
        service_id: str,
        hours: Iterable[tuple[datetime, int, int]],
        recent: Iterable[tuple[datetime, bool]],
    ) -> None:
        """After a start: hourly (start, bad, total) from rollups, then the last 6 h of checks."""
        ledger = self.ledgers.setdefault(service_id, SloLedger())
        for start, bad, total in hours:
            ledger.seed_hour(start, bad, total)
        for at, failed in recent:
            ledger.add(at, failed, hours=False)

    # -- time ------------------------------------------------------------------------------

    def tick(self, now: datetime) -> Changes:
        """Close due grouping windows, announce what suppression no longer hides, remind,
        and evaluate burn rates once a minute."""
        window = timedelta(seconds=self.config.grouping_window)
        pending = sorted(
            {
                a.group_at
                for a in self.alerts.values()
                if a.status is AlertStatus.PENDING and a.group_at
            },
        )
        for g in pending:
            if now >= g + window:
                self._flush_down(g, now)
        resolving = sorted(
            {a.group_at for a in self.alerts.values() if a.resolve_pending and a.group_at}
        )
        for g in resolving:
            if now >= g + window:
                self._flush_resolves(g, now)
        self._announce_unsuppressed(now)
        self._remind(now)
        minute = int(now.timestamp() // 60)
        if self.config.slo_alerts and minute != self._slo_minute:
            self._slo_minute = minute
            for sid in list(self.ledgers):
                self._evaluate_slo(sid, now)
        return self._end()

    # -- down and recovery -----------------------------------------------------------------

    def _window(self, at: datetime, *, resolves: bool) -> datetime:
        """The start of the open grouping window ``at`` falls in, or ``at`` (a new window)."""
        span = timedelta(seconds=self.config.grouping_window)
        for a in self.alerts.values():
            waiting = a.resolve_pending if resolves else a.status is AlertStatus.PENDING
            if waiting and a.group_at is not None and a.group_at <= at < a.group_at + span:
                return a.group_at
        return at

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

    def _recover(self, a: AlertState, at: datetime) -> None:
        if a.status is AlertStatus.PENDING:
            if a.after_parent:
                a.status, a.resolved_at, a.group_at = AlertStatus.RESOLVED, at, None
            else:
                a.resolved_at = at  # confirmed, so still announced: "down …; recovered at …"
        elif a.status is AlertStatus.FIRING:
            a.status, a.resolved_at = AlertStatus.RESOLVED, at
            if a.sent:
                a.resolve_pending, a.group_at = True, self._window(at, resolves=True)
        self._touch(a)
        for child in [x for x in self._open(Rule.DOWN) if x.held_by == a.service_id]:
            parent = self._down_ancestor(child.service_id)
            if parent is not None:
                child.held_by = parent
                self._hold(child, parent)
            elif child.resolved_at is None:
                child.held_by, child.status, child.after_parent = None, AlertStatus.PENDING, True
                child.group_at = self._window(at, resolves=False)
            self._touch(child)

    def _hold(self, child: AlertState, parent: str) -> None:
        for p in self._open(Rule.DOWN, parent):
            held = set(p.details.get("held", []))
            if child.service_id not in held:
                p.details["held"] = sorted(held | {child.service_id})
                self._touch(p)

    def _flush_down(self, g: datetime, now: datetime) -> None:
        members = [
            a for a in self.alerts.values() if a.status is AlertStatus.PENDING and a.group_at == g
        ]
        announced: list[AlertState] = []
        for a in members:
            a.status, a.group_at, a.fired_at = AlertStatus.FIRING, None, now
            parent = self._down_ancestor(a.service_id)
            a.held_by = parent
            a.suppressed_by = None if parent else self._suppression(a.service_id, Rule.DOWN, now)
            if parent:
                self._hold(a, parent)
            elif a.suppressed_by is None:
                announced.append(a)
            self._touch(a)
        dependents = {
            a.service_id: [x.service_id for x in self._open(Rule.DOWN) if x.held_by == a.service_id]
            for a in announced
        }
        per_channel: dict[str, list[AlertState]] = {}
        for a in announced:
            for c in self.router.channels_for(Rule.DOWN, a.service_id, a.severity):
                per_channel.setdefault(c, []).append(a)
        for c, group in per_channel.items():
            dedup = group[0].alert_id if len(group) == 1 else f"down|group|{iso(g)}|{c}"
            fields = messages.down_fields(group, dependents, self.services, now)
            severity = Severity(fields["severity"])
            aid = group[0].alert_id if len(group) == 1 else None
            self._notify(
                c,
                f"{dedup}|trigger|{c}",
                dedup,
                aid,
                Event.DOWN,
                Action.TRIGGER,
                severity,
                fields,
                now,
            )
            for a in group:
                a.sent[c] = dedup
        for a in members:  # recovered within the window: resolve now that it was announced
            if a.resolved_at is not None:
                a.status = AlertStatus.RESOLVED
                if a.sent:
                    a.resolve_pending, a.group_at = True, self._window(now, resolves=True)

    def _flush_resolves(self, g: datetime, now: datetime) -> None:
        members = [a for a in self.alerts.values() if a.resolve_pending and a.group_at == g]
        chat: dict[str, list[AlertState]] = {}
        paging: dict[tuple[str, str], list[AlertState]] = {}
        for a in members:
            a.resolve_pending, a.group_at = False, None
            self._touch(a)
            for c, dedup in a.sent.items():
                if not self.router.wants_resolve(c):
                    continue
                if self.router.is_paging(c):
                    paging.setdefault((c, dedup), []).append(a)
                else:
                    chat.setdefault(c, []).append(a)
        first = len(self._out.notifications)
        for (c, dedup), group in paging.items():
            if any(x.open and x.sent.get(c) == dedup for x in self.alerts.values()):
                continue  # the rest of the storm is still down: resolve with the last one
            fields = messages.recovery_fields(
                group, [], self._dependents_note(group), self.services, now
            )
            self._notify(
                c,
                f"{dedup}|resolve|{c}",
                dedup,
                group[0].alert_id if len(group) == 1 else None,
                Event.RECOVERY,
                Action.RESOLVE,
                Severity(fields["severity"]),
                fields,
                now,
            )
        for c, group in chat.items():
            dedups = {a.sent[c] for a in group}
            still = sorted({x.service_id for x in self._open(Rule.DOWN) if x.sent.get(c) in dedups})
            fields = messages.recovery_fields(
                group, still, self._dependents_note(group), self.services, now
            )
            if len(group) == 1:
                key, dedup = f"{group[0].alert_id}|resolve|{c}", group[0].sent[c]
            else:
                key, dedup = f"recovery|group|{iso(g)}|{c}|resolve", f"recovery|group|{iso(g)}|{c}"
            self._notify(
                c,
                key,
                dedup,
                group[0].alert_id if len(group) == 1 else None,
                Event.RECOVERY,
                Action.RESOLVE,
                Severity(fields["severity"]),
                fields,
                now,
            )
        order = {c: i for i, c in enumerate(self.router.channels)}
        self._out.notifications[first:] = sorted(
            self._out.notifications[first:], key=lambda n: order.get(n.channel_id, len(order))
        )

    def _dependents_note(self, group: Sequence[AlertState]) -> str:
        held = sorted({d for a in group for d in a.details.get("held", [])})
        if not held:
            return ""
        still = [d for d in held if self._is_down(d)]
        note = f"{len(held)} dependent services: {len(held) - len(still)} recovered"
        if still:
            note += f", {len(still)} still down and alerting on their own: {', '.join(still)}"
        return note

    # -- reminders, suppression, single alerts ---------------------------------------------

    def _remind(self, now: datetime) -> None:
        for c in self.router.channels:
            interval = self.router.reminder_interval(c)
            if interval is None:
                continue
            due = [
                a
                for a in self._open(Rule.DOWN)
                if c in a.sent
                and a.status is AlertStatus.FIRING
                and a.acked_by is None
                and a.resolved_at is None
                and a.fired_at is not None
                and now >= a.fired_at + timedelta(seconds=interval * (a.reminders.get(c, 0) + 1))
                and self._suppression(a.service_id, Rule.REMINDER, now) is None
            ]
            if not due:
                continue
            number = due[0].reminders.get(c, 0) + 1
            fields = messages.reminder_fields(due, number, self.services, now)
            key = f"{due[0].alert_id}|reminder-{number}|{c}" + (
                f"|{len(due)}" if len(due) > 1 else ""
            )
            self._notify(
                c,
                key,
                due[0].sent[c],
                due[0].alert_id if len(due) == 1 else None,
                Event.REMINDER,
                Action.TRIGGER,
                Severity(fields["severity"]),
                fields,
                now,
            )
            for a in due:
                a.reminders[c] = a.reminders.get(c, 0) + 1
                self._touch(a)

    def _silenced(self, service_id: str, rule: Rule, at: datetime) -> Silence | None:
        return next((s for s in self.silences.values() if s.matches(service_id, rule, at)), None)

    def _suppression(self, service_id: str, rule: Rule, at: datetime) -> str | None:
        if any(w.covers(service_id, at) for w in self.maintenance):
            return "maintenance"
        s = self._silenced(service_id, rule, at)
        if s is not None:
            return f"silence:{s.id}"
        if rule is Rule.SLO_BURN and self._is_down(service_id):
            return "outage"
        return None

    def _announce_unsuppressed(self, now: datetime) -> None:
        for a in list(self.alerts.values()):
            if a.status is not AlertStatus.FIRING or a.suppressed_by is None or a.sent:
                continue
            if a.resolved_at is not None or self._suppression(a.service_id, a.rule, now):
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
        a.suppressed_by = self._suppression(a.service_id, a.rule, now)
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
            current = next((a for a in self._open(Rule.SLO_BURN) if a.subject == subject), None)
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

    # -- plumbing --------------------------------------------------------------------------

    def _open(self, rule: Rule, service_id: str | None = None) -> list[AlertState]:
        return [
            a
            for a in self.alerts.values()
            if a.rule is rule and a.open and (service_id is None or a.service_id == service_id)
        ]

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
