"""The HTTP client alert channels share, and a log filter that keeps webhook URLs out of logs.

httpx logs every request as ``HTTP Request: POST <url> "HTTP/1.1 200 OK"`` at INFO; for a
webhook the URL is the password. ``alert_http_client`` installs (once) a filter on the
``httpx`` logger that masks every URL in its records, whatever level the daemon logs at.
"""

from __future__ import annotations

import logging

import httpx

from ..redact import mask_url


class MaskUrlsFilter(logging.Filter):
    """Replaces each ``httpx.URL`` argument of a log record by its masked form."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(isinstance(a, httpx.URL) for a in args):
            record.args = tuple(mask_url(str(a)) if isinstance(a, httpx.URL) else a for a in args)
        return True


def install_url_masking() -> None:
    """Mask URLs in httpx's log records from now on (idempotent)."""
    log = logging.getLogger("httpx")
    if not any(isinstance(f, MaskUrlsFilter) for f in log.filters):
        log.addFilter(MaskUrlsFilter())


def alert_http_client(*, max_connections: int = 20) -> httpx.AsyncClient:
    """A keep-alive client for alert channels: TLS verified, no redirects followed."""
    install_url_masking()
    return httpx.AsyncClient(
        follow_redirects=False,
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=10),
        headers={"User-Agent": "slamon-alerts"},
    )
