"""Options several commands share: ``--db``, ``--json`` and ``--provider``."""

from __future__ import annotations

from enum import StrEnum
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


class ProviderName(StrEnum):
    """The providers whose webhooks the ledger reads (:data:`ledger.providers.PROVIDERS`)."""

    CONNECTLY = "connectly"
    META = "meta"
    TWILIO = "twilio"


ProviderOption = Annotated[
    ProviderName,
    typer.Option(
        "--provider",
        help="Whose webhooks: connectly and meta as JSON Lines (or a JSON array), twilio one form body a line.",
    ),
]
