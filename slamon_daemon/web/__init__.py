"""The public faces of slamon (SPEC §3.12): renderers over the feed methods' replies.

Everything here is a pure function of documented reply shapes (docs/feed.md): the HTTP
routes call the method registry and hand the results over, so no rule is implemented twice.

    public.py      what customers may see: private services, internal updates and target
                   URLs removed once, before any renderer runs (PublicView)
    statuspage.py  Atlassian-Statuspage-compatible JSON (/api/v2/*.json)
    page.py        the server-rendered status page, incident page and monthly history (Jinja2)
    atom.py        the Atom feed of incidents and maintenance
    badges.py      shields.io-style SVG badges and their ETag (verdana.py: text widths)
    metrics.py     /metrics through prometheus_client, from a cheap snapshot provider
    metrics_cache.py  the same bytes for 1,000 services, re-rendering only what changed
    settings.py    the page's title, logo text, footer link, public URL
"""
