"""The status page, incident page and history as HTML: content, escaping, size, no assets."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from slamon_daemon.web.page import (
    duration_text,
    render_history_page,
    render_incident_page,
    render_status_page,
)
from slamon_daemon.web.public import PublicView, public_view
from slamon_daemon.web.settings import PageSettings

from .sample import Inputs, sample_inputs

SETTINGS = PageSettings(
    title="Acme status", logo_text="ACME", footer_text="Acme Inc.", footer_url="https://acme.test"
)


def _view(n: int = 6) -> tuple[PublicView, Inputs]:
    inp = sample_inputs(n)
    view = public_view(
        inp.status, incidents=inp.incidents, maintenance=inp.maintenance, days=inp.days
    )
    return view, inp


class _Bars(HTMLParser):
    """Collects each bar's cells: (class, tabindex, text) per <li>."""

    def __init__(self) -> None:
        super().__init__()
        self.bars: list[list[dict[str, str | None]]] = []
        self.labels: list[str] = []
        self.in_bar = False
        self.cell: dict[str, str | None] | None = None
        self.tags: set[str] = set()
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs += attrs
        a = dict(attrs)
        if tag == "ol" and a.get("class") == "bar":
            self.in_bar = True
            self.bars.append([])
            self.labels.append(a.get("aria-label") or "")
        elif tag == "li" and self.in_bar:
            self.cell = {"class": a.get("class"), "tabindex": a.get("tabindex"), "text": ""}
            self.bars[-1].append(self.cell)

    def handle_endtag(self, tag: str) -> None:
        if tag == "ol":
            self.in_bar = False
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell["text"] = (self.cell["text"] or "") + data


def test_status_page_structure() -> None:
    view, _ = _view()
    html = render_status_page(view, SETTINGS)
    p = _Bars()
    p.feed(html)
    assert len(p.bars) == 6  # public services only
    for bar in p.bars:
        assert len(bar) == 90
        assert all(c["tabindex"] == "0" for c in bar)  # every day reachable by keyboard
    assert "<script" not in html
    # no external asset: no stylesheet link, image or font from anywhere
    assert not re.search(r"<link[^>]+stylesheet|<img|@import|url\(http", html)
    assert "ACME" in html and "Acme Inc." in html and 'href="https://acme.test"' in html
    assert "Partial Outage" in html  # the banner, in words
    assert "Payments failing" in html and "Identity" in html
    assert "Database upgrade" in html and "Network work" in html
    # each status has a word next to its colour
    assert "Major outage" in html and "Operational" in html


def test_day_cells_say_what_happened() -> None:
    view, _ = _view()
    html = render_status_page(view, SETTINGS)
    p = _Bars()
    p.feed(html)
    (svc1,) = [
        b for b, label in zip(p.bars, p.labels, strict=True) if label.startswith("Service 001,")
    ]
    today = svc1[-1]
    # the active incident is on today's cell with the day's figures
    assert "Incidents: Payments failing" in (today["text"] or "")
    bad = [c for c in svc1 if c["class"] in ("po", "mo")]
    assert bad and all("uptime" in (c["text"] or "") for c in bad)
    assert any("2 h 4 min down" in (c["text"] or "") for c in bad if c["class"] == "mo")
    # plain days carry no text: their words come from the stylesheet
    plain = [c for c in svc1 if c["class"] is None and not c["text"]]
    assert len(plain) > 60
    assert '--t:"Operational · 100.00% uptime · no downtime"' in html
    # the date of each column is in the stylesheet (day 90 is today)
    assert '.bar li:nth-child(90){--d:"Sat 21 Nov 2026"}' in html
    assert '.bar li:nth-child(1){--d:"Mon 24 Aug 2026"}' in html


def test_groups_in_order_ungrouped_first() -> None:
    view, _ = _view()
    html = render_status_page(view, SETTINGS)
    names = re.findall(r'<span class="name">([^<]+)</span>', html)
    assert names == [
        "Service 003",
        "Service 006",
        "Service 001",
        "Service 004",
        "Service 002",
        "Service 005",
    ]
    assert html.index(">Payments <") < html.index(">Identity <")


def test_text_is_escaped() -> None:
    view, _ = _view()
    html = render_status_page(view, SETTINGS)
    assert "<b>checkout</b>" not in html
    assert "&lt;b&gt;checkout&lt;/b&gt;" in html


def test_hostile_names_are_escaped() -> None:
    inp = sample_inputs(2, with_private=False)
    inp.status["services"][0]["name"] = '<img src=x onerror="alert(1)">'
    inp.status["services"][0]["group"] = '"><script>alert(2)</script>'
    html = render_status_page(public_view(inp.status), SETTINGS)
    assert "<img src=x" not in html and "<script>" not in html
    assert "&lt;img src=x" in html


def test_fifty_services_under_150_kb() -> None:
    view, _ = _view(50)
    html = render_status_page(view, SETTINGS)
    size = len(html.encode())
    print(f"status page for 50 services: {size / 1024:.1f} KiB")
    assert size < 150 * 1024


def test_past_incidents_by_day_with_paging() -> None:
    view, _ = _view()
    html = render_status_page(view, SETTINGS)
    past = html[html.index('id="h-past"') :]
    days = re.findall(r'<div class="day"><h3>([^<]+)</h3>', past)
    assert len(days) == 14 and days[0] == "Nov 21, 2026" and days[-1] == "Nov 08, 2026"
    assert past.count("No incidents reported.") == 12  # today and three days ago have one
    assert "Slow logins" in past
    assert 'href="/status?page=2"' in past and "Newer" not in past
    page2 = render_status_page(view, SETTINGS, page=2)
    past2 = page2[page2.index('id="h-past"') :]
    assert re.findall(r'<div class="day"><h3>([^<]+)</h3>', past2)[0] == "Nov 07, 2026"
    assert 'href="/status?page=1"' in past2 and "Slow logins" not in past2


def test_incident_page() -> None:
    view, _ = _view()
    html = render_incident_page(view, SETTINGS, 7)
    assert html is not None and "Payments failing" in html
    assert "The cause is found" in html and "We are looking into" in html
    assert render_incident_page(view, SETTINGS, 9) is None  # private services only
    assert render_incident_page(view, SETTINGS, 12345) is None


def test_history_page() -> None:
    view, inp = _view()
    html = render_history_page(
        view,
        SETTINGS,
        inp.calendars,
        until="2026-11",
        month_uptime={("svc-001", "2026-10"): "99.12"},
    )
    assert html.count("<h3>September 2026") == 6  # one per public service
    assert "99.12" in html
    assert 'href="/status/history?until=2026-08"' in html
    assert "Newer" not in html  # already at this month
    older = render_history_page(view, SETTINGS, inp.calendars, until="2026-08")
    assert 'href="/status/history?until=2026-11"' in older
    # November 2026 starts on a Sunday: six blank cells before the 1st (weeks start Monday)
    nov = html[html.index("November 2026") :]
    assert nov[: nov.index("</ol>")].count('class="pad"') == 6


def test_duration_text() -> None:
    assert duration_text(45) == "45 s"
    assert duration_text(480) == "8 min"
    assert duration_text(7440) == "2 h 4 min"
    assert duration_text(3600) == "1 h"
    assert duration_text(90000) == "1 d 1 h"
