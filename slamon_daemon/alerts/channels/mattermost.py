"""Mattermost incoming webhooks: the title as markdown text and a coloured attachment.

https://developers.mattermost.com/integrate/webhooks/incoming/ — ``text`` is markdown;
``attachments`` follow Slack's message-attachment form; ``channel`` and ``username``
override the webhook's defaults when the server allows it.
"""

from __future__ import annotations

from typing import Any

import httpx

from ..model import Message
from .base import Clock, HttpRequest, UrlChannel, utc_now
from .look import clip, colour_hex, emoji, footer


class MattermostChannel(UrlChannel):
    """Posts to a Mattermost incoming-webhook URL (the URL is the secret)."""

    type = "mattermost"

    def __init__(
        self,
        channel_id: str,
        client: httpx.AsyncClient,
        *,
        url: str,
        channel: str | None = None,
        username: str | None = None,
        timeout_s: float = 10.0,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(channel_id, client, url=url, timeout_s=timeout_s, clock=clock)
        self.channel = channel
        self.username = username

    def build(self, message: Message) -> HttpRequest:
        body: dict[str, Any] = {
            "text": clip(f"#### {emoji(message)} {message.title}", 4000),
            "attachments": [
                {
                    "fallback": clip(message.title, 500),
                    "color": colour_hex(message),
                    "text": clip(message.text, 12000),
                    "footer": footer(message),
                }
            ],
        }
        if self.channel:
            body["channel"] = self.channel
        if self.username:
            body["username"] = self.username
        return HttpRequest(self.url, json=body)
