"""The shape of STYLE.md: the daemon never imports the UI; the UI uses only the pure modules."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import slamon_daemon

ROOT = Path(__file__).resolve().parents[1]
TUI_MAY_IMPORT = {
    "slamon_daemon.protocol",
    "slamon_daemon.models",
    "slamon_daemon.text",
}
# slamon_tui.cli hands `slamon db …` / `slamon user …` to the daemon's admin commands (and
# reads its config to find the socket); pyproject.toml's import-linter contract says the same.
TUI_CLI_MAY_IMPORT = TUI_MAY_IMPORT | {
    "slamon_daemon.cli",
    "slamon_daemon.config",
    "slamon_daemon.errors",
}


def test_daemon_never_imports_textual_or_tui() -> None:
    modules = [
        m.name
        for m in pkgutil.walk_packages(slamon_daemon.__path__, "slamon_daemon.")
        if not m.name.endswith("__main__")
    ]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'slamon_tui'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert len(modules) > 10
    assert out.stdout.strip() == "", f"daemon modules imported: {out.stdout}"


def _daemon_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("slamon_daemon")
        ):
            if node.module == "slamon_daemon":
                found |= {f"slamon_daemon.{a.name}" for a in node.names}
            else:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("slamon_daemon")}
    return found


def test_tui_imports_only_pure_daemon_modules() -> None:
    files = list((ROOT / "slamon_tui").rglob("*.py"))
    assert files
    for f in files:
        allowed = (
            TUI_CLI_MAY_IMPORT
            if f.name == "cli.py" and f.parent.name == "slamon_tui"
            else TUI_MAY_IMPORT
        )
        extra = _daemon_imports(f) - allowed
        assert not extra, f"{f.relative_to(ROOT)} imports {sorted(extra)}"
