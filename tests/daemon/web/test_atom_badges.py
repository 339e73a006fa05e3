"""The Atom feed (well-formed, RFC 4287's required elements) and the SVG badges."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import pytest

from slamon_daemon.web.atom import ATOM_NS, render_atom
from slamon_daemon.web.badges import (
    etag_matches,
    render_badge,
    service_badge,
)
from slamon_daemon.web.public import PublicView, public_view
from slamon_daemon.web.settings import PageSettings
from slamon_daemon.web.verdana import text_width

from .sample import NOW, sample_inputs

SETTINGS = PageSettings(title="Acme status", public_url="https://status.acme.test")
A = f"{{{ATOM_NS}}}"


def _view() -> PublicView:
    inp = sample_inputs(6)
    return public_view(
        inp.status,
        incidents=inp.incidents,
        maintenance=inp.maintenance,
        days=inp.days,
        uptime={"svc-002": {"24h": "99.95", "7d": "98.10"}},
    )


def _rfc3339(text: str | None) -> datetime:
    assert text is not None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_atom_is_valid_and_complete() -> None:
    body = render_atom(_view(), SETTINGS)
    assert body.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    feed = ET.fromstring(body)
    assert feed.tag == f"{A}feed"
    # RFC 4287 4.1.1: a feed has exactly one id, title and updated, and an author
    for tag in ("id", "title", "updated", "author"):
        assert len(feed.findall(f"{A}{tag}")) == 1, tag
    assert _rfc3339(feed.findtext(f"{A}updated")) <= NOW
    self_link = [ln for ln in feed.findall(f"{A}link") if ln.get("rel") == "self"]
    assert self_link[0].get("href") == "https://status.acme.test/status/feed.atom"
    entries = feed.findall(f"{A}entry")
    titles = [e.findtext(f"{A}title") for e in entries]
    assert titles == [  # by last change: newest first
        "Maintenance in progress: Network work",
        "Identified: Payments failing",
        "Maintenance scheduled: Database upgrade",
        "Resolved: Slow logins",
    ]
    ids = [e.findtext(f"{A}id") for e in entries]
    assert len(set(ids)) == len(ids)
    assert "tag:status.acme.test,2026:incident:7" in ids
    for e in entries:  # 4.1.2: each entry has id, title, updated; content or an alternate link
        for tag in ("id", "title", "updated"):
            assert len(e.findall(f"{A}{tag}")) == 1
        _rfc3339(e.findtext(f"{A}updated"))
        assert e.find(f"{A}link[@rel='alternate']") is not None
    payments = entries[1].findtext(f"{A}content") or ""
    assert "We are looking into failed payments at <b>checkout</b>." in payments
    assert payments.index("The cause is found") < payments.index("We are looking")


def test_atom_escapes_markup() -> None:
    body = render_atom(_view(), SETTINGS)
    assert b"<b>checkout</b>" not in body
    assert b"&lt;b&gt;checkout&lt;/b&gt;" in body


def test_verdana_widths_are_per_character() -> None:
    assert text_width("iiii") < text_width("mmmm")
    assert text_width("status") == pytest.approx(3.87 * 0 + 5.73 + 4.33 + 6.61 + 4.33 + 6.96 + 5.73)
    assert text_width("状態") == 22.0  # outside the table: as wide as '@'


def test_badge_svg_is_well_formed_and_fits_text() -> None:
    svg = render_badge("uptime 30d", "99.42%", "brightgreen")
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("height") == "20"
    width = int(root.get("width") or 0)
    assert width == round(text_width("uptime 30d")) + 10 + round(text_width("99.42%")) + 10
    assert root.get("aria-label") == "uptime 30d: 99.42%"
    assert "#4c1" in svg
    wide = render_badge("uptime 30d", "WWWWWW", "red")
    assert int(ET.fromstring(wide).get("width") or 0) > width
    hostile = render_badge("<x>", 'a"&b', "red")
    ET.fromstring(hostile)  # still well-formed
    assert "<x>" not in hostile


def test_service_badges() -> None:
    view = _view()
    status = service_badge(view, "svc-001", "status")
    assert status is not None and "major outage" in status.svg and "#e05d44" in status.svg
    up = service_badge(view, "svc-002", "uptime", "30d")
    assert up is not None and "99.42%" in up.svg
    day = service_badge(view, "svc-002", "uptime", "24h")
    assert day is not None and "99.95%" in day.svg
    week = service_badge(view, "svc-003", "uptime", "7d")
    assert week is not None and "no data" in week.svg
    resp = service_badge(view, "svc-002", "response")
    assert resp is not None and "12 ms" in resp.svg  # median of the correct answers
    cert = service_badge(view, "svc-002", "cert")
    assert cert is not None and "42 days left" in cert.svg
    with pytest.raises(ValueError):
        service_badge(view, "svc-002", "uptime", "1y")
    with pytest.raises(ValueError):
        service_badge(view, "svc-002", "bogus")


def test_private_and_unknown_services_have_no_badge() -> None:
    view = _view()
    assert service_badge(view, "secretprivatesvc-db", "status") is None
    assert service_badge(view, "nope", "status") is None


def test_etag() -> None:
    view = _view()
    a = service_badge(view, "svc-002", "status")
    b = service_badge(view, "svc-002", "status")
    c = service_badge(view, "svc-001", "status")
    assert a is not None and b is not None and c is not None
    assert a.etag == b.etag != c.etag
    assert a.etag.startswith('"') and a.etag.endswith('"')
    assert etag_matches(a.etag, a.etag)
    assert etag_matches(f'W/"x", {a.etag}', a.etag)
    assert etag_matches("*", a.etag)
    assert not etag_matches(c.etag, a.etag)
    assert not etag_matches(None, a.etag)


def test_cert_badge_colours() -> None:
    inp = sample_inputs(1, with_private=False)
    last = inp.status["services"][0]["last_check"]
    for delta, text, colour in (
        (timedelta(days=-1), "expired", "#e05d44"),
        (timedelta(days=10), "10 days left", "#fe7d37"),
        (timedelta(days=20), "20 days left", "#dfb317"),
        (timedelta(days=90), "90 days left", "#4c1"),
    ):
        last["cert_expires_at"] = (NOW + delta + timedelta(minutes=1)).isoformat()
        badge = service_badge(public_view(inp.status), "svc-001", "cert")
        assert badge is not None and text in badge.svg and colour in badge.svg
