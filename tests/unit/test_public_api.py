"""The public API: an explicit, sorted, importable __all__."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest


def _house_order(name: str) -> tuple[int, str]:
    """Constants first, then classes, then functions; alphabetical within each."""
    if name.isupper():
        return (0, name)
    return (1, name) if name[0].isupper() else (2, name)


@pytest.mark.parametrize(
    "module_name", ["ledger", "ledger.connectly", "ledger.meta", "ledger.twilio", "ledger.persistence", "projections"]
)
def test_all_is_sorted_and_every_name_exists(module_name: str) -> None:
    module = importlib.import_module(module_name)
    names = list(module.__all__)
    assert names == sorted(names, key=_house_order)
    for name in names:
        assert hasattr(module, name), name


def test_domain_modules_import_no_storage_web_or_cli_library() -> None:
    forbidden = ("sqlalchemy", "eventsourcing_sqlalchemy", "psycopg", "typer", "click", "fastapi", "projections")
    ledger = Path(__file__).parents[2] / "ledger"
    paths = [ledger / f"{name}.py" for name in ("status", "message", "reports", "errors", "views")]
    for path in [*paths, *sorted((ledger / "connectly").glob("*.py"))]:
        module_name, source = path.name, path.read_text(encoding="utf-8")
        for library in forbidden:
            assert f"import {library}" not in source, (module_name, library)
            assert f"from {library}" not in source, (module_name, library)
