"""Alert state, silences and what the engine knows of a service: pure data, stored as is.

An alert is one (rule, subject, episode): ``down|core-db|2026-11-22T02:00:00+00:00`` is the
outage of core-db that started then; ``tls|api:14d|<expiry>`` the 14-day warning of one
certificate; ``slo_burn|api:page|<start>`` one burn. The id is made of these stable facts
only, never of a channel's text, so a restart finds its alerts again and editing a channel
orphans nothing.

Status: ``pending`` (confirmed, waiting for its group's window to close), ``firing``
(announced, or held/suppressed and shown as such), ``resolved``. ``resolve_pending`` marks
a resolved alert whose resolve still waits for its group.
"""

from __future__ import annotations

import enum
import fnmatch
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from ..models import parse_ts
from .model import Rule, Severity


class AlertStatus(enum.StrEnum):
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


def iso(at: datetime) -> str:
    return at.isoformat()


def alert_id(rule: Rule, subject: str, episode: datetime) -> str:
    """The stable id of an alert: rule, subject and episode start, nothing else."""
    return f"{rule.value}|{subject}|{iso(episode)}"


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    """What alerting needs of a service (from its config)."""

    id: str
    name: str
    tags: frozenset[str] = frozenset()
    depends_on: tuple[str, ...] = ()
    severity: Severity = Severity.CRITICAL
    channels: tuple[str, ...] | None = None  # alert_channels: these only
    slo_target: float = 99.9


@dataclass(slots=True)
class AlertState:
    """One alert and everything that happened to it (the ``alert_state`` row)."""

    alert_id: str
    rule: Rule
    subject: str
    service_id: str
    episode: datetime
    status: AlertStatus
    severity: Severity
    opened_at: datetime
    details: dict[str, Any] = field(default_factory=dict)
    group_at: datetime | None = None  # the window its trigger (or resolve) waits in
    after_parent: bool = False  # re-opened when its parent recovered
    held_by: str | None = None  # the confirmed-down service it depends on
    suppressed_by: str | None = None  # "maintenance", "silence:<id>", "outage"
    fired_at: datetime | None = None
    sent: dict[str, str] = field(default_factory=dict)  # channel -> dedup_key of its trigger
    reminders: dict[str, int] = field(default_factory=dict)  # channel -> reminders sent
    acked_by: str | None = None
    acked_at: datetime | None = None
    resolved_at: datetime | None = None
    resolve_pending: bool = False

    @property
    def open(self) -> bool:
        return self.status is not AlertStatus.RESOLVED

    def copy(self) -> AlertState:
        return replace(
            self, details=dict(self.details), sent=dict(self.sent), reminders=dict(self.reminders)
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = (
                iso(v) if isinstance(v, datetime) else (v.value if isinstance(v, enum.Enum) else v)
            )
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AlertState:
        def ts(name: str) -> datetime | None:
            v = d.get(name)
            return parse_ts(str(v)) if v else None

        return cls(
            alert_id=str(d["alert_id"]),
            rule=Rule(d["rule"]),
            subject=str(d["subject"]),
            service_id=str(d["service_id"]),
            episode=parse_ts(str(d["episode"])),
            status=AlertStatus(d["status"]),
            severity=Severity(d["severity"]),
            opened_at=parse_ts(str(d["opened_at"])),
            details=dict(d.get("details") or {}),
            group_at=ts("group_at"),
            after_parent=bool(d.get("after_parent")),
            held_by=d.get("held_by"),
            suppressed_by=d.get("suppressed_by"),
            fired_at=ts("fired_at"),
            sent=dict(d.get("sent") or {}),
            reminders={k: int(v) for k, v in (d.get("reminders") or {}).items()},
            acked_by=d.get("acked_by"),
            acked_at=ts("acked_at"),
            resolved_at=ts("resolved_at"),
            resolve_pending=bool(d.get("resolve_pending")),
        )


@dataclass(frozen=True, slots=True)
class Silence:
    """Mute alerts of matching services (globs) and rules (empty: all) until ``expires_at``.

    A silence hides nothing: the alerts it mutes are kept and shown with it, and one still
    firing when it ends is announced then.
    """

    id: int
    services: tuple[str, ...]
    rules: tuple[Rule, ...]
    reason: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    cancelled_at: datetime | None = None

    def active(self, at: datetime) -> bool:
        if self.cancelled_at is not None and self.cancelled_at <= at:
            return False
        return self.created_at <= at < self.expires_at

    def matches(self, service_id: str, rule: Rule, at: datetime) -> bool:
        if not self.active(at):
            return False
        if self.rules and rule not in self.rules:
            return False
        return not self.services or any(fnmatch.fnmatchcase(service_id, g) for g in self.services)


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    """An incident was created, got a customer-visible update, or was resolved."""

    kind: str  # "created" | "updated" | "resolved"
    incident_id: int
    title: str
    status: str
    severity: str  # low | medium | high | critical
    priority: int
    services: tuple[str, ...]
    at: datetime
    message: str = ""
    author: str = ""
    update_id: int | None = None
    customer_visible: bool = True
