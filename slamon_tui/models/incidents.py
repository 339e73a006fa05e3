"""What the incident screens know, without Textual or I/O: words, ages, the active
incidents folded from events, presence, and the field-by-field comparison of a conflict.

Incidents are the dicts of docs/feed.md (``incident.get`` / ``incident.list`` / events).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from slamon_daemon.models import INCIDENT_STATUSES, SEVERITIES, parse_ts
from slamon_daemon.text import duration, relative

PRIORITIES = ("P1", "P2", "P3", "P4")
RESPONSE_TARGETS = {"P1": "15 min", "P2": "1 h", "P3": "4 h", "P4": "24 h"}
"""Time to the first update, per priority (SPEC §3.6); the daemon computes ``response_due``."""
STATUSES = INCIDENT_STATUSES
ACTIVE_STATUSES = tuple(s for s in INCIDENT_STATUSES if s != "resolved")
SEVERITY_LEVELS = tuple(reversed(SEVERITIES))
"""critical first."""
OVERDUE_MARK = "⚠ OVERDUE"
STATUS_SHORT = {
    "investigating": "investig.",
    "identified": "identified",
    "monitoring": "monitoring",
    "resolved": "resolved",
}

FIELD_LABELS: dict[str, str] = {
    "title": "Title",
    "description": "Description",
    "status": "Status",
    "severity": "Severity",
    "priority": "Priority",
    "impact": "Impact",
    "root_cause": "Root cause",
    "resolution_notes": "Resolution notes",
    "services": "Affected services",
    "started_at": "Started at",
    "updates": "Timeline updates",
    "message": "Update",
}
TEXT_FIELDS = ("description", "impact", "root_cause", "resolution_notes")
"""Free-text fields: a conflict on one may keep both texts."""
EDITABLE_FIELDS = (
    "title",
    "description",
    "status",
    "severity",
    "priority",
    "impact",
    "root_cause",
    "resolution_notes",
    "services",
    "started_at",
)


# --- times ---------------------------------------------------------------------------------


def _ts(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return parse_ts(str(value)).astimezone(UTC)
    except ValueError:
        return None


def span_text(seconds: float) -> str:
    """A span for a table cell, in the compact form of slamon_daemon/text.py: "12m", "2d04h"."""
    return duration(seconds, compact=True)


def age_text(incident: dict[str, Any], now: datetime) -> str:
    """Since it started (active) or how long it lasted (resolved)."""
    if incident.get("status") == "resolved":
        if incident.get("duration_s") is not None:
            return span_text(float(incident["duration_s"]))
        start, end = _ts(incident.get("started_at")), _ts(incident.get("resolved_at"))
        return span_text((end - start).total_seconds()) if start and end else "—"
    start = _ts(incident.get("started_at"))
    return span_text((now - start).total_seconds()) if start else "—"


def ago_text(value: Any, now: datetime) -> str:
    """How long ago a time was: "3m ago" ("in 3m" for a time to come), "never" without one."""
    at = _ts(value)
    if at is None:
        return "never"
    return relative(at, now)


def when_text(value: Any, now: datetime) -> str:
    """A UTC time with how far it is: "Nov 21 23:01 UTC (12m ago)", "14:27 UTC (in 14m)",
    "—" without one."""
    at = _ts(value)
    if at is None:
        return "—"
    clock = f"{at:%H:%M} UTC" if at.date() == now.date() else f"{at:%Y-%m-%d %H:%M} UTC"
    return f"{clock} ({relative(at, now)})"


def is_overdue(incident: dict[str, Any], now: datetime) -> bool:
    """Active, no update yet and past its response target (the daemon's flag, kept current)."""
    if incident.get("status") == "resolved" or incident.get("first_update_at"):
        return False
    if incident.get("overdue"):
        return True
    due = _ts(incident.get("response_due"))
    return due is not None and now > due


def last_update_text(incident: dict[str, Any], now: datetime) -> str:
    """When the timeline last moved ("3m ago"), or "no update" for none."""
    if not incident.get("last_update_at"):
        return "no update"
    return ago_text(incident.get("last_update_at"), now)


def services_text(incident: dict[str, Any], names: dict[str, str] | None = None) -> str:
    """The affected services by name, comma separated ("—" for none)."""
    ids = [str(x) for x in incident.get("services") or []]
    if not ids:
        return "—"
    return ", ".join((names or {}).get(x, x) for x in ids)


def sort_key(incident: dict[str, Any], now: datetime) -> tuple[int, str, float]:
    """Overdue first, then by priority (P1 first), then the newest."""
    start = _ts(incident.get("started_at"))
    return (
        0 if is_overdue(incident, now) else 1,
        str(incident.get("priority") or "P9"),
        -(start.timestamp() if start else 0.0),
    )


# --- the active incidents, kept current by events --------------------------------------------


@dataclass(slots=True)
class ActiveIncidents:
    """Active incidents by id, from a list (status.get / incident.list) and ``incident`` events.

    Versions only go forward: an answer computed before an event that was already applied
    does not bring the older state back.
    """

    items: dict[int, dict[str, Any]] = field(default_factory=dict)
    versions: dict[int, int] = field(default_factory=dict)

    def replace(self, incidents: list[dict[str, Any]] | None) -> None:
        """Everything active now, as a list answer says."""
        fresh: dict[int, dict[str, Any]] = {}
        for inc in incidents or []:
            iid = int(inc["id"])
            seen = self.versions.get(iid, 0)
            if int(inc.get("version") or 0) < seen:
                if iid in self.items:
                    fresh[iid] = self.items[iid]
                continue
            self.versions[iid] = int(inc.get("version") or 0)
            if inc.get("status") != "resolved":
                fresh[iid] = inc
        self.items = fresh

    def apply_event(self, data: dict[str, Any]) -> bool:
        """Fold an ``incident`` event in; True when the list changed."""
        inc = data.get("incident")
        if not isinstance(inc, dict) or "id" not in inc:
            return False
        iid = int(inc["id"])
        version = int(inc.get("version") or 0)
        if version < self.versions.get(iid, 0):
            return False
        self.versions[iid] = version
        if inc.get("status") == "resolved":
            return self.items.pop(iid, None) is not None
        self.items[iid] = inc
        return True

    def ordered(self, now: datetime) -> list[dict[str, Any]]:
        """Overdue first, then by priority, then the newest."""
        return sorted(self.items.values(), key=lambda i: sort_key(i, now))


# --- presence ---------------------------------------------------------------------------------


@dataclass(slots=True)
class PresenceBoard:
    """Who else views or edits one incident (and which field), from ``presence`` events."""

    incident_id: int
    own_session: Any = None
    """Our own connection's session (from presence.set): never shown as "someone else"."""
    entries: dict[Any, dict[str, Any]] = field(default_factory=dict)

    def replace(self, presence: list[dict[str, Any]] | None) -> None:
        """The incident's presence list (incident.get / presence.list)."""
        self.entries = {
            p.get("session"): p
            for p in presence or []
            if p.get("incident_id") in (None, self.incident_id)
        }

    def apply_event(self, data: dict[str, Any]) -> bool:
        """Fold a ``presence`` event in; True when what is shown may have changed."""
        p = data.get("presence")
        if not isinstance(p, dict):
            return False
        session = p.get("session")
        if data.get("action") == "cleared" or p.get("incident_id") != self.incident_id:
            # A session has one presence: set on another incident ends it here too.
            return self.entries.pop(session, None) is not None
        self.entries[session] = p
        return True

    def others(self) -> list[dict[str, Any]]:
        """Everyone but us, editors first, then by name."""
        shown = [p for k, p in self.entries.items() if k != self.own_session]
        return sorted(shown, key=lambda p: (p.get("mode") != "editing", str(p.get("user"))))

    def editors_of(self, field_name: str) -> list[str]:
        """The names of others editing ``field_name``."""
        return [
            str(p.get("user"))
            for p in self.others()
            if p.get("mode") == "editing" and p.get("field") == field_name
        ]

    def text(self) -> str:
        """ "bob is editing title · carol is viewing", or "" when nobody else is here."""
        parts = []
        for p in self.others():
            who = str(p.get("user") or "someone")
            if p.get("mode") == "editing":
                what = FIELD_LABELS.get(str(p.get("field")), str(p.get("field") or "")).lower()
                parts.append(f"✎ {who} is editing {what}".rstrip())
            else:
                parts.append(f"◉ {who} is viewing")
        return " · ".join(parts)


# --- conflicts --------------------------------------------------------------------------------


def same_value(a: Any, b: Any) -> bool:
    """Equal as the daemon stores them (services in any order, priority 2 or "P2")."""
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return sorted(map(str, a)) == sorted(map(str, b))
    return bool(normalise(a) == normalise(b))


def normalise(value: Any) -> Any:
    """A priority as "P2" whether sent as 2 or "P2"; None as "" (an empty text field)."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 4:
        return f"P{value}"
    if value is None:
        return ""
    return value


def value_text(name: str, value: Any, names: dict[str, str] | None = None) -> str:
    """A field's value as a person reads it ("(empty)" for nothing)."""
    if name == "services":
        return services_text({"services": value or []}, names)
    if value is None or value == "":
        return "(empty)"
    return str(value)


@dataclass(slots=True)
class ConflictField:
    """One field of a conflict: what it was when the editor loaded, theirs now, and yours.

    ``kind``: "both" (both changed it, differently: the user must choose), "yours" (only you
    changed it), "theirs" (only they did: theirs is kept, nothing to choose), "same" (both
    made the same change).
    """

    name: str
    base: Any
    theirs: Any
    yours: Any
    kind: str

    @property
    def label(self) -> str:
        return FIELD_LABELS.get(self.name, self.name)

    @property
    def needs_choice(self) -> bool:
        return self.kind in ("both", "yours")

    @property
    def can_keep_both(self) -> bool:
        return self.name in TEXT_FIELDS and self.kind == "both"


def conflict_fields(
    base: dict[str, Any],
    yours: dict[str, Any],
    current: dict[str, Any],
    changed_fields: list[str] | None = None,
) -> list[ConflictField]:
    """Compare the editor's start (``base``), what the user has now (``yours``: the fields
    the editor holds) and the incident now (``current``, from the conflict's data).

    Every field either side changed is listed, in the editor's order; a field only someone
    else changed that the editor does not hold (e.g. "updates") is listed as "theirs".
    """
    out: list[ConflictField] = []
    order = [f for f in EDITABLE_FIELDS if f in yours]
    order += [f for f in changed_fields or [] if f not in order]
    for name in order:
        if name not in yours:
            out.append(ConflictField(name, base.get(name), current.get(name), None, "theirs"))
            continue
        mine_changed = not same_value(yours[name], base.get(name))
        theirs_changed = not same_value(current.get(name), base.get(name))
        if not mine_changed and not theirs_changed:
            continue
        if mine_changed and theirs_changed:
            kind = "same" if same_value(yours[name], current.get(name)) else "both"
        else:
            kind = "yours" if mine_changed else "theirs"
        out.append(ConflictField(name, base.get(name), current.get(name), yours[name], kind))
    return out


def merged_text(theirs: Any, yours: Any) -> str:
    """Both texts, theirs first: what "keep both" saves."""
    a, b = str(theirs or "").rstrip(), str(yours or "").strip()
    return f"{a}\n\n{b}" if a else b


def resolve_conflict(
    fields: list[ConflictField],
    choices: dict[str, str],
    yours: dict[str, Any],
    base: dict[str, Any],
    current: dict[str, Any],
) -> dict[str, Any]:
    """The values the editor should hold after the user's choices, on top of ``current``.

    ``choices``: field -> "theirs" | "yours" | "both". A field the user did not change
    follows theirs (so saving never brings an old value back); a field with no choice keeps
    the user's value.
    """
    by_name = {f.name: f for f in fields}
    out: dict[str, Any] = {}
    for name, mine in yours.items():
        f = by_name.get(name)
        if not same_value(mine, base.get(name)) and f is None:
            out[name] = mine  # changed by the user only, and theirs is still the base
            continue
        if f is None or f.kind in ("theirs", "same"):
            out[name] = current.get(name, mine)
            continue
        choice = choices.get(name, "yours")
        if choice == "theirs":
            out[name] = current.get(name)
        elif choice == "both" and f.can_keep_both:
            out[name] = merged_text(current.get(name), mine)
        else:
            out[name] = mine
    return out


def changes_between(base: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``values`` that differ from ``base``: what a save sends."""
    return {k: v for k, v in values.items() if not same_value(v, base.get(k))}
