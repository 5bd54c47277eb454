"""The optional parts of the install (pip extras), and how a missing one is told.

The base install is the library.  Each extra adds what one feature needs; without it,
that feature fails with one line naming the extra, never an ``ImportError`` from deep
inside a library.  ``import ledger`` needs none of them.
"""

from __future__ import annotations

from collections.abc import Mapping

#: The distribution that ``pip install`` names.
DISTRIBUTION = "delivery-ledger"

#: Each extra and the top-level modules it installs that the ledger imports.
EXTRAS: Mapping[str, tuple[str, ...]] = {
    "cli": ("typer", "rich", "click", "shellingham", "jinja2", "markupsafe"),
    "server": ("fastapi", "starlette", "uvicorn"),
    "postgres": ("psycopg", "psycopg_binary"),
    "crypto": ("cryptography",),
}


def install_hint(extra: str) -> str:
    """``pip install 'delivery-ledger[extra]'``."""
    return f"pip install '{DISTRIBUTION}[{extra}]'"


def needs(feature: str, extra: str) -> str:
    """The one-line message: ``feature`` needs ``extra``, and the command that installs it."""
    return f"{feature} needs the {extra} extra: {install_hint(extra)}"


def is_missing(error: ImportError, extra: str) -> bool:
    """Whether ``error`` says that a module ``extra`` installs is not installed."""
    name = (error.name or "").partition(".")[0]
    return isinstance(error, ModuleNotFoundError) and name in EXTRAS[extra]
