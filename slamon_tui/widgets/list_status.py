"""The line under the dashboard's list: problems out of view and where, what the filter
hides, the sort (issue 12: no problem is ever hidden without a line saying so)."""

from __future__ import annotations

from slamon_tui.models.dashboard_view import ListView


def _problems(n: int) -> str:
    return f"{n} problem{'' if n == 1 else 's'}"


def list_status_text(
    above: int, below: int, view: ListView, *, filter_text: str = "", sort: str = ""
) -> str:
    """ "▲ 1 problem above · ▼ 3 problems below ↓ (n: next) · filter "eu": 2 problems
    hidden (Esc clears) · sort: problems first (s)"."""
    parts: list[str] = []
    if above:
        parts.append(f"▲ {_problems(above)} above")
    if below:
        parts.append(f"▼ {_problems(below)} below ↓")
    if above or below:
        parts[-1] += " (n: next)"
    if filter_text:
        hidden = view.problems_filtered_out
        shown = f'filter "{filter_text}": {view.filtered_out} hidden'
        if hidden:
            shown += f", {_problems(hidden)} among them"
        parts.append(shown + " (Esc clears)")
    if sort:
        parts.append(f"s sort: {sort}")
    parts.append("i incident · e errors · / filter")
    return " · ".join(parts)
