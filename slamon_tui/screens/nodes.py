"""The nodes of a cluster (issue 15), from ``nodes.list``: each daemon on the shared
PostgreSQL with its region, state (running, stopped, dead), heartbeat age, leases held,
health (CPU, memory, lateness, self-check), why it is flagged sick, and the singletons it
runs. A single-node daemon says so. ``r`` reloads; Escape goes back.
"""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Static

from slamon_tui.client import FeedCallError, FeedClientError
from slamon_tui.types import FeedCall
from slamon_tui.widgets.identity_badge import IdentityBadge
from slamon_tui.widgets.keys_footer import KeysFooter
from slamon_tui.widgets.record_table import RecordTable

COLUMNS = ("Node", "Region", "State", "Heartbeat", "Leases", "Health", "Sick (why)", "Runs")


def health_text(h: Any) -> str:
    """``cpu 12% mem 40% late 0.02s self-check up`` from a node's last health sample."""
    if not isinstance(h, dict) or not h:
        return "—"
    parts = []
    if "cpu_percent" in h:
        parts.append(f"cpu {h['cpu_percent']:.0f}%")
    if "mem_percent" in h:
        parts.append(f"mem {h['mem_percent']:.0f}%")
    if "lateness_p99_s" in h:
        parts.append(f"late {h['lateness_p99_s']:.2f}s")
    sc = h.get("selfcheck")
    if isinstance(sc, dict):
        parts.append(f"self-check {sc.get('outcome', '?')}")
    return " ".join(parts) or "—"


def node_rows(reply: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """The table's rows for a nodes.list reply."""
    runs: dict[str, list[str]] = {}
    for name, node in (reply.get("singletons") or {}).items():
        runs.setdefault(str(node), []).append(str(name))
    rows = []
    for n in reply.get("nodes") or []:
        name = str(n.get("name"))
        state = str(n.get("state") or "?")
        age = n.get("heartbeat_age_s")
        sick = n.get("sick")
        rows.append(
            (
                name,
                [
                    name,
                    str(n.get("region") or "—"),
                    state.upper() if state != "running" else state,
                    f"{age:.1f}s ago" if isinstance(age, int | float) else "—",
                    str(n.get("leases", n.get("services", "—"))),
                    health_text(n.get("health")),
                    f"✕ SICK: {sick}" if sick else "—",
                    ", ".join(sorted(runs.get(name, []))) or "—",
                ],
            )
        )
    return rows


class NodesScreen(Screen[None]):
    """The cluster's nodes as a table."""

    BINDINGS = [
        Binding("escape", "back", "Back", key_display="Esc"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self, call: FeedCall) -> None:
        super().__init__()
        self._call = call
        self.reply: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        with Horizontal(classes="title-row"):
            yield Static("Nodes", id="nodes-title", classes="screen-title")
            yield IdentityBadge(classes="identity-badge")
        yield Static("", id="nodes-problem", classes="screen-problem")
        yield RecordTable(*COLUMNS, id="nodes-table")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#nodes-problem").display = False
        self.query_one(RecordTable).focus()
        self.action_reload()

    def action_back(self) -> None:
        self.dismiss()

    @work(exclusive=True, group="nodes", exit_on_error=False)
    async def action_reload(self) -> None:
        """Fetch nodes.list again."""
        problem = self.query_one("#nodes-problem", Static)
        try:
            reply = await self._call("nodes.list", {})
        except (FeedCallError, FeedClientError) as exc:
            problem.update(f"✕ Cannot load the nodes: {getattr(exc, 'message', exc)}")
            problem.display = True
            return
        self.show(reply if isinstance(reply, dict) else {})

    def show(self, reply: dict[str, Any]) -> None:
        self.reply = reply
        rows = node_rows(reply)
        self.query_one("#nodes-table", RecordTable).set_rows(rows)
        problem = self.query_one("#nodes-problem", Static)
        sick = [r[0] for r in rows if r[1][6] != "—"]
        if not reply.get("cluster"):
            problem.update(f"Single node: {reply.get('note') or 'not a cluster'}")
            problem.display = True
        elif sick:
            problem.update(f"✕ Sick: {', '.join(sick)} (their failures do not count)")
            problem.display = True
        else:
            problem.display = False
        self.query_one("#nodes-title", Static).update(f"Nodes — {len(rows)}")
