"""Checking alert settings: problems across tables, and pydantic errors as config lines.

Each problem is one line, like the rest of the configuration (``config.py``):
``file: key.path: what was wrong; what is allowed``.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ..errors import ConfigError
from .config import (
    CHANNEL_MODELS,
    CHANNEL_TYPES,
    AlertsConfig,
    AlertSettings,
    ServiceAlertFields,
)


def cross_check(services: list[ServiceAlertFields], channels: list[Any]) -> list[tuple[str, str]]:
    """Problems across tables: (key path, sentence) for duplicate channel ids, unknown
    depends_on / alert_channels ids and dependency cycles."""
    out: list[tuple[str, str]] = []
    first: dict[str, int] = {}
    for i, c in enumerate(channels):
        if c.id in first:
            out.append(
                (
                    f"alert_channel[{i}] (id={c.id}).id",
                    f"duplicate channel id {c.id!r} (first used by alert_channel[{first[c.id]}]);"
                    " each [[alert_channel]] needs its own id",
                )
            )
        else:
            first[c.id] = i
    ids = {s.id for s in services}
    for i, s in enumerate(services):
        where = f"service[{i}] (id={s.id})"
        unknown = [d for d in s.depends_on if d not in ids]
        if unknown:
            out.append((f"{where}.depends_on", f"unknown services {unknown}; known: {sorted(ids)}"))
        if s.id in s.depends_on:
            out.append((f"{where}.depends_on", "a service cannot depend on itself"))
        if s.alert_channels is not None:
            missing = [c for c in s.alert_channels if c not in first]
            if missing:
                out.append(
                    (
                        f"{where}.alert_channels",
                        f"unknown channels {missing}; known: {sorted(first)}",
                    )
                )
    cycle = dependency_cycle({s.id: list(s.depends_on) for s in services})
    if cycle:
        out.append(("service.depends_on", f"dependency cycle: {' -> '.join(cycle)}"))
    return out


def dependency_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A cycle of ``depends_on`` edges as a path that returns to its start, or None."""
    state: dict[str, int] = {}  # 1 visiting, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, []):
            if nxt == node:
                continue  # reported on its own
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt in graph and state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state.get(node) is None:
            found = visit(node)
            if found:
                return found
    return None


def load_alert_settings(data: dict[str, Any], where: str) -> AlertSettings:
    """Alert settings from a parsed TOML document.

    Raises:
        ConfigError: one line per problem: ``where: key.path: what; what is allowed``.
    """
    subset = {k: data[k] for k in ("alerts", "alert_channel", "service") if k in data}
    try:
        settings = AlertSettings.model_validate(subset)
    except ValidationError as exc:
        raise ConfigError(problem_lines(exc, where, data)) from None
    problems = cross_check(settings.service, settings.alert_channel)
    if problems:
        raise ConfigError([f"{where}: {path}: {msg}" for path, msg in problems])
    return settings


def problem_lines(exc: ValidationError, where: str, data: dict[str, Any]) -> list[str]:
    """``ValidationError`` of ``AlertSettings`` as config.py-style lines."""
    return [f"{where}: {_format_loc(loc, data)}: {msg}" for loc, msg in _problems(exc)]


def channel_problems(exc: ValidationError) -> dict[str, str]:
    """A channel's problems by key, for a form's fields: ``{"url": "must be an http:// …"}``.

    ``exc`` comes from validating one channel (``AlertChannelConfig``). The key is the
    channel's own (the type's tag left out); a deeper place starts the message
    (``rules[1]: Input should be …``, ``headers.X-Token: …``)."""
    out: dict[str, list[str]] = {}
    for loc, msg in _problems(exc):
        if loc and loc[0] in CHANNEL_MODELS:
            loc = loc[1:]
        key = str(loc[0]) if loc else "channel"
        rest = "".join(f"[{x}]" if isinstance(x, int) else f".{x}" for x in loc[1:])
        out.setdefault(key, []).append(f"{key}{rest}: {msg}" if rest else msg)
    return {key: "; ".join(msgs) for key, msgs in out.items()}


def _problems(exc: ValidationError) -> list[tuple[tuple[Any, ...], str]]:
    """Each error's place and a sentence (pydantic's wording made the config's)."""
    out: list[tuple[tuple[Any, ...], str]] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        msg = str(err["msg"])
        kind = err["type"]
        if kind == "union_tag_invalid":
            msg = f"unknown channel type {err['input'].get('type')!r}; allowed: " + ", ".join(
                CHANNEL_TYPES
            )
            loc = (*loc, "type")
        elif kind == "union_tag_not_found":
            msg = "required key type is missing; allowed: " + ", ".join(CHANNEL_TYPES)
            loc = (*loc, "type")
        elif kind == "extra_forbidden":
            msg = f"unknown key; allowed here: {', '.join(_allowed_keys(loc))}"
        elif kind == "missing":
            msg = "required key is missing"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        loc = tuple(x for x in loc if not str(x).startswith("function-"))
        out.append((loc, msg))
    return out


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    if loc and loc[0] == "alerts":
        return sorted(AlertsConfig.model_fields)
    if loc and loc[0] == "alert_channel" and len(loc) > 2 and loc[2] in CHANNEL_MODELS:
        return sorted(CHANNEL_MODELS[loc[2]].model_fields)
    if loc and loc[0] in CHANNEL_MODELS:  # one channel (alert.channel_save)
        return sorted(CHANNEL_MODELS[loc[0]].model_fields)
    return sorted(AlertSettings.model_fields)


def _format_loc(loc: tuple[Any, ...], data: dict[str, Any]) -> str:
    parts: list[str] = []
    node: Any = data
    prev: Any = None
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if isinstance(node, list) and 0 <= item < len(node) and isinstance(node[item], dict):
                ident = node[item].get("id")
                if isinstance(ident, str):
                    label += f" (id={ident})"
            parts.append(label)
            node = node[item] if isinstance(node, list) and 0 <= item < len(node) else None
        elif isinstance(prev, int) and item in CHANNEL_MODELS and loc[0] == "alert_channel":
            pass  # the discriminator's tag, not a key of the file
        elif str(item).startswith("function-"):
            pass
        else:
            parts.append(f".{item}" if parts else str(item))
            node = node.get(item) if isinstance(node, dict) else None
        prev = item
    return "".join(parts) or "(top level)"
