"""Slack incoming webhooks: a header, the text as mrkdwn, and a context line (Block Kit).

https://api.slack.com/messaging/webhooks — the top-level ``text`` is the notification
fallback; block limits: header 150 characters, section 3000.
"""

from __future__ import annotations

from typing import Any

from ..model import Message
from .base import HttpRequest, UrlChannel
from .look import clip, emoji, footer


def slack_escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as markup (&, <, >)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_blocks(message: Message) -> list[dict[str, Any]]:
    """The Block Kit blocks of a message."""
    return [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": clip(f"{emoji(message)} {message.title}", 150),
                "emoji": True,
            },
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": clip(slack_escape(message.text), 3000)},
        },
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": slack_escape(footer(message))}],
        },
    ]


class SlackChannel(UrlChannel):
    """Posts to a Slack incoming-webhook URL (the URL is the secret)."""

    type = "slack"

    def build(self, message: Message) -> HttpRequest:
        fallback = clip(f"{emoji(message)} {message.title}", 3000)
        return HttpRequest(self.url, json={"text": fallback, "blocks": slack_blocks(message)})
