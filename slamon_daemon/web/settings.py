"""What the public pages say about themselves: title, logo text, footer link, public URL.

The daemon builds one ``PageSettings`` from the ``[status_page]`` config section and passes it
to every renderer; nothing here reads the configuration itself.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PageSettings:
    """Settings of the public status page and the Statuspage-compatible JSON."""

    title: str = "Service status"
    """The page title (HTML <title>, the Atom feed title, Statuspage ``page.name``)."""
    logo_text: str = ""
    """Text shown as the logo in the header (the title when empty)."""
    footer_text: str = ""
    """Text of the footer link (none when empty)."""
    footer_url: str = ""
    """Target of the footer link, e.g. the company's home page."""
    public_url: str = ""
    """The page's public base URL (``https://status.example.com``) without a trailing slash;
    used for Statuspage ``page.url``, incident shortlinks and the Atom feed's links. Empty:
    links are relative to the site root."""
    page_id: str = "slamon"
    """Statuspage ``page.id`` (any stable string; widgets use it as a key)."""
    time_zone: str = "Etc/UTC"
    """Statuspage ``page.time_zone``. Days on the page are UTC days, as everywhere in slamon."""
    past_days_per_page: int = 14
    """Days of past incidents per page of the status page's history section."""

    @property
    def logo(self) -> str:
        return self.logo_text or self.title

    def link(self, path: str) -> str:
        """An absolute link when ``public_url`` is set, else a root-relative one."""
        return f"{self.public_url.rstrip('/')}{path}"
