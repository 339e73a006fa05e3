"""Logging of slamond: plain lines, or one JSON object per line (``[daemon] log_json``)."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, msg (and exc with a traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        d = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            d["exc"] = self.formatException(record.exc_info)
        return json.dumps(d, ensure_ascii=False)


def setup_logging(level: str, as_json: bool) -> None:
    """Log to stderr at ``level`` ($LOG_LEVEL wins), as text or JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    if as_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("LOG_LEVEL", level).upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)


def set_level(level: str) -> str:
    """Change the log level at once (a config reload); $LOG_LEVEL still wins. Returns the
    level in force."""
    effective = os.environ.get("LOG_LEVEL", level).upper()
    logging.getLogger().setLevel(effective)
    return effective
