"""The quorum picture of a service probed from several regions (issue 15, a cluster).

Under the header of the service detail, from service.get's ``quorum``, ``regions``,
``status_note`` and ``region_uptime`` (``region_uptime_24h`` from an older daemon;
docs/feed.md); nothing on a single node::

    Regions  a major outage needs 2 of 3 regions (ap, eu, us)
    ◆ Down from us only: a partial outage, not counted as downtime
      ap  ✔ up       node c                24h 100.00% 7d 100.00% 30d 100.00%
      eu  ✔ up       node a                24h 100.00% 7d 100.00% 30d 100.00%
      us  ✕ down     node b · 3 failures   24h 87.50%  7d 99.12%  30d 99.80%
    Uptime above: the quorum's; per region: that region's own checks

What says a region is in trouble (its state, failures, a sick node) comes before the
figures, so a narrow screen cuts a 30-day figure, never that.

Each region's state is a symbol and a word (colour adds to them, never alone).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from slamon_daemon.text import percent

REGION_STATES: dict[str, tuple[str, str]] = {
    "up": ("✔", "up"),
    "failing": ("…", "failing"),
    "down": ("✕", "down"),
    "not_counted": ("⚠", "sick"),
    "unknown": ("?", "no check"),
}
"""A region's state: its symbol and word."""


def region_state(name: str, view: Mapping[str, Any], quorum: Mapping[str, Any]) -> str:
    """One region's state as the quorum counts it (a key of REGION_STATES)."""
    if name in (quorum.get("not_counted") or ()):
        return "not_counted"
    if not view or view.get("last_at") is None:
        return "unknown"
    if view.get("down"):
        return "down"
    if int(view.get("failures") or 0) > 0:
        return "failing"
    return "up"


def regions_text(
    detail: Mapping[str, Any] | None,
    styles: Mapping[str, Style] | None = None,
    columns: int | None = None,
) -> Text:
    """The lines of the quorum picture; empty when the service has no regions (one node).

    ``columns``: the width there is; the longer windows (7d, 30d) are left out from the
    right where a region's line would not fit (24 h always stays)."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if not detail or not detail.get("regions"):
        return text
    styles = styles or {}
    views: Mapping[str, Any] = detail.get("regions") or {}
    quorum: Mapping[str, Any] = detail.get("quorum") or {}
    windows: Mapping[str, Any] = detail.get("region_uptime") or {
        "24h": detail.get("region_uptime_24h") or {}
    }
    names = sorted(set(quorum.get("regions") or ()) | set(views))
    needed = quorum.get("needed")
    text.append("Regions  ", style="bold")
    if needed is not None:
        text.append(f"a major outage needs {needed} of {len(names)} regions ({', '.join(names)})")
    else:
        text.append(", ".join(names))
    note = detail.get("status_note")
    if note:
        text.append("\n")
        text.append(
            f"◆ {str(note)[:1].upper()}{str(note)[1:]}: a partial outage, not counted as downtime",
            style=styles.get("warning"),
        )
    width = max((len(n) for n in names), default=0)
    extras = {name: _extra(name, views.get(name) or {}, quorum) for name in names}
    extra_width = max((len(e) for e in extras.values()), default=0)
    used = 2 + width + 2 + 10 + 1 + extra_width  # name, state, node and failures
    shown: dict[str, Any] = {}
    for window, figures in windows.items():
        used += 2 + len(window) + 1 + 7
        if shown and columns is not None and used > columns:
            break
        shown[window] = figures
    for name in names:
        view = views.get(name) or {}
        state = region_state(name, view, quorum)
        symbol, word = REGION_STATES[state]
        text.append(f"\n  {name:<{width}}  ")
        text.append(f"{symbol} {word:<8}", style=styles.get(state))
        text.append(f" {extras[name]:<{extra_width}}", style=styles.get("muted"))
        for window, figures in shown.items():
            text.append(f"  {window} {percent((figures or {}).get(name)):<7}")
    text.append(
        "\nUptime above: the quorum's; per region: that region's own checks",
        style=styles.get("muted"),
    )
    return text


def _extra(name: str, view: Mapping[str, Any], quorum: Mapping[str, Any]) -> str:
    """A region's node, failures and whether its node is sick, in words."""
    extra = []
    if view.get("node"):
        extra.append(f"node {view['node']}")
    failures = int(view.get("failures") or 0)
    if failures:
        extra.append(f"{failures} failure{'s' if failures != 1 else ''}")
    if region_state(name, view, quorum) == "not_counted":
        extra.append("its node is sick: not counted")
    return " · ".join(extra)


class RegionView(Static):
    """The quorum picture; ``show`` takes a service.get result (hidden without regions)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        f"region-view--{k}" for k in (*REGION_STATES, "warning", "muted")
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.detail: Mapping[str, Any] | None = None

    def on_mount(self) -> None:
        self.display = False

    def show(self, detail: Mapping[str, Any] | None) -> None:
        """Show a service.get result's quorum picture."""
        self.detail = detail
        keys = [*REGION_STATES, "warning", "muted"]
        styles = {k: self.get_component_rich_style(f"region-view--{k}", partial=True) for k in keys}
        text = regions_text(detail, styles, self.size.width or self.app.size.width - 2)
        self.display = bool(text.plain)
        self.update(text)

    def on_resize(self) -> None:
        if self.detail is not None:
            self.show(self.detail)

    @property
    def plain(self) -> str:
        """What is shown, as plain text."""
        return regions_text(self.detail).plain
