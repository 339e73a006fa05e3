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


def test_no_import_circle_in_the_daemon_type_checking_imports_counted() -> None:
    """Issue 9: no module of slamon_daemon reaches itself through its imports, not even
    through imports under ``if TYPE_CHECKING:`` (which grimp counts unless told otherwise)."""
    import grimp

    graph = grimp.build_graph("slamon_daemon", exclude_type_checking_imports=False)
    modules = sorted(m for m in graph.modules if m.startswith("slamon_daemon"))
    assert len(modules) > 30
    circles = []
    for m in modules:
        for imported in graph.find_modules_directly_imported_by(m):
            if imported != m and graph.chain_exists(imported=m, importer=imported):
                circles.append((m, imported))
    assert circles == []


def test_the_import_contracts_hold() -> None:
    """The layers of pyproject.toml [tool.importlinter] hold (what `make lint` checks)."""
    exe = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(exe)], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "BROKEN" not in out.stdout
