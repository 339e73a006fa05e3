"""A small harness around AlertEngine: a settable clock, config from TOML, what was sent."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from slamon_daemon.alerts.config_check import load_alert_settings
from slamon_daemon.alerts.engine import AlertEngine, Changes
from slamon_daemon.alerts.model import Notification
from slamon_daemon.alerts.state import AlertState, ServiceInfo

T0 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)

CHANNELS = """
[[alert_channel]]
id = "chat"
type = "slack"
url = "https://hooks.slack.com/services/T/B/x"

[[alert_channel]]
id = "pager"
type = "pagerduty"
routing_key = "rk"
"""


class Harness:
    """An engine, a clock, and everything it produced so far."""

    def __init__(self, toml: str = CHANNELS, services: Iterable[ServiceInfo] = ()) -> None:
        settings = load_alert_settings(tomllib.loads(toml), "test.toml")
        self.settings = settings
        self.engine = AlertEngine(settings.alerts, settings.alert_channel, services, node="eu-1")
        self.now = T0
        self.sent: list[Notification] = []
        self.states: dict[str, AlertState] = {}  # what a store would hold

    def take(self, changes: Changes) -> list[Notification]:
        self.sent += changes.notifications
        for s in changes.states:
            self.states[s.alert_id] = s
        return changes.notifications

    def at(self, seconds: float) -> datetime:
        return T0 + timedelta(seconds=seconds)

    def tick(self, seconds: float) -> list[Notification]:
        self.now = self.at(seconds)
        return self.take(self.engine.tick(self.now))

    def down(self, sid: str, seconds: float, *, episode: float | None = None, **kw: Any) -> None:
        self.now = self.at(seconds)
        ep = self.at(episode if episode is not None else seconds - 60)
        self.take(self.engine.service_down(sid, ep, self.now, **kw))

    def up(self, sid: str, seconds: float, *, episode: float) -> list[Notification]:
        self.now = self.at(seconds)
        return self.take(self.engine.service_recovered(sid, self.at(episode), self.now))

    def to(self, channel: str) -> list[Notification]:
        return [n for n in self.sent if n.channel_id == channel]


def svc(sid: str, **kw: Any) -> ServiceInfo:
    return ServiceInfo(id=sid, name=kw.pop("name", sid.title()), **kw)
