"""A JSON webhook: POST of a sandboxed Jinja2 template over the notification fields.

The body is ``body_template`` rendered by ``fields.render_json`` (sandboxed, strict, must
give JSON), or without a template every field as one JSON object. The URL and the values
of ``headers`` (e.g. an Authorization token) are secrets.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import httpx

from ..fields import render_json
from ..model import Message
from .base import Clock, HttpRequest, UrlChannel, utc_now


class WebhookChannel(UrlChannel):
    """POSTs JSON rendered from a template to any URL."""

    type = "webhook"

    def __init__(
        self,
        channel_id: str,
        client: httpx.AsyncClient,
        *,
        url: str,
        body_template: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 10.0,
        clock: Clock = utc_now,
    ) -> None:
        headers = dict(headers or {})
        super().__init__(
            channel_id,
            client,
            url=url,
            timeout_s=timeout_s,
            clock=clock,
            extra_secrets=list(headers.values()),
        )
        self.body_template = body_template
        self.headers = headers

    def build(self, message: Message) -> HttpRequest:
        fields = dict(message.fields)
        body = fields if self.body_template is None else render_json(self.body_template, fields)
        content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json", **self.headers}
        return HttpRequest(self.url, content=content, headers=headers)
