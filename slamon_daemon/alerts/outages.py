"""Outages: recovery with its dependents, the grouping of storms into one message per
channel, and reminders (the rules are described in engine.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from . import messages
from .core import EngineCore
from .model import Action, Event, Rule, Severity
from .state import AlertState, AlertStatus, iso


class OutageRules(EngineCore):
    """Down, recovery, storms and reminders over the engine's state."""

    def _recover(self, a: AlertState, at: datetime) -> None:
        self.outage_ended[a.service_id] = at
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
        held: dict[str, list[str]] = {}  # one pass, not one per announced alert
        for x in self._open(Rule.DOWN):
            if x.held_by is not None:
                held.setdefault(x.held_by, []).append(x.service_id)
        dependents = {a.service_id: held.get(a.service_id, []) for a in announced}
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
