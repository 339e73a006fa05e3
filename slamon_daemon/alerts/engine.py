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
              over 3 d and 6 h), evaluated once a minute (burnrate.py) for the services
              with a failure in the last 3 days or an open SLO alert (the others burn 0x).

Suppression never hides data: the alert is kept, with why it was not announced.
  maintenance a window covering the service; silences: matching service globs and rules;
              ``outage``: an SLO alert of a service whose outage alert is open or
              ended less than the kind's longest short window ago (page 30 min, ticket
              6 h): until then the burn is that outage's, already told (core.AFTER_OUTAGE).
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
from dataclasses import replace
from datetime import datetime, timedelta

from ..models import MaintenanceWindow
from . import messages
from .burnrate import SloLedger
from .config import AlertsConfig, ChannelConfig
from .core import AlertMap, Changes, DownService, UnknownAlert
from .model import Action, Event, Rule, Severity
from .outages import OutageRules
from .routing import Router
from .state import AlertState, AlertStatus, IncidentEvent, ServiceInfo, Silence, alert_id, iso

__all__ = ["AlertEngine", "Changes", "DownService", "UnknownAlert"]


class AlertEngine(OutageRules):
    """Alert rules over time. See the module docstring."""

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

    def replace(self, states: Iterable[AlertState], silences: Iterable[Silence]) -> None:
        """The stored alerts and silences, in place of those held (the store is the truth):
        a node that takes the alerts singleton, and the copy a node that does not lead keeps
        for its clients (docs/cluster.md)."""
        self.alerts = AlertMap()
        self.silences = {}
        self.restore(states, silences)

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
            # A service no window sees failing burns at 0x: it can neither fire nor, with
            # no open SLO alert, resolve one; skipping it saves most of the tick at scale.
            open_slo = {a.service_id for a in self._open(Rule.SLO_BURN)}
            for sid, ledger in list(self.ledgers.items()):
                if sid in open_slo or not ledger.quiet(now):
                    self._evaluate_slo(sid, now)
        return self._end()
