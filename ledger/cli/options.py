"""Options several commands share: ``--db`` and ``--json``."""

from __future__ import annotations

from typing import Annotated

import typer


def _database(ctx: typer.Context, value: str | None) -> str | None:
    """A subcommand's ``--db``, else the one given before the subcommand (or the environment's)."""
    if value is not None:
        return value
    given = ctx.find_root().params.get("db")
    return given if isinstance(given, str) else None


Db = Annotated[
    str | None,
    typer.Option(
        "--db",
        callback=_database,
        help="SQLAlchemy URL (default: --db before the command, $LEDGER_DATABASE_URL, sqlite:///ledger.db).",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Machine output: JSON on stdout.")]
