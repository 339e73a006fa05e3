"""The public status page, an incident's page and the monthly history, as HTML (Jinja2).

No JavaScript and no external asset: the stylesheet is inlined. Every value goes through
autoescaping; the day cells are assembled here (escaped with markupsafe) because they are
most of the page: 50 services × 90 days must stay well under 150 KB.

The 90-day bar: one focusable ``<li>`` per UTC day in an ``<ol>`` whose label summarises
the days for screen readers. The tooltip (date, status, uptime, downtime, incidents) opens
on hover and on keyboard focus (CSS ``:hover``/``:focus``). A plain operational day carries
no text at all: its date comes from a per-column CSS variable and its words from the
stylesheet, so only days with something to say spell it out. Colour is never the only
signal: statuses have words and symbols, cells patterns (striped partial outage, hollow
no-data, dotted maintenance).
"""

from __future__ import annotations

import calendar
import functools
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from jinja2 import Environment, PackageLoader
from markupsafe import Markup, escape

from .public import PublicDay, PublicIncident, PublicMaintenance, PublicService, PublicView
from .settings import PageSettings

STATUS_WORDS = {
    "operational": ("✓", "Operational"),
    "degraded": ("▲", "Degraded performance"),
    "partial_outage": ("◐", "Partial outage"),
    "major_outage": ("✕", "Major outage"),
    "maintenance": ("◆", "Under maintenance"),
    "unknown": ("?", "No data yet"),
}
BANNER = {
    "operational": "All Systems Operational",
    "degraded": "Degraded Performance",
    "partial_outage": "Partial Outage",
    "major_outage": "Major Outage",
}
DAY_WORDS = {
    "o": "Operational",
    "po": "Partial outage",
    "degraded": "Degraded performance",  # issue 12: a slow day has its own cell
    "mo": "Major outage",
    "nd": "No data",
    "maintenance": "Maintenance",
    "future": "Future",
}
DAY_CLASS = {"o": "", "po": "po", "mo": "mo", "nd": "nd", "maintenance": "m", "future": "future"}
DAY_CLASS["degraded"] = "po"  # issue 12: slow days are not green (drawn like a partial day)
INCIDENT_WORDS = {
    "investigating": "Investigating",
    "identified": "Identified",
    "monitoring": "Monitoring",
    "resolved": "Resolved",
}
IMPACT_WORDS = {
    "low": "Minor impact",
    "medium": "Moderate impact",
    "high": "Major impact",
    "critical": "Critical impact",
}
_SEVERITY_RANK = ["operational", "maintenance", "unknown", "degraded", "partial_outage"]
MAX_PAST_PAGES = 26
"""Past incidents go back this many pages (of 14 days: about a year)."""


def environment() -> Environment:
    """The Jinja2 environment of the public pages (autoescape on, package templates)."""
    return Environment(
        loader=PackageLoader("slamon_daemon.web", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@functools.cache
def _env() -> Environment:
    """One environment per process: it only caches the loaded (immutable) templates."""
    return environment()


def duration_text(seconds: float) -> str:
    """A downtime as people read it: "45 s", "8 min", "1 h 12 min", "2 d 3 h"."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    m = s // 60
    if m < 60:
        return f"{m} min"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h} h {m} min" if m else f"{h} h"
    d, h = divmod(h, 24)
    return f"{d} d {h} h" if h else f"{d} d"


def _when(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC") if t else ""


def _day_label(d: date) -> str:
    return d.strftime("%a %d %b %Y")


def _css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def day_rules(days: Sequence[date]) -> Markup:
    """Per-column CSS: the date each cell of the bar stands for (shared by every service)."""
    rules = "".join(
        f".bar li:nth-child({i}){{--d:{_css_string(_day_label(d))}}}"
        for i, d in enumerate(days, start=1)
    )
    return Markup(rules)  # dates are digits and month names only: nothing to escape


def _day_text(d: PublicDay) -> str:
    parts = [DAY_WORDS.get(d.status, d.status)]
    if d.uptime != "—":
        parts.append(f"{d.uptime}% uptime")
    if d.downtime_s is not None and d.status not in ("nd", "maintenance"):
        parts.append(f"{duration_text(d.downtime_s)} down" if d.downtime_s else "no downtime")
    text = " · ".join(parts)
    if d.incidents:
        text += "\nIncidents: " + "; ".join(d.incidents)
    return text


def bar_cells(service: PublicService) -> Markup:
    """The ``<li>`` cells of one service's bar (end tags omitted, as HTML allows)."""
    out = []
    for d in service.days:
        cls = DAY_CLASS.get(d.status, "")
        attr = f" class={cls}" if cls else ""
        plain = not d.incidents and (
            d.status in ("nd", "maintenance") or (d.status == "o" and d.uptime in ("—", "100.00"))
        )
        if plain:
            out.append(f"<li tabindex=0{attr}>")
        else:
            out.append(f"<li tabindex=0{attr}><span>{escape(_day_text(d))}</span>")
    return Markup("".join(out))


def _bar_summary(service: PublicService) -> str:
    counts: dict[str, int] = {}
    for d in service.days:
        counts[d.status] = counts.get(d.status, 0) + 1
    parts = [f"{n} {DAY_WORDS.get(k, k).lower()}" for k, n in counts.items()]
    bad = [d.day.isoformat() for d in service.days if d.status in ("po", "mo")]
    text = ", ".join(parts)
    if bad:
        text += "; outages on " + ", ".join(bad[-10:])
    return text


def _service(s: PublicService, window: str) -> dict[str, Any]:
    symbol, word = STATUS_WORDS.get(s.status, ("?", s.status))
    up = s.uptime.get(window, "—")
    return {
        "id": s.id,
        "name": s.name,
        "status": s.status,
        "symbol": symbol,
        "word": word,
        "uptime": "no data" if up == "—" else f"{up}%",
        "cells": bar_cells(s),
        "summary": _bar_summary(s),
    }


def _group_status(services: Sequence[PublicService]) -> str:
    ranks = [s.status for s in services]
    worst = "operational"
    for st in ranks:
        if st == "major_outage":
            return "major_outage"
        if st in _SEVERITY_RANK and _SEVERITY_RANK.index(st) > _SEVERITY_RANK.index(worst):
            worst = st
    return worst


def _incident(view: PublicView, inc: PublicIncident, settings: PageSettings) -> dict[str, Any]:
    names = [s.name for i in inc.services if (s := view.service(i)) is not None]
    return {
        "id": inc.id,
        "link": settings.link(f"/status/incidents/{inc.id}"),
        "title": inc.title,
        "severity": inc.severity,
        "status_word": INCIDENT_WORDS.get(inc.status, inc.status),
        "impact_word": IMPACT_WORDS.get(inc.severity, inc.severity),
        "services": names,
        "started": _when(inc.started_at),
        "resolved": _when(inc.resolved_at),
        "updates": [
            {
                "status_word": INCIDENT_WORDS.get(u.status, u.status),
                "at": _when(u.at),
                "message": u.message,
            }
            for u in reversed(inc.updates)
        ],
    }


def _maintenance(view: PublicView, m: PublicMaintenance) -> dict[str, Any]:
    state = m.state(view.now)
    return {
        "id": m.id,
        "title": m.title,
        "state_word": {"scheduled": "Scheduled", "in_progress": "In progress"}.get(
            state, "Completed"
        ),
        "starts": _when(m.starts_at),
        "ends": _when(m.ends_at),
        "services": [s.name for i in m.services if (s := view.service(i)) is not None],
    }


def _groups(view: PublicView, window: str) -> list[dict[str, Any]]:
    out = []
    for name, members in view.groups():
        status = _group_status(members)
        symbol, word = STATUS_WORDS[status]
        out.append(
            {
                "name": name,
                "status": status,
                "symbol": symbol,
                "word": word,
                "services": [_service(s, window) for s in members],
            }
        )
    return out


def render_status_page(
    view: PublicView,
    settings: PageSettings,
    *,
    page: int = 1,
    past: Sequence[PublicIncident] | None = None,
) -> str:
    """``/status``: banner, active incidents, maintenance, services with their 90-day bars,
    and past incidents by day (``settings.past_days_per_page`` days per page).

    Args:
        view: the public view.
        settings: title, logo, footer, links.
        page: which page of past incidents (1: the last 14 days).
        past: the incidents to sort into days (default: every incident of ``view``).
    """
    page = max(1, min(page, MAX_PAST_PAGES))
    per = settings.past_days_per_page
    today = view.now.date()
    last = today - timedelta(days=per * (page - 1))
    incidents = list(view.incidents if past is None else past)
    past_days = []
    for n in range(per):
        d = last - timedelta(days=n)
        items = [_incident(view, i, settings) for i in incidents if i.started_at.date() == d]
        past_days.append({"label": d.strftime("%b %d, %Y"), "incidents": items})
    symbol = STATUS_WORDS[view.overall.value][0]
    return (
        _env()
        .get_template("status.html")
        .render(
            settings=settings,
            view=view,
            days=len(view.days),
            day_rules=day_rules(view.days),
            banner={
                "status": view.overall.value,
                "symbol": symbol,
                "text": BANNER.get(view.overall.value, "All Systems Operational"),
            },
            active=[_incident(view, i, settings) for i in view.active_incidents],
            maintenance=[
                _maintenance(view, m) for m in view.maintenance if m.state(view.now) != "completed"
            ],
            groups=_groups(view, f"{len(view.days)}d"),
            past_days=past_days,
            newer=settings.link(f"/status?page={page - 1}") if page > 1 else None,
            older=settings.link(f"/status?page={page + 1}") if page < MAX_PAST_PAGES else None,
        )
    )


def render_incident_page(view: PublicView, settings: PageSettings, incident_id: int) -> str | None:
    """``/status/incidents/{id}``; None when the incident is not public (or unknown)."""
    inc = next((i for i in view.incidents if i.id == incident_id), None)
    if inc is None:
        return None
    return (
        _env()
        .get_template("incident.html")
        .render(settings=settings, view=view, incident=_incident(view, inc, settings))
    )


def _month_cells(days: Sequence[Mapping[str, Any]]) -> Markup:
    """A month's day cells; plain days carry only their number (the words are CSS's)."""
    out = []
    for rec in days:
        d = date.fromisoformat(str(rec["day"]))
        status = str(rec.get("status", "nd"))
        cls = DAY_CLASS.get(status, "")
        attr = f" class={cls}" if cls else ""
        if status == "future":
            out.append(f"<li{attr} aria-hidden=true>{d.day}")
        elif status in ("po", "mo"):
            day = PublicDay(
                day=d,
                status=status,
                uptime=str(rec.get("uptime", "—")),
                downtime_s=float(rec.get("downtime_s") or 0),
            )
            out.append(f"<li tabindex=0{attr}>{d.day}<span>{escape(_day_text(day))}</span>")
        else:
            out.append(f"<li tabindex=0{attr}>{d.day}")
    return Markup("".join(out))


def _add_months(year: int, month: int, delta: int) -> tuple[int, int]:
    n = year * 12 + (month - 1) + delta
    return n // 12, n % 12 + 1


def render_history_page(
    view: PublicView,
    settings: PageSettings,
    calendars: Mapping[str, Mapping[str, Any]],
    *,
    until: str,
    months: int = 3,
    month_uptime: Mapping[tuple[str, str], str] | None = None,
) -> str:
    """``/status/history``: per public service, a calendar of daily statuses by month.

    Args:
        view: the public view (which services are public, their names and groups).
        settings: title, logo, footer, links.
        calendars: per service id, the ``service.calendar`` reply for these months.
        until: the last month shown, "YYYY-MM" (the pager links move it).
        months: how many months each page shows.
        month_uptime: optional (service id, "YYYY-MM") → uptime text (``sla.report``).
    """
    groups = []
    for name, members in view.groups():
        services = []
        for s in members:
            cal = calendars.get(s.id) or {}
            shown = []
            for m in cal.get("months") or []:
                y, mo = (int(x) for x in str(m["month"]).split("-"))
                shown.append(
                    {
                        "label": f"{calendar.month_name[mo]} {y}",
                        "uptime": (month_uptime or {}).get((s.id, str(m["month"]))),
                        "pad": date(y, mo, 1).weekday(),
                        "css_label": _css_string(f"{calendar.month_abbr[mo]} {y}"),
                        "cells": _month_cells(m.get("days") or []),
                    }
                )
            services.append({"id": s.id, "name": s.name, "months": shown})
        groups.append({"name": name, "services": services})
    y, mo = (int(x) for x in until.split("-"))
    older = _add_months(y, mo, -months)
    newer = _add_months(y, mo, months)
    this_month = (view.now.year, view.now.month)
    newer = min(newer, this_month)
    return (
        _env()
        .get_template("history.html")
        .render(
            settings=settings,
            view=view,
            groups=groups,
            older=settings.link(f"/status/history?until={older[0]:04d}-{older[1]:02d}"),
            newer=(
                settings.link(f"/status/history?until={newer[0]:04d}-{newer[1]:02d}")
                if (y, mo) < this_month
                else None
            ),
        )
    )
