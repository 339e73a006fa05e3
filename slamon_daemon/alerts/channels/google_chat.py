"""Google Chat incoming webhooks: a text message, threaded per alert.

https://developers.google.com/workspace/chat/quickstart/webhooks — the URL's ``key`` and
``token`` query values are the secret. Messages carry ``threadKey`` = the alert's dedup key
with ``messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD``, so a recovery lands in
the thread of its outage. Text formatting: ``*bold*``, 4096 characters at most.
"""

from __future__ import annotations

from ..model import Message
from .base import HttpRequest, UrlChannel
from .look import clip, emoji


class GoogleChatChannel(UrlChannel):
    """Posts to a Google Chat space webhook URL (its key and token are the secret)."""

    type = "google_chat"

    def build(self, message: Message) -> HttpRequest:
        text = clip(f"{emoji(message)} *{message.title}*\n{message.text}", 4096)
        return HttpRequest(
            self.url,
            json={"text": text},
            params={
                "threadKey": message.dedup_key,
                "messageReplyOption": "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD",
            },
        )
