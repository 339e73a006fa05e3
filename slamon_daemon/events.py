"""Events the daemon tells its clients about (check, status, incident, presence, maintenance).

Whoever changes something publishes to one ``EventHub``; each transport that streams events
(the feed's subscriptions today) is attached to it as a sink. Publishers never know which
transports exist, and a transport never reaches back into the daemon.
"""

from __future__ import annotations

from typing import Any, Protocol


class Publisher(Protocol):
    """Somewhere to send an event of a topic (protocol.EVENT_TOPICS)."""

    def publish(self, topic: str, data: dict[str, Any]) -> None:
        """Send ``data`` to whoever subscribed to ``topic``; never blocks."""
        ...

    def has_subscribers(self, topic: str) -> bool:
        """Whether anyone would receive an event of ``topic`` (saves building it)."""
        ...


class EventHub:
    """Fans every event out to the attached sinks (a Publisher itself)."""

    def __init__(self) -> None:
        self._sinks: list[Publisher] = []

    def attach(self, sink: Publisher) -> None:
        self._sinks.append(sink)

    def publish(self, topic: str, data: dict[str, Any]) -> None:
        for sink in self._sinks:
            sink.publish(topic, data)

    def has_subscribers(self, topic: str) -> bool:
        # Asked at every check: a loop, not a generator.
        for sink in self._sinks:
            if sink.has_subscribers(topic):
                return True
        return False
