"""The Atom feed of public incidents and maintenance windows (``/status/feed.atom``, RFC 4287).

Built with ElementTree, so every text is escaped by the XML writer. One entry per incident
(its customer-visible updates, newest first, as the content) and per maintenance window;
entry ids are tag URIs that never change, ``updated`` moves with each new update.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from urllib.parse import urlsplit

from .page import IMPACT_WORDS, INCIDENT_WORDS
from .public import PublicIncident, PublicMaintenance, PublicView
from .settings import PageSettings

ATOM_NS = "http://www.w3.org/2005/Atom"
MAX_ENTRIES = 50


def _t(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _tag_authority(settings: PageSettings) -> str:
    host = urlsplit(settings.public_url).hostname if settings.public_url else None
    return host or settings.page_id


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
    if text is not None:
        el.text = text
    return el


def _incident_entry(
    feed: ET.Element, view: PublicView, inc: PublicIncident, tag: str, link: str
) -> None:
    entry = _sub(feed, "entry")
    _sub(entry, "id", f"tag:{tag},2026:incident:{inc.id}")
    _sub(entry, "title", f"{INCIDENT_WORDS.get(inc.status, inc.status)}: {inc.title}")
    _sub(entry, "updated", _t(inc.updated_at))
    _sub(entry, "published", _t(inc.created_at))
    _sub(entry, "link", rel="alternate", type="text/html", href=link)
    names = [s.name for i in inc.services if (s := view.service(i)) is not None]
    lines = [IMPACT_WORDS.get(inc.severity, inc.severity)]
    if names:
        lines[0] += " · Affects " + ", ".join(names)
    for u in reversed(inc.updates):
        lines.append(f"{INCIDENT_WORDS.get(u.status, u.status)} ({_t(u.at)}): {u.message}")
    _sub(entry, "content", "\n\n".join(lines), type="text")
    _sub(entry, "category", term="incident")


def _maintenance_entry(
    feed: ET.Element, view: PublicView, m: PublicMaintenance, tag: str, link: str
) -> None:
    state = m.state(view.now)
    entry = _sub(feed, "entry")
    _sub(entry, "id", f"tag:{tag},2026:maintenance:{m.id}")
    word = {"scheduled": "Scheduled", "in_progress": "In progress"}.get(state, "Completed")
    _sub(entry, "title", f"Maintenance {word.lower()}: {m.title}")
    updated = m.last_change(view.now)
    _sub(entry, "updated", _t(updated))
    _sub(entry, "published", _t(m.created_at))
    _sub(entry, "link", rel="alternate", type="text/html", href=link)
    names = [s.name for i in m.services if (s := view.service(i)) is not None]
    scope = ", ".join(names) if names else "all services"
    text = f"{word}: from {_t(m.starts_at)} to {_t(m.ends_at)}. Affects {scope}."
    _sub(entry, "content", text, type="text")
    _sub(entry, "category", term="maintenance")


def render_atom(view: PublicView, settings: PageSettings) -> bytes:
    """The feed as UTF-8 XML bytes (newest entries first, at most 50)."""
    ET.register_namespace("", ATOM_NS)
    tag = _tag_authority(settings)
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    _sub(feed, "id", f"tag:{tag},2026:status")
    _sub(feed, "title", f"{settings.title}: incidents and maintenance")
    _sub(feed, "updated", _t(view.updated_at))
    author = _sub(feed, "author")
    _sub(author, "name", settings.title)
    _sub(
        feed,
        "link",
        rel="self",
        type="application/atom+xml",
        href=settings.link("/status/feed.atom"),
    )
    _sub(feed, "link", rel="alternate", type="text/html", href=settings.link("/status"))
    items: list[tuple[datetime, PublicIncident | PublicMaintenance]] = [
        (i.updated_at, i) for i in view.incidents
    ]
    items += [(m.last_change(view.now), m) for m in view.maintenance]
    items.sort(key=lambda pair: pair[0], reverse=True)
    for _, item in items[:MAX_ENTRIES]:
        if isinstance(item, PublicIncident):
            link = settings.link(f"/status/incidents/{item.id}")
            _incident_entry(feed, view, item, tag, link)
        else:
            _maintenance_entry(
                feed, view, item, tag, settings.link(f"/status#maintenance-{item.id}")
            )
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body
