"""The TUI's boundaries: which daemon modules it may import, and a client free of Textual."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import slamon_tui

PACKAGE = Path(slamon_tui.__file__).parent
# The pure modules of the daemon package (STYLE.md: slamon_tui → protocol, models, text).
ALLOWED = {"slamon_daemon.protocol", "slamon_daemon.models", "slamon_daemon.text"}
# `slamon db|user|report` hand over to the daemon's admin CLI (and read its config to find
# the socket), imported lazily in one place; pyproject.toml's import-linter contract says so too.
LAZY = {
    ("cli.py", "slamon_daemon.cli"),
    ("cli.py", "slamon_daemon.config"),
    ("cli.py", "slamon_daemon.errors"),
}


def _daemon_imports(path: Path) -> list[tuple[str, bool]]:
    """(module, at top level) for every import of slamon_daemon in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = set(map(id, tree.body))
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
            if node.module == "slamon_daemon":
                names = [f"slamon_daemon.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            if name.split(".")[0] == "slamon_daemon":
                found.append((name, id(node) in top))
    return found


def test_tui_imports_only_the_pure_daemon_modules() -> None:
    seen = set()
    for path in PACKAGE.rglob("*.py"):
        for module, top_level in _daemon_imports(path):
            seen.add(module)
            if (path.name, module) in LAZY:
                assert not top_level, f"{path}: import {module} inside the function that needs it"
            else:
                assert module in ALLOWED, f"{path} imports {module}"
    assert "slamon_daemon.protocol" in seen  # the scan does find imports


def test_client_and_cli_helpers_do_not_load_textual() -> None:
    code = (
        "import sys, slamon_tui.client, slamon_tui.models.dashboard, slamon_tui.formatting, slamon_tui.cli\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'textual')\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_app_starts_without_the_screens_it_may_open() -> None:
    # Issue 14: every import is paid before the first paint. The dashboard's own modules
    # load with the app; the screens it opens load when first opened (their tests open them).
    code = (
        "import sys\n"
        "from slamon_tui.app import make_app\n"
        "make_app('/nonexistent.sock')\n"
        "late = ['admin', 'alerts', 'audit', 'help', 'incidents', 'incident_detail',\n"
        "        'incident_edit', 'login', 'nodes', 'noc', 'service', 'sla', 'check_detail']\n"
        "bad = [m for m in late if 'slamon_tui.screens.' + m in sys.modules]\n"
        "bad += [m for m in ('markdown_it', 'pygments') if m in sys.modules]\n"
        "ok = 'slamon_tui.screens.dashboard' in sys.modules\n"
        "print(bad, ok); sys.exit(1 if bad or not ok else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
