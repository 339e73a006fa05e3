"""Build step of the wheel: the top-level schema/ folder (the source of the migrations) is
copied into the package as slamon_daemon/schema/, where store/migrate.py finds it with
importlib.resources once installed. Everything else is in pyproject.toml."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SCHEMA = Path(__file__).resolve().parent / "schema"


class BuildWithSchema(build_py):
    """build_py, plus schema/<backend>/NNNN_name.sql into slamon_daemon/schema/."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout's schema/ directly
            return
        for sql in sorted(SCHEMA.glob("*/*.sql")):
            target = Path(self.build_lib, "slamon_daemon", "schema", sql.relative_to(SCHEMA))
            self.mkpath(str(target.parent))
            self.copy_file(str(sql), str(target))


setup(cmdclass={"build_py": BuildWithSchema})
