"""JSON as the daemon sends it, whatever the transport: compact, with ASCII escapes only when
the text needs them, and ``RawJSON`` for a result that is encoded already.

Pure: no I/O. protocol.py frames these bytes for the feed; a handler may build them itself.
"""

from __future__ import annotations

import json
from typing import Any


class RawJSON:
    """A result already encoded as JSON (bytes), spliced into the reply as it is.

    status.get assembles its reply from per-service fragments cached between checks, so a
    call does not re-encode 1.4 MB of unchanged services.
    """

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


def dumps(obj: Any) -> bytes:
    """Compact JSON bytes (ASCII escapes only if the text needs them)."""
    try:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError:  # a lone surrogate somewhere: escape everything
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=True).encode()
