"""Routing: which channels get a notification (see config.py for the rules in words)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from .config import AlertsConfig, ChannelConfig
from .model import Action, Rule, Severity
from .state import ServiceInfo


class Router:
    """Answers "which channels get rule R for service S at severity V"."""

    def __init__(
        self,
        channels: Sequence[ChannelConfig],
        services: Mapping[str, ServiceInfo],
        alerts: AlertsConfig,
    ) -> None:
        self.channels = {c.id: c for c in channels}
        self.services = services
        self.alerts = alerts

    def channels_for(
        self,
        rule: Rule,
        service_id: str | None,
        severity: Severity,
        action: Action = Action.TRIGGER,
    ) -> list[str]:
        """Channel ids, in config order, that take this notification."""
        info = self.services.get(service_id) if service_id else None
        only = set(info.channels) if info is not None and info.channels is not None else None
        out: list[str] = []
        for c in self.channels.values():
            if not c.enabled or rule not in c.rules or severity.rank < c.min_severity.rank:
                continue
            if c.paging and action is Action.INFO:
                continue  # paging channels open and close alerts; they have nothing to update
            if only is not None:
                if c.id not in only:
                    continue
            elif service_id is not None and not c.matches_service(
                service_id, info.tags if info else frozenset()
            ):
                continue
            out.append(c.id)
        return out

    def channels_for_any(
        self, rule: Rule, service_ids: Iterable[str], severity: Severity, action: Action
    ) -> list[str]:
        """Channels that take the notification for at least one of the services."""
        ids = list(service_ids)
        if not ids:
            return self.channels_for(rule, None, severity, action)
        seen: dict[str, None] = {}
        for sid in ids:
            for c in self.channels_for(rule, sid, severity, action):
                seen.setdefault(c)
        return [c for c in self.channels if c in seen]

    def wants_resolve(self, channel_id: str) -> bool:
        c = self.channels.get(channel_id)
        return c is not None and c.enabled and c.send_recovery

    def reminder_interval(self, channel_id: str) -> float | None:
        c = self.channels.get(channel_id)
        if c is None or not c.enabled or Rule.REMINDER not in c.rules:
            return None
        return c.reminder_interval(self.alerts)

    def is_paging(self, channel_id: str) -> bool:
        c = self.channels.get(channel_id)
        return c is not None and c.paging
