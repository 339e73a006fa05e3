"""Microsoft Teams through a Workflows webhook: one Adaptive Card in a message.

Workflows ("Post to a channel when a webhook request is received") expects
``{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "content": <AdaptiveCard>}]}`` and answers 202.
"""

from __future__ import annotations

from typing import Any

from ..model import Action, Message, Severity
from .base import HttpRequest, UrlChannel
from .look import clip, emoji

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"


def adaptive_card(message: Message) -> dict[str, Any]:
    """An Adaptive Card 1.4 with the title, the text and a fact set."""
    if message.action is Action.RESOLVE:
        tone = "Good"
    elif message.severity is Severity.CRITICAL:
        tone = "Attention"
    elif message.severity is Severity.WARNING:
        tone = "Warning"
    else:
        tone = "Default"
    facts = [
        {"title": "Severity", "value": message.severity.value},
        {"title": "Event", "value": message.event.value},
        {"title": "At", "value": message.at},
    ]
    if message.services:
        names = ", ".join(str(s.get("name") or s.get("id")) for s in message.services[:20])
        facts.append({"title": "Services", "value": clip(names, 1000)})
    return {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "text": clip(f"{emoji(message)} {message.title}", 500),
                "weight": "Bolder",
                "size": "Medium",
                "color": tone,
                "wrap": True,
            },
            {"type": "TextBlock", "text": clip(message.text, 10000), "wrap": True},
            {"type": "FactSet", "facts": facts},
        ],
    }


class TeamsChannel(UrlChannel):
    """Posts to a Teams Workflows webhook URL (the URL is the secret)."""

    type = "teams"

    def build(self, message: Message) -> HttpRequest:
        body = {
            "type": "message",
            "attachments": [
                {
                    "contentType": CARD_CONTENT_TYPE,
                    "contentUrl": None,
                    "content": adaptive_card(message),
                }
            ],
        }
        return HttpRequest(self.url, json=body)
