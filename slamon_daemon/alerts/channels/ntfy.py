"""ntfy: the text as the body, Title / Priority / Tags as headers.

https://docs.ntfy.sh/publish/ — POST ``{base_url}/{topic}``. On a public server the topic
name is the password, so it is a secret like the optional access ``token`` (sent as
``Authorization: Bearer``). A title that is not ASCII is sent RFC 2047-encoded, which ntfy
decodes. Priority: 5 (urgent) for critical, 4 (high) for warning, 3 (default) otherwise and
for every resolve.
"""

from __future__ import annotations

from email.header import Header

import httpx

from ..model import Action, Message, Severity
from ..redact import MASK
from .base import Clock, HttpChannel, HttpRequest, utc_now
from .look import clip

DEFAULT_BASE_URL = "https://ntfy.sh"

_PRIORITY = {Severity.CRITICAL: "5", Severity.WARNING: "4", Severity.INFO: "3"}
_TAGS = {
    Severity.CRITICAL: "rotating_light",
    Severity.WARNING: "warning",
    Severity.INFO: "information_source",
}


def header_text(value: str) -> str:
    """``value`` as an HTTP header value: ASCII as it is, anything else RFC 2047-encoded."""
    value = " ".join(value.split())  # no line breaks in a header
    try:
        value.encode("ascii")
    except UnicodeEncodeError:
        return Header(value, "utf-8").encode()
    return value


class NtfyChannel(HttpChannel):
    """Publishes to an ntfy topic (the topic and the token are secrets)."""

    type = "ntfy"

    def __init__(
        self,
        channel_id: str,
        client: httpx.AsyncClient,
        *,
        topic: str,
        base_url: str = DEFAULT_BASE_URL,
        token: str | None = None,
        timeout_s: float = 10.0,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(
            channel_id,
            client,
            timeout_s=timeout_s,
            secrets=[topic, *([token] if token else [])],
            clock=clock,
        )
        self.base_url = base_url.rstrip("/")
        self._topic = topic
        self._token = token

    @property
    def target(self) -> str:
        return f"{self.base_url}/{MASK}"

    def build(self, message: Message) -> HttpRequest:
        resolved = message.action is Action.RESOLVE
        tags = ["white_check_mark" if resolved else _TAGS[message.severity], "slamon"]
        headers = {
            "Title": header_text(clip(message.title, 250)),
            "Priority": "3" if resolved else _PRIORITY[message.severity],
            "Tags": ",".join(tags),
            "Content-Type": "text/plain; charset=utf-8",
        }
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return HttpRequest(
            f"{self.base_url}/{self._topic}",
            content=clip(message.text, 4000).encode("utf-8"),
            headers=headers,
        )
