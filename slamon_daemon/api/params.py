"""Validation of method params: each problem is an ``InvalidParams`` error that says which
parameter was wrong and what is allowed (and names it in ``fields`` for forms)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from ..errors import InvalidParams

_MISSING = object()


def bad(message: str, field: str | None = None) -> InvalidParams:
    """invalid_params; names ``field`` (else the first quoted name in the message)."""
    if field is None and message.startswith('"'):
        field = message[1:].split('"', 1)[0]
    return InvalidParams(message, {field: message} if field else None)


def only(params: dict[str, Any], allowed: Collection[str], method: str) -> None:
    """Refuse params this method does not know."""
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        allowed_text = ", ".join(sorted(allowed)) or "none"
        raise bad(f"{method}: unknown params {unknown}; allowed: {allowed_text}")


def none(params: dict[str, Any], method: str) -> None:
    """Refuse any params: ``method`` takes none."""
    if params:
        raise InvalidParams(f"{method} takes no params; got {sorted(params)}")


def flag(params: dict[str, Any], name: str, *, default: bool) -> bool:
    """A true/false param."""
    v = params.get(name, default)
    if not isinstance(v, bool):
        raise bad(f'"{name}" must be true or false')
    return v


def text(
    params: dict[str, Any], name: str, *, default: Any = _MISSING, max_len: int = 10_000
) -> Any:
    v = params.get(name, default)
    if v is _MISSING:
        raise bad(f'"{name}" is required (a string)')
    if v is default and default is not _MISSING:
        return v
    if not isinstance(v, str) or not v.strip():
        raise bad(f'"{name}" must be a non-empty string')
    if len(v) > max_len:
        raise bad(f'"{name}" is longer than {max_len} characters')
    return v


def integer(params: dict[str, Any], name: str, *, default: Any = _MISSING, lo: int, hi: int) -> Any:
    v = params.get(name, default)
    if v is _MISSING:
        raise bad(f'"{name}" is required (an integer {lo}..{hi})')
    if v is default and default is not _MISSING:
        return v
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise bad(f'"{name}" must be an integer from {lo} to {hi}, got {v!r}')
    return v


def choice(
    params: dict[str, Any], name: str, options: Collection[str], *, default: Any = _MISSING
) -> Any:
    v = params.get(name, default)
    if v is _MISSING or v not in options:
        raise bad(f'"{name}" must be one of {", ".join(options)}; got {v!r}')
    return v


def timestamp(params: dict[str, Any], name: str, *, default: Any = _MISSING) -> Any:
    v = params.get(name, default)
    if v is _MISSING:
        raise bad(f'"{name}" is required (an RFC 3339 time like 2026-11-22T02:00:00Z)')
    if v is default and default is not _MISSING:
        return v
    if not isinstance(v, str):
        raise bad(f'"{name}" must be an RFC 3339 time string like 2026-11-22T02:00:00Z')
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise bad(f'"{name}": {v!r} is not an RFC 3339 time like 2026-11-22T02:00:00Z') from None
    if dt.tzinfo is None:
        raise bad(f'"{name}": {v!r} has no UTC offset; add Z or +HH:MM')
    return dt.astimezone(UTC)


def string_list(params: dict[str, Any], name: str, *, default: Any = _MISSING) -> Any:
    v = params.get(name, default)
    if v is _MISSING:
        raise bad(f'"{name}" is required (a list of strings)')
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise bad(f'"{name}" must be a list of strings')
    return v
