"""What the TUI remembers between runs (issue 12): the dashboard's sort, filter and folded
groups, and the theme.

One small file, ``$XDG_STATE_HOME/slamon/tui.json`` (``~/.local/state`` by default), mode
0600 in a directory of mode 0700 (a filter may name internal services). Written whenever
one of them changes (rarely: a key press); a missing or unreadable file means the defaults.
No Textual here.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

logger = logging.getLogger("slamon.tui.state")

FILE_MODE = 0o600
DIR_MODE = 0o700


def state_file(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/slamon/tui.json``, else ``~/.local/state/slamon/tui.json``."""
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "state"
    return root / "slamon" / "tui.json"


@dataclass
class UiState:
    """The remembered choices; ``update`` changes some and writes the file."""

    sort: str = "problems"
    filter: str = ""
    collapsed: list[str] = field(default_factory=list)
    theme: str | None = None
    path: Path | None = field(default=None, repr=False, compare=False)
    """Where it is kept; None: nowhere (tests, or a read-only home)."""

    @classmethod
    def load(cls, path: Path | None = None) -> UiState:
        """The state in ``path`` (default: state_file()); the defaults when there is none."""
        path = path or state_file()
        known = {f.name for f in fields(cls)} - {"path"}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            state = cls(**{k: v for k, v in data.items() if k in known})
            state.collapsed = [str(g) for g in state.collapsed or []]
        except FileNotFoundError:
            state = cls()
        except (OSError, ValueError, TypeError) as exc:
            logger.warning("ignoring the unreadable %s: %s", path, exc)
            state = cls()
        state.path = path
        return state

    def update(self, **changes: Any) -> None:
        """Change some choices and keep them (a failure to write is logged, not raised)."""
        for key, value in changes.items():
            setattr(self, key, value)
        if self.path is not None:
            try:
                self.save(self.path)
            except OSError as exc:
                logger.warning("cannot keep the TUI's choices in %s: %s", self.path, exc)

    def save(self, path: Path) -> None:
        """Write the choices to ``path`` (mode 0600, replacing the file in one step)."""
        path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        data = {k: v for k, v in asdict(self).items() if k != "path"}
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)
            os.write(fd, json.dumps(data, indent=1).encode())
        finally:
            os.close(fd)
        os.replace(tmp, path)
