"""SVG badges in the shields.io "flat" style: status, uptime, response time, certificate.

``/badge/{id}/status.svg``, ``/badge/{id}/uptime/30d.svg`` (24h, 7d, 30d, 90d),
``/badge/{id}/response.svg``, ``/badge/{id}/cert.svg``. Widths come from Verdana 11 px
metrics (verdana.py), so the text fits as on shields.io. A badge is cacheable: its ETag is
a hash of its bytes, equal badges have equal tags.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from markupsafe import escape

from .public import PublicService, PublicView
from .verdana import text_width

COLORS = {
    "brightgreen": "#4c1",
    "green": "#97ca00",
    "yellow": "#dfb317",
    "orange": "#fe7d37",
    "red": "#e05d44",
    "blue": "#007ec6",
    "grey": "#9f9f9f",
}
STATUS_BADGE = {
    "operational": ("operational", "brightgreen"),
    "degraded": ("degraded", "yellow"),
    "partial_outage": ("partial outage", "orange"),
    "major_outage": ("major outage", "red"),
    "maintenance": ("maintenance", "blue"),
    "unknown": ("no data", "grey"),
}
UPTIME_WINDOWS = ("24h", "7d", "30d", "90d")
KINDS = ("status", "uptime", "response", "cert")
PADDING = 5
"""Pixels left and right of each half's text (shields' horizontal padding)."""


@dataclass(frozen=True, slots=True)
class Badge:
    """A rendered badge and its HTTP validator."""

    svg: str
    etag: str


def etag_of(body: str | bytes) -> str:
    """A strong ETag for these bytes: the same badge always gets the same tag."""
    data = body.encode() if isinstance(body, str) else body
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """True when an ``If-None-Match`` header names ``etag`` (or is ``*``): answer 304."""
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


def render_badge(label: str, message: str, color: str) -> str:
    """A flat badge: grey ``label`` on the left, ``message`` on ``color`` on the right."""
    fill = COLORS.get(color, color)
    lw = round(text_width(label)) + 2 * PADDING
    mw = round(text_width(message)) + 2 * PADDING
    w = lw + mw
    lab, msg = escape(label), escape(message)
    # Text is drawn at 10× and scaled down, as shields does, for crisp half-pixel centring.
    lx, mx = lw * 5, lw * 10 + mw * 5
    ltl, mtl = (lw - 2 * PADDING) * 10, (mw - 2 * PADDING) * 10
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="20" role="img"'
        f' aria-label="{lab}: {msg}"><title>{lab}: {msg}</title>'
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb"'
        ' stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{w}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{lw}" height="20" fill="#555"/>'
        f'<rect x="{lw}" width="{mw}" height="20" fill="{fill}"/>'
        f'<rect width="{w}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif"'
        ' text-rendering="geometricPrecision" font-size="110">'
        f'<text aria-hidden="true" x="{lx}" y="150" fill="#010101" fill-opacity=".3"'
        f' transform="scale(.1)" textLength="{ltl}">{lab}</text>'
        f'<text x="{lx}" y="140" transform="scale(.1)" fill="#fff" textLength="{ltl}">{lab}</text>'
        f'<text aria-hidden="true" x="{mx}" y="150" fill="#010101" fill-opacity=".3"'
        f' transform="scale(.1)" textLength="{mtl}">{msg}</text>'
        f'<text x="{mx}" y="140" transform="scale(.1)" fill="#fff" textLength="{mtl}">{msg}</text>'
        "</g></svg>"
    )


def uptime_color(uptime: str) -> str:
    try:
        value = float(uptime)
    except ValueError:
        return "grey"
    for floor, color in (
        (99.9, "brightgreen"),
        (99.0, "green"),
        (95.0, "yellow"),
        (90.0, "orange"),
    ):
        if value >= floor:
            return color
    return "red"


def response_color(ms: float) -> str:
    for ceiling, color in ((300, "brightgreen"), (1000, "green"), (3000, "yellow")):
        if ms < ceiling:
            return color
    return "orange"


def cert_message(expires_at: datetime | None, now: datetime) -> tuple[str, str]:
    """The certificate badge's words and colour."""
    if expires_at is None:
        return "no data", "grey"
    days = int((expires_at - now).total_seconds() // 86400)
    if expires_at <= now:
        return "expired", "red"
    text = "expires today" if days == 0 else f"{days} day{'s' if days != 1 else ''} left"
    return text, "brightgreen" if days >= 30 else "yellow" if days >= 14 else "orange"


def _content(
    s: PublicService, kind: str, window: str | None, now: datetime
) -> tuple[str, str, str]:
    if kind == "status":
        message, color = STATUS_BADGE.get(s.status, ("no data", "grey"))
        return s.name, message, color
    if kind == "uptime":
        if window not in UPTIME_WINDOWS:
            raise ValueError(f"uptime window must be one of {', '.join(UPTIME_WINDOWS)}")
        value = s.uptime.get(window, "—")
        message = "no data" if value == "—" else f"{value}%"
        return f"uptime {window}", message, uptime_color(value)
    if kind == "response":
        if s.latency_ms is None:
            return "response time", "no data", "grey"
        ms = s.latency_ms
        return "response time", f"{ms:.0f} ms", response_color(ms)
    if kind == "cert":
        message, color = cert_message(s.cert_expires_at, now)
        return "certificate", message, color
    raise ValueError(f"badge kind must be one of {', '.join(KINDS)}")


def service_badge(
    view: PublicView, service_id: str, kind: str, window: str | None = None
) -> Badge | None:
    """The badge of a public service; None when there is no such public service (a private
    one answers exactly like an unknown one). Raises ValueError for a bad kind or window."""
    s = view.service(service_id)
    if s is None:
        return None
    label, message, color = _content(s, kind, window, view.now)
    svg = render_badge(label, message, color)
    return Badge(svg=svg, etag=etag_of(svg))
