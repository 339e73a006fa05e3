"""Body assertions of a check: ``body_contains``, ``body_regex`` and ``json_path``.

``json_path`` is a small, documented subset of JSONPath, enough for health endpoints:

    $.status                       the value exists and is not null/false
    $.status == 'UP'               equals a string ('…' or "…"), number, true, false or null
    $.checks[0].ok != false        != compares the same way
    $.items.length > 0             not supported: comparisons are == and != only

Paths are ``$`` followed by ``.name`` or ``[index]`` steps. Parsed once when the config is
read (``parse_json_path`` raises ValueError with a sentence), evaluated per check.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_STEP_RE = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\['([^'\"]+)'\]|\[\"([^'\"]+)\"\]")
_EXPR_RE = re.compile(r"^\s*(\$[^=!]*?)\s*(?:(==|!=)\s*(.+?))?\s*$")
JSON_PATH_HELP = (
    'expected a path like "$.status" or "$.status == \'UP\'" ($ then .name / [index] steps,'
    " optionally == or != a string, number, true, false or null)"
)

_MISSING = object()


@dataclass(frozen=True, slots=True)
class JsonPath:
    """A parsed json_path assertion."""

    text: str
    steps: tuple[str | int, ...]
    op: str | None
    value: Any

    def check(self, body: bytes) -> str | None:
        """None when the body satisfies the assertion, else a short reason."""
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested too deep
            return f"json_path {self.text}: body is not JSON"
        node: Any = doc
        for step in self.steps:
            if isinstance(step, int) and isinstance(node, list) and -len(node) <= step < len(node):
                node = node[step]
            elif isinstance(step, str) and isinstance(node, dict) and step in node:
                node = node[step]
            else:
                node = _MISSING
                break
        if self.op is None:
            if node is _MISSING or node is None or node is False:
                return f"json_path {self.text}: not found or null/false"
            return None
        found = None if node is _MISSING else node
        equal = _same(found, self.value)  # a missing value compares as null
        if (self.op == "==") != equal:
            shown = "missing" if node is _MISSING else json.dumps(found)[:60]
            return f"json_path {self.text}: got {shown}"
        return None


def _same(a: Any, b: Any) -> bool:
    """JSON equality: numbers by value (3 == 3.0), never True == 1."""
    num = (int, float)
    if (
        isinstance(a, num)
        and isinstance(b, num)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        return bool(a == b)
    return type(a) is type(b) and a == b


def _literal(text: str) -> Any:
    t = text.strip()
    quoted = re.fullmatch(r"'([^']*)'|\"([^\"]*)\"", t)
    if quoted:
        return quoted.group(1) if quoted.group(1) is not None else quoted.group(2)
    if t[:1] in ("'", '"'):
        _raise(t)
    if t in ("true", "false", "null"):
        return json.loads(t)
    try:
        return json.loads(t) if re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", t) else _raise(t)
    except json.JSONDecodeError:
        _raise(t)


def _raise(t: str) -> Any:
    raise ValueError(f"cannot read the value {t!r}; {JSON_PATH_HELP}")


def parse_json_path(text: str) -> JsonPath:
    """Parse a json_path assertion; raises ValueError with what is allowed."""
    m = _EXPR_RE.match(text)
    if not m:
        raise ValueError(f"{text!r}: {JSON_PATH_HELP}")
    path, op, raw = m.group(1).strip(), m.group(2), m.group(3)
    if not path.startswith("$"):
        raise ValueError(f"{text!r}: {JSON_PATH_HELP}")
    rest = path[1:]
    steps: list[str | int] = []
    pos = 0
    while pos < len(rest):
        sm = _STEP_RE.match(rest, pos)
        if not sm:
            raise ValueError(f"{text!r}: cannot read {rest[pos:]!r}; {JSON_PATH_HELP}")
        if sm.group(1) is not None:
            steps.append(sm.group(1))
        elif sm.group(2) is not None:
            steps.append(int(sm.group(2)))
        else:
            steps.append(sm.group(3) if sm.group(3) is not None else sm.group(4))
        pos = sm.end()
    value = _literal(raw) if op else None
    return JsonPath(text=text, steps=tuple(steps), op=op, value=value)
