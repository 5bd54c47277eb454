"""The layers hold: only the shells (ledger.cli, ledger.http) meet projections, and the domain
imports no storage, web or CLI library (DESIGN §2).  Read from the source (every module's
syntax tree, imports inside functions and TYPE_CHECKING blocks included), not by importing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LEDGER = Path(__file__).parents[2] / "ledger"
SHELLS = ("ledger.cli", "ledger.http")
DOMAIN = (
    "ledger.status",
    "ledger.message",
    "ledger.reports",
    "ledger.connectly",
    "ledger.meta",
    "ledger.twilio",
    "ledger.providers",
)
# Storage, web and CLI libraries.  eventsourcing.domain (the aggregate) is the domain's own base.
FORBIDDEN_IN_DOMAIN = (
    "sqlalchemy",
    "eventsourcing_sqlalchemy",
    "eventsourcing.persistence",
    "eventsourcing.sqlite",
    "eventsourcing.postgres",
    "psycopg",
    "sqlite3",
    "fastapi",
    "starlette",
    "uvicorn",
    "typer",
    "click",
    "rich",
    "httpx",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(LEDGER.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(source: str, module: str, *, package: bool = False) -> set[str]:
    """Every module ``source`` imports (relative imports resolved), wherever the statement is."""
    found: set[str] = set()
    here = module.split(".") if package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(here[: len(here) - node.level + 1]) if node.level else ""
            target = ".".join(part for part in (base, node.module or "") if part)
            found.add(target)
            # `from package import module` imports the module too.
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def within(name: str, roots: tuple[str, ...]) -> bool:
    return any(name == root or name.startswith(root + ".") for root in roots)


MODULES = {module_name(path): path for path in sorted(LEDGER.rglob("*.py"))}
IMPORTS = {
    name: imports(path.read_text(encoding="utf-8"), name, package=path.name == "__init__.py")
    for name, path in MODULES.items()
}


def test_the_checks_see_every_kind_of_import() -> None:
    source = """
import projections.runner
from projections import Projections
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from sqlalchemy.orm import Session
def later():
    import fastapi
from ..http import app
"""
    found = imports(source, "ledger.cli.reads")
    assert within("projections.runner", ("projections",))
    assert {"projections.runner", "projections", "sqlalchemy.orm", "fastapi", "ledger.http.app"} <= found
    assert imports("from . import render", "ledger.cli", package=True) >= {"ledger.cli.render"}


def test_the_shells_are_the_only_modules_of_the_ledger_that_import_projections() -> None:
    core = {name: found for name, found in IMPORTS.items() if not within(name, SHELLS)}
    assert "ledger.application" in core
    offenders = {name: sorted(n for n in found if within(n, ("projections",))) for name, found in core.items()}
    assert {name: names for name, names in offenders.items() if names} == {}


def test_the_core_imports_neither_shell_and_the_receiver_not_the_command() -> None:
    core = {name: found for name, found in IMPORTS.items() if not within(name, SHELLS)}
    offenders = {name: sorted(n for n in found if within(n, SHELLS)) for name, found in core.items()}
    assert {name: names for name, names in offenders.items() if names} == {}
    receiver = {name: found for name, found in IMPORTS.items() if within(name, ("ledger.http",))}
    assert receiver
    assert not [name for name, found in receiver.items() if any(within(n, ("ledger.cli",)) for n in found)]


def domain_closure() -> set[str]:
    """The domain modules and every module of the ledger they import, directly or not."""
    seen: set[str] = set()
    waiting = list(DOMAIN)
    while waiting:
        name = waiting.pop()
        if name in seen or name not in MODULES:
            continue
        seen.add(name)
        waiting += [n for n in IMPORTS[name] if n in MODULES]
    return seen


@pytest.mark.parametrize("module", DOMAIN)
def test_the_domain_imports_no_storage_web_or_cli_library(module: str) -> None:
    assert module in MODULES
    closure = domain_closure()
    assert module in closure
    offenders = {name: sorted(n for n in IMPORTS[name] if within(n, FORBIDDEN_IN_DOMAIN)) for name in closure}
    assert {name: names for name, names in offenders.items() if names} == {}
