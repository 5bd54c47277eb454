# Two commands for a newcomer: `make demo` and `make test`.  Both create or reuse .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint typecheck smoke unit demo bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check ledger projections tests benchmarks
	$(BIN)/ruff format --check ledger projections tests benchmarks

typecheck: install
	$(BIN)/mypy ledger projections

# The benchmarks' quick modes are smoke tests: they fail on errors, never on timings.
smoke: install
	$(BIN)/python -m benchmarks --quick
	$(BIN)/python -m benchmarks.load --quick

test: lint typecheck smoke
	$(BIN)/pytest

unit: install
	$(BIN)/pytest tests/unit

demo: install
	$(BIN)/ledger demo --db sqlite:///demo.db --fresh

bench: install
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis *.egg-info
