"""Values of the alerting capability: severities, rules, notifications and delivery results.

Pure data: no I/O. A ``Notification`` is what the engine hands to the outbox, one per
channel; its ``fields`` are the documented template fields (``fields.py``), JSON-able, so the
outbox stores them as they are and a channel renders them when it sends.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Severity(enum.StrEnum):
    """How bad a notification is; channels take those at or above their ``min_severity``."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class Rule(enum.StrEnum):
    """What an alert is about; a channel's ``rules`` pick the ones it gets."""

    DOWN = "down"  # confirmed outage (after confirm_failures)
    REMINDER = "reminder"  # still down after reminder_every
    INCIDENT = "incident"  # incident created, customer-visible update, resolved
    TLS = "tls"  # certificate (earliest expiry in the chain) within N days
    SLO_BURN = "slo_burn"  # error budget burning (multi-window, multi-burn-rate)


class Action(enum.StrEnum):
    """What a notification does to the alert it is about (paging channels act on it)."""

    TRIGGER = "trigger"  # opens (or repeats) an alert
    RESOLVE = "resolve"  # closes it
    INFO = "info"  # tells without changing it (incident update)


class Event(enum.StrEnum):
    """The ``event`` template field: which rule fired and how."""

    DOWN = "down"
    RECOVERY = "recovery"
    REMINDER = "reminder"
    INCIDENT_CREATED = "incident_created"
    INCIDENT_UPDATED = "incident_updated"
    INCIDENT_RESOLVED = "incident_resolved"
    TLS_EXPIRING = "tls_expiring"
    TLS_RENEWED = "tls_renewed"
    SLO_BURN = "slo_burn"
    SLO_RECOVERED = "slo_recovered"
    TEST = "test"


@dataclass(frozen=True, slots=True)
class Notification:
    """One message for one channel, as enqueued in the outbox.

    ``key`` is stable: the same (rule, subject, episode, kind, channel) always gives the same
    key, and the outbox ignores a key it already holds, so nothing is sent twice.
    """

    key: str
    channel_id: str
    alert_id: str | None
    event: Event
    action: Action
    severity: Severity
    dedup_key: str
    fields: Mapping[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What one send attempt got. ``error`` and ``answer`` never contain a secret.

    ``code`` is the HTTP status or the SMTP reply code (None when there was no answer).
    A failure is ``permanent`` when repeating the same request cannot succeed (an HTTP 4xx
    other than 408 and 429, an SMTP 5xx, a template that does not render); otherwise it is
    retried. ``retry_after_s`` is the receiver's Retry-After (seconds) on 429 and 503.
    """

    ok: bool
    code: int | None
    latency_ms: float
    error: str | None = None
    retry_after_s: float | None = None
    permanent: bool = False
    answer: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "code": self.code,
            "latency_ms": round(self.latency_ms, 3),
            "error": self.error,
            "retry_after_s": self.retry_after_s,
            "permanent": self.permanent,
            "answer": self.answer,
        }


@dataclass(frozen=True, slots=True)
class Message:
    """A typed view of the template fields that the built-in channels read."""

    event: Event
    action: Action
    severity: Severity
    title: str
    text: str
    at: str
    dedup_key: str
    key: str
    services: tuple[Mapping[str, Any], ...] = ()
    fields: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Message:
        return cls(
            event=Event(fields["event"]),
            action=Action(fields["action"]),
            severity=Severity(fields["severity"]),
            title=str(fields["title"]),
            text=str(fields["text"]),
            at=str(fields["at"]),
            dedup_key=str(fields["dedup_key"]),
            key=str(fields["key"]),
            services=tuple(fields.get("services") or ()),
            fields=fields,
        )

    @property
    def source(self) -> str:
        """Where the problem is, for receivers that want one name: the first service."""
        if self.services:
            return str(self.services[0].get("id") or "slamon")
        incident = self.fields.get("incident")
        if isinstance(incident, Mapping):
            return f"incident-{incident.get('id')}"
        return str(self.fields.get("node") or "slamon")
