# The two set-up commands of the README. Each creates .venv on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PIP    := $(VENV)/bin/pip -q --disable-pip-version-check

.PHONY: run test lint clean

run: $(VENV)/.installed
	$(VENV)/bin/slamon demo

test: $(VENV)/.installed-test
	$(VENV)/bin/pytest -q -n 3

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

$(VENV)/bin/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "slamon needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(VENV)/bin/python pyproject.toml
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/bin/python pyproject.toml
	$(PIP) install -e '.[test]'
	touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
