"""PagerDuty Events API v2: trigger and resolve with a stable dedup_key.

https://developer.pagerduty.com/docs/events-api-v2/trigger-events/ — POST
``{base_url}/v2/enqueue`` with ``routing_key`` (the secret), ``event_action`` and
``dedup_key``; a trigger carries ``payload.summary`` (1024 characters at most),
``payload.source`` and ``payload.severity`` (critical, error, warning, info). The dedup_key
is the outage's (or group's) stable key, so the recovery resolves the same PagerDuty
incident and a send repeated after a crash (sent, not yet recorded) changes nothing.
Info messages (incident updates) have no PagerDuty action and are skipped.
"""

from __future__ import annotations

from typing import Any

import httpx

from ..model import Action, Message, Severity
from .base import Clock, HttpChannel, HttpRequest, Skip, utc_now
from .look import clip

DEFAULT_BASE_URL = "https://events.pagerduty.com"
_SEVERITY = {Severity.CRITICAL: "critical", Severity.WARNING: "warning", Severity.INFO: "info"}


class PagerDutyChannel(HttpChannel):
    """Opens and resolves PagerDuty alerts through one integration's routing key."""

    type = "pagerduty"
    paging = True

    def __init__(
        self,
        channel_id: str,
        client: httpx.AsyncClient,
        *,
        routing_key: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout_s: float = 10.0,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(
            channel_id, client, timeout_s=timeout_s, secrets=[routing_key], clock=clock
        )
        self.base_url = base_url.rstrip("/")
        self._routing_key = routing_key

    @property
    def target(self) -> str:
        return f"{self.base_url}/v2/enqueue (routing key ***)"

    def build(self, message: Message) -> HttpRequest:
        url = f"{self.base_url}/v2/enqueue"
        dedup_key = message.dedup_key[:255]
        if message.action is Action.RESOLVE:
            return HttpRequest(
                url,
                json={
                    "routing_key": self._routing_key,
                    "event_action": "resolve",
                    "dedup_key": dedup_key,
                },
            )
        if message.action is not Action.TRIGGER:
            raise Skip("PagerDuty has no action for an info message")
        details: dict[str, Any] = {
            "text": message.text,
            "event": message.event.value,
            "services": [dict(s) for s in message.services],
        }
        for name in ("dependents", "incident", "certificate", "slo"):
            if message.fields.get(name):
                details[name] = message.fields[name]
        payload: dict[str, Any] = {
            "summary": clip(message.title, 1024),
            "source": message.source,
            "severity": _SEVERITY[message.severity],
            "timestamp": message.at,
            "class": message.event.value,
            "custom_details": details,
        }
        if message.fields.get("node"):
            payload["group"] = str(message.fields["node"])
        return HttpRequest(
            url,
            json={
                "routing_key": self._routing_key,
                "event_action": "trigger",
                "dedup_key": dedup_key,
                "payload": payload,
                "client": "slamon",
            },
        )
