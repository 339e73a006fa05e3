"""The quorum picture of a service probed from several regions (issue 15, a cluster).

Under the header of the service detail, from service.get's ``quorum``, ``regions``,
``status_note`` and ``region_uptime_24h`` (docs/feed.md); nothing on a single node::

    Regions  a major outage needs 2 of 3 regions (ap, eu, us)
    ◆ Down from us only: a partial outage, not counted as downtime
      ap  ✔ up       24h 100.00%  node c
      eu  ✔ up       24h 100.00%  node a
      us  ✕ down     24h 87.50%   node b · 3 failures
    Uptime above: the quorum's; 24h per region: that region's own checks

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
    detail: Mapping[str, Any] | None, styles: Mapping[str, Style] | None = None
) -> Text:
    """The lines of the quorum picture; empty when the service has no regions (one node)."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if not detail or not detail.get("regions"):
        return text
    styles = styles or {}
    views: Mapping[str, Any] = detail.get("regions") or {}
    quorum: Mapping[str, Any] = detail.get("quorum") or {}
    uptimes: Mapping[str, Any] = detail.get("region_uptime_24h") or {}
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
    for name in names:
        view = views.get(name) or {}
        state = region_state(name, view, quorum)
        symbol, word = REGION_STATES[state]
        text.append(f"\n  {name:<{width}}  ")
        text.append(f"{symbol} {word:<8}", style=styles.get(state))
        text.append(f" 24h {percent(uptimes.get(name)):<8}")
        extra = []
        if view.get("node"):
            extra.append(f"node {view['node']}")
        failures = int(view.get("failures") or 0)
        if failures:
            extra.append(f"{failures} failure{'s' if failures != 1 else ''}")
        if state == "not_counted":
            extra.append("its node is sick: not counted")
        if extra:
            text.append(" " + " · ".join(extra), style=styles.get("muted"))
    text.append(
        "\nUptime above: the quorum's; 24h per region: that region's own checks",
        style=styles.get("muted"),
    )
    return text


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
        text = regions_text(detail, styles)
        self.display = bool(text.plain)
        self.update(text)

    @property
    def plain(self) -> str:
        """What is shown, as plain text."""
        return regions_text(self.detail).plain
