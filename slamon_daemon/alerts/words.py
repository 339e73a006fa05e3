"""Durations and lists in words, for alert messages a person reads at 3 a.m.

``duration_words(184_000)`` is ``"2 days 3 hours"``: the two largest units, rounded down,
so "runs out in 2 days 3 hours" never promises more time than there is.
"""

from __future__ import annotations

from collections.abc import Sequence

_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def duration_words(seconds: float, *, parts: int = 2) -> str:
    """``seconds`` as e.g. "2 days 3 hours", "45 minutes", "12 seconds" (rounded down)."""
    left = max(0, int(seconds))
    if left == 0:
        return "less than a second"
    out: list[str] = []
    for name, size in _UNITS:
        n, left = divmod(left, size)
        if n:
            out.append(f"{n} {name}{'s' if n != 1 else ''}")
        elif out:
            break  # "2 days 3 minutes" would hide the missing hours: stop at a gap
        if len(out) == parts:
            break
    return " ".join(out)


def name_list(names: Sequence[str], *, limit: int = 10) -> str:
    """``"a, b and c"``; past ``limit`` names: ``"a, b, … and 12 more"``."""
    if not names:
        return ""
    if len(names) > limit:
        shown = list(names[:limit])
        return f"{', '.join(shown)} and {len(names) - limit} more"
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} and {names[-1]}"


def plural(n: int, word: str, many: str | None = None) -> str:
    """``"1 service"``, ``"7 services"``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"
