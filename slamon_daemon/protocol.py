"""The feed's wire format: newline-delimited JSON frames on a Unix socket (docs/feed.md).

Pure: encoding, decoding and validation only, no I/O. The TUI imports this module.

Frames:
    server hello     {"hello": "slamon", "protocol": 1, "node": "...", "version": "..."}
    request          {"id": 1, "method": "status.get", "params": {...}, "token": "..."}
    reply            {"id": 1, "result": {...}}
    error reply      {"id": 1, "error": {"code": "bad_request", "message": "..."}}
    event            {"event": "check", "data": {...}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .encoding import RawJSON, dumps, loads

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 1_048_576
"""A frame (one line) longer than this is refused with ``frame_too_large``."""

EVENT_TOPICS = ("check", "status", "incident", "presence", "maintenance", "resync")


class ErrorCode:
    """Error codes of error replies (the table in docs/feed.md)."""

    PARSE_ERROR = "parse_error"  # the line is not valid JSON (or not UTF-8)
    FRAME_TOO_LARGE = "frame_too_large"  # the line is longer than MAX_FRAME_BYTES
    BAD_REQUEST = "bad_request"  # valid JSON, but not a request object
    UNKNOWN_METHOD = "unknown_method"  # no such method
    INVALID_PARAMS = "invalid_params"  # params missing, of the wrong type or out of range
    NOT_FOUND = "not_found"  # the thing named does not exist
    UNAUTHORIZED = "unauthorized"  # a login is needed
    FORBIDDEN = "forbidden"  # the role may not do this
    RATE_LIMITED = "rate_limited"  # too many requests; retry later
    CONFLICT = "conflict"  # stale version
    UNAVAILABLE = "unavailable"  # the daemon cannot do it right now (e.g. database down)
    INTERNAL = "internal"  # a bug: the daemon logged it and keeps serving


class ProtocolError(Exception):
    """A frame that cannot be served; ``code`` is an ErrorCode and ``id`` the request's, if known."""

    def __init__(
        self,
        code: str,
        message: str,
        request_id: Any = None,
        fields: dict[str, str] | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id
        self.fields = fields  # per-parameter problems, for forms that show them by the field
        self.data = data  # more for the client (e.g. the current incident on a conflict)


@dataclass(slots=True)
class Request:
    id: Any
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    token: str | None = None


def encode_reply(request_id: Any, result: Any) -> bytes:
    """A reply frame; ``result`` may be RawJSON."""
    if isinstance(result, RawJSON):
        return b"".join([b'{"id":', dumps(request_id), b',"result":', *result.parts, b"}\n"])
    return encode(reply(request_id, result))


def encode(obj: dict[str, Any]) -> bytes:
    """One frame: compact JSON and a newline (ASCII escapes only if the text needs them)."""
    return dumps(obj) + b"\n"


def hello(node: str, version: str) -> dict[str, Any]:
    return {"hello": "slamon", "protocol": PROTOCOL_VERSION, "node": node, "version": version}


def reply(request_id: Any, result: Any) -> dict[str, Any]:
    return {"id": request_id, "result": result}


def error_reply(
    request_id: Any,
    code: str,
    message: str,
    fields: dict[str, str] | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if fields:
        err["fields"] = fields
    if data:
        err["data"] = data
    return {"id": request_id, "error": err}


def event(topic: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"event": topic, "data": data}


def decode_request(line: bytes) -> Request:
    """Parse one request line.

    Raises:
        ProtocolError: parse_error, frame_too_large or bad_request, with a sentence saying
            what was wrong and what is allowed.
    """
    if len(line) > MAX_FRAME_BYTES:
        raise ProtocolError(
            ErrorCode.FRAME_TOO_LARGE, f"frame of {len(line)} bytes; the limit is {MAX_FRAME_BYTES}"
        )
    try:
        text = line.decode("utf-8-sig")  # a leading byte-order mark is tolerated
    except UnicodeDecodeError:
        raise ProtocolError(ErrorCode.PARSE_ERROR, "frame is not UTF-8 text") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError(ErrorCode.PARSE_ERROR, f"frame is not valid JSON: {exc}") from None
    except (ValueError, RecursionError):  # absurdly long integers, nesting too deep
        raise ProtocolError(
            ErrorCode.PARSE_ERROR,
            "frame is not JSON this daemon accepts (nested too deeply or a number too long)",
        ) from None
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ProtocolError(
            ErrorCode.PARSE_ERROR, "frame holds text that is not valid Unicode (a lone surrogate)"
        ) from None
    if not isinstance(obj, dict):
        raise ProtocolError(
            ErrorCode.BAD_REQUEST,
            'a request is a JSON object {"id", "method", "params", "token"}',
        )
    rid = obj.get("id")
    if rid is not None and (isinstance(rid, bool) or not isinstance(rid, int | str)):
        raise ProtocolError(ErrorCode.BAD_REQUEST, '"id" must be a number or a string', None)
    method = obj.get("method")
    if not isinstance(method, str) or not method:
        raise ProtocolError(ErrorCode.BAD_REQUEST, '"method" must be a non-empty string', rid)
    params = obj.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ProtocolError(ErrorCode.BAD_REQUEST, '"params" must be a JSON object', rid)
    token = obj.get("token")
    if token is not None and not isinstance(token, str):
        raise ProtocolError(ErrorCode.BAD_REQUEST, '"token" must be a string', rid)
    unknown = set(obj) - {"id", "method", "params", "token"}
    if unknown:
        raise ProtocolError(
            ErrorCode.BAD_REQUEST,
            f"unknown request keys {sorted(unknown)}; allowed: id, method, params, token",
            rid,
        )
    return Request(id=rid, method=method, params=params, token=token)


def decode_message(line: bytes) -> dict[str, Any]:
    """Parse one line from the daemon (client side). Raises ValueError if it is not an object."""
    obj = loads(line)
    if not isinstance(obj, dict):
        raise ValueError("frame is not a JSON object")
    return obj
