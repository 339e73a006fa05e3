"""Find the numbered migration files of a backend (schema/<backend>/NNNN_name.sql).

The top-level schema/ folder of the repository is their source; a built wheel carries a copy
inside the package (slamon_daemon/schema/, copied by setup.py at build time), read here with
importlib.resources. The dialects apply them (each in its own transaction) and record each in
``schema_migrations``. An applied file is never edited: a change is a new file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from ..errors import MigrationError

_NAME_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def schema_dir() -> Traversable:
    """$SLAMON_SCHEMA_DIR, else the schema inside the installed package, else the checkout's."""
    env = os.environ.get("SLAMON_SCHEMA_DIR")
    if env:
        return Path(env)
    packaged = resources.files("slamon_daemon") / "schema"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "schema"  # a checkout (editable install)


def load_migrations(backend: str) -> list[Migration]:
    """Every migration of ``backend`` in version order.

    Raises:
        MigrationError: the folder is missing, a file is misnamed, or two share a number.
    """
    folder = schema_dir() / backend
    if not folder.is_dir():
        raise MigrationError(f"migrations folder {folder} not found")
    out: list[Migration] = []
    seen: dict[int, str] = {}
    for p in sorted(folder.iterdir(), key=lambda p: p.name):
        if not p.name.endswith(".sql"):
            continue
        m = _NAME_RE.match(p.name)
        if not m:
            raise MigrationError(f"{p}: migration files are named NNNN_lowercase_name.sql")
        v = int(m.group(1))
        if v in seen:
            raise MigrationError(f"{p}: version {v} is also used by {seen[v]}")
        seen[v] = p.name
        out.append(Migration(v, p.name, p.read_text(encoding="utf-8")))
    return out
