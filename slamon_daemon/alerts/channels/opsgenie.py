"""Opsgenie Alert API: create with an alias, close by alias.

https://docs.opsgenie.com/docs/alert-api — POST ``{base_url}/v2/alerts`` with
``Authorization: GenieKey <api_key>`` (the secret); ``message`` (130 characters at most),
``alias`` (the outage's stable key: Opsgenie folds repeats into one alert), ``priority``
(P1 critical, P3 warning, P5 info). A resolve is
``POST /v2/alerts/{alias}/close?identifierType=alias``. EU accounts set
``base_url = "https://api.eu.opsgenie.com"``. Info messages are skipped.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from ..model import Action, Message, Severity
from .base import Clock, HttpChannel, HttpRequest, Skip, utc_now
from .look import clip

DEFAULT_BASE_URL = "https://api.opsgenie.com"
_PRIORITY = {Severity.CRITICAL: "P1", Severity.WARNING: "P3", Severity.INFO: "P5"}


class OpsgenieChannel(HttpChannel):
    """Opens and closes Opsgenie alerts with one API integration key."""

    type = "opsgenie"
    paging = True

    def __init__(
        self,
        channel_id: str,
        client: httpx.AsyncClient,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        responders: list[dict[str, str]] | None = None,
        timeout_s: float = 10.0,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(channel_id, client, timeout_s=timeout_s, secrets=[api_key], clock=clock)
        self.base_url = base_url.rstrip("/")
        self.responders = responders or []
        self._api_key = api_key

    @property
    def target(self) -> str:
        return f"{self.base_url}/v2/alerts (api key ***)"

    def build(self, message: Message) -> HttpRequest:
        headers = {"Authorization": f"GenieKey {self._api_key}"}
        alias = message.dedup_key[:512]
        if message.action is Action.RESOLVE:
            return HttpRequest(
                f"{self.base_url}/v2/alerts/{quote(alias, safe='')}/close",
                params={"identifierType": "alias"},
                json={"source": "slamon", "note": clip(message.title, 25000)},
                headers=headers,
            )
        if message.action is not Action.TRIGGER:
            raise Skip("Opsgenie gets trigger and resolve only")
        details = {
            "event": message.event.value,
            "services": ", ".join(str(s.get("id")) for s in message.services),
            "at": message.at,
        }
        body: dict[str, Any] = {
            "message": clip(message.title, 130),
            "alias": alias,
            "description": clip(message.text, 15000),
            "priority": _PRIORITY[message.severity],
            "source": "slamon",
            "entity": clip(message.source, 512),
            "tags": ["slamon", message.event.value],
            "details": {k: v for k, v in details.items() if v},
        }
        if self.responders:
            body["responders"] = self.responders
        return HttpRequest(f"{self.base_url}/v2/alerts", json=body, headers=headers)
