# Two commands for a newcomer: `make demo` and `make test`.  Both create or reuse .venv and
# install exactly the versions in requirements.lock (the ones CI passed with); `make lock`
# refreshes that file from pyproject.toml's ranges.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
UV_VERSION := 0.13.9
# `make test` is the gate: Hypothesis replays the same examples every run (see tests/conftest.py).
export HYPOTHESIS_PROFILE ?= ci

.PHONY: install lock test lint typecheck smoke unit demo bench sdist vendor-assets clean screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The lock pins pip and setuptools too, so the package is built with the locked setuptools
# (no build isolation, which would fetch the newest) and nothing outside the lock is installed.
$(STAMP): $(BIN)/python pyproject.toml $(LOCK)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r $(LOCK)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

install: $(STAMP)

# Resolve the newest versions pyproject.toml allows, for every platform, on Python 3.11+.
lock: $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	printf 'pip\nsetuptools>=77\n' | $(BIN)/uv pip compile pyproject.toml - --extra dev --universal \
		--python-version 3.11 --upgrade --quiet --custom-compile-command 'make lock' -o $(LOCK)

lint: install
	$(BIN)/ruff check ledger projections tests benchmarks
	$(BIN)/ruff format --check ledger projections tests benchmarks

typecheck: install
	$(BIN)/mypy ledger projections tests benchmarks

# The benchmarks' quick modes are smoke tests: they fail on errors, never on timings.
smoke: install
	$(BIN)/python -m benchmarks --quick
	$(BIN)/python -m benchmarks.load --quick --seed 11
	$(BIN)/python -m benchmarks.aio --quick
	$(BIN)/python -m benchmarks.providers --quick
	$(BIN)/python -m benchmarks.audit --quick
	$(BIN)/python -m benchmarks.timetravel --quick
	$(BIN)/python -m benchmarks.dashboard --quick

test: lint typecheck smoke
	$(BIN)/pytest

unit: install
	$(BIN)/pytest tests/unit

# The dashboard's screenshots in docs/screenshots, taken by the browser tests in Debian's Chromium.
screenshots: install
	LEDGER_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q tests/browser/test_dashboard_pages.py

demo: install
	$(BIN)/ledger demo --db sqlite:///demo.db --fresh

bench: install
	$(BIN)/python -m benchmarks

# The source distribution, as `pip download` would get it; `make test` runs from it unpacked.
sdist: install
	$(BIN)/python -m build --sdist --no-isolation --outdir dist

# Fetch the API docs pages' JavaScript and CSS again (pinned versions and sha256s in the script; needs npm).
vendor-assets:
	scripts/vendor-docs-assets.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis *.egg-info dist build
