"""The daemon's files are its own (issue 10): database, WAL, journal, secret, lock files.

slamond sets its umask to 077 at start, so what it creates is 0600 (files) and 0700
(folders); the SQLite file, the journal segments and the secret are also created with those
modes explicitly. Files left by an older version, or made by hand, may be looser: they are
named in the log with the command that fixes them, never changed behind the owner's back.
Read access is shared deliberately through the socket (``socket_group``), not the files.
"""

from __future__ import annotations

import stat
from collections.abc import Iterable
from pathlib import Path


def loose_files(paths: Iterable[Path]) -> list[str]:
    """One line for each of ``paths`` that exists and that others than its owner may read."""
    lines = []
    for path in paths:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            continue
        if mode & 0o077:
            fix = "chmod 700" if path.is_dir() else "chmod 600"
            lines.append(
                f"{path} is open to others (mode {mode:04o}): it holds what only the daemon"
                f" should read; run: {fix} {path} (share read access through socket_group)"
            )
    return lines
