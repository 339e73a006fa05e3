"""Telegram: the Bot API's sendMessage with HTML formatting.

https://core.telegram.org/bots/api#sendmessage — POST ``{base_url}/bot{token}/sendMessage``
with ``chat_id``, ``text`` (4096 characters at most) and ``parse_mode = "HTML"``; the bot
token is the secret. A 429 says when to retry in ``parameters.retry_after``.
"""

from __future__ import annotations

import html

import httpx

from ..model import Message
from ..redact import MASK
from .base import Clock, HttpChannel, HttpRequest, utc_now
from .look import clip, emoji

DEFAULT_BASE_URL = "https://api.telegram.org"
MAX_TEXT = 4096


class TelegramChannel(HttpChannel):
    """Sends through a Telegram bot to one chat (the bot token is the secret)."""

    type = "telegram"

    def __init__(
        self,
        channel_id: str,
        client: httpx.AsyncClient,
        *,
        bot_token: str,
        chat_id: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout_s: float = 10.0,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(channel_id, client, timeout_s=timeout_s, secrets=[bot_token], clock=clock)
        self.base_url = base_url.rstrip("/")
        self.chat_id = chat_id
        self._token = bot_token

    @property
    def target(self) -> str:
        return f"{self.base_url}/bot{MASK} chat {self.chat_id}"

    def build(self, message: Message) -> HttpRequest:
        # Telegram counts the 4096 characters after entity parsing: cut the plain text,
        # then escape it, so a cut never falls inside a tag or an entity.
        title = clip(f"{emoji(message)} {message.title}", 500)
        body = clip(message.text, MAX_TEXT - len(title) - 1)
        text = f"<b>{html.escape(title, quote=False)}</b>\n{html.escape(body, quote=False)}"
        return HttpRequest(
            f"{self.base_url}/bot{self._token}/sendMessage",
            json={
                "chat_id": self.chat_id,
                "text": text,
                "parse_mode": "HTML",
                "disable_web_page_preview": True,
            },
        )

    def retry_after_from_body(self, response: httpx.Response) -> float | None:
        try:
            value = response.json()["parameters"]["retry_after"]
        except (ValueError, KeyError, TypeError):
            return None
        return float(value) if isinstance(value, int | float) else None
