"""Masking of channel secrets: what a log line, a reply, a repr or an error may show.

A webhook URL is a password: ``https://hooks.slack.com/services/T0/B0/XyZ`` grants anyone
the right to post. Such URLs are shown as scheme, host and first path segment followed by
``***`` (``https://hooks.slack.com/services/***``); the query string, which carries tokens
for Google Chat, is dropped. Every other secret (routing key, bot token, password) is
``***``. ``Redactor`` additionally scrubs the literal secret values out of any text that
came from elsewhere (an exception message, a receiver's answer), as a second line of defence.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

MASK = "***"


def mask_url(url: str) -> str:
    """``url`` with everything after the host's first path segment replaced by ``***``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return MASK
    if not parts.scheme or not host:
        return MASK
    netloc = f"{host}:{port}" if port else host
    segments = [s for s in parts.path.split("/") if s]
    shown = f"/{segments[0]}" if len(segments) > 1 else ""
    tail = f"/{MASK}" if segments or parts.query else ""
    return f"{parts.scheme}://{netloc}{shown}{tail}"


class Redactor:
    """Replaces each known secret value by ``***`` in free text."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is masked whole. Values shorter
        # than 4 characters would mask ordinary words and protect nothing.
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


def url_secrets(url: str) -> list[str]:
    """The parts of a webhook URL that grant access: the URL, its path tail, its query values."""
    out = [url]
    try:
        parts = urlsplit(url)
    except ValueError:
        return out
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) > 1:
        out.append("/".join(segments[1:]))
    out += segments[1:]
    for pair in parts.query.split("&"):
        _, _, value = pair.partition("=")
        if value:
            out.append(value)
    return out
