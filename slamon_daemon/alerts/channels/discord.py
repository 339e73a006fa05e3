"""Discord webhooks: the title as content and one embed with the text and the services.

https://discord.com/developers/docs/resources/webhook#execute-webhook — limits: content
2000, embed title 256, description 4096, 25 fields (name 256, value 1024). Mentions are
switched off (``allowed_mentions``), so a service name like "@everyone" pings no one.
A 429 carries ``retry_after`` (seconds) in its JSON body as well as the header.
"""

from __future__ import annotations

from typing import Any

import httpx

from ..model import Message
from .base import HttpRequest, UrlChannel
from .look import clip, colour, emoji, footer


class DiscordChannel(UrlChannel):
    """Posts to a Discord webhook URL (the URL is the secret)."""

    type = "discord"

    def build(self, message: Message) -> HttpRequest:
        fields = [
            {
                "name": clip(str(s.get("name") or s.get("id")), 256),
                "value": clip(
                    str(s.get("error") or s.get("cause") or s.get("status") or "-"), 1024
                ),
                "inline": True,
            }
            for s in message.services[:25]
        ]
        embed: dict[str, Any] = {
            "title": clip(message.title, 256),
            "description": clip(message.text, 4096),
            "color": colour(message),
            "timestamp": message.at,
            "footer": {"text": clip(footer(message), 2048)},
        }
        if fields:
            embed["fields"] = fields
        body = {
            "content": clip(f"{emoji(message)} {message.title}", 2000),
            "embeds": [embed],
            "allowed_mentions": {"parse": []},
        }
        return HttpRequest(self.url, json=body)

    def retry_after_from_body(self, response: httpx.Response) -> float | None:
        try:
            value = response.json().get("retry_after")
        except (ValueError, AttributeError):
            return None
        return float(value) if isinstance(value, int | float) else None
