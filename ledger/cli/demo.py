"""Commands for trying the ledger out: ``demo``, ``simulate`` and ``keygen``."""

from __future__ import annotations

import base64
import json
import secrets
import sys
from pathlib import Path
from typing import Annotated

import typer

from ledger.application import Ledger
from ledger.cli import console, render
from ledger.cli.errors import clear_errors
from ledger.cli.options import Db, ProviderName, ProviderOption
from ledger.cli.reads import caught_up
from ledger.cli.writes import ingest_stream
from ledger.simulate import Traffic
from ledger.translate import translated
from ledger.urls import database_url


def demo(
    messages: Annotated[int, typer.Option(min=1, help="How many messages to simulate.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same traffic).")] = 42,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Delete the SQLite file first, so the demo starts empty.")
    ] = False,
    db: Db = None,
) -> None:
    """Simulate realistic traffic into the database, then show the funnel and the failure report."""
    with clear_errors():
        if fresh:
            _delete_sqlite_file(db)
        traffic = Traffic(messages, seed=seed)
        with Ledger.open(db) as ledger:
            console.err.print(render.line("demo:", "bold", f"{messages:,} messages into {ledger.url}"), highlight=False)
            with console.progress_bar() as progress:
                task = progress.add_task("recording sends", total=messages, rate="")
                for n, send in enumerate(traffic.sends(), start=1):
                    send.record_in(ledger)
                    if n % 500 == 0 or n == messages:
                        progress.update(task, completed=n)
            outcomes = ingest_stream(ledger, traffic.webhooks(), total=None)
        render.show(console.out, render.outcomes_table(outcomes))
        with caught_up(db) as views:
            render.show(console.out, *render.funnel_tables(views.funnel.summary(), None))
            render.show(console.out, render.failure_groups_table(views.failure_report.summary(by="code"), "code"))


def simulate(
    messages: Annotated[int, typer.Option(min=1, help="How many messages to simulate.")] = 100,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same traffic).")] = 42,
    provider: ProviderOption = ProviderName.CONNECTLY,
) -> None:
    """Print synthetic webhooks, one a line, in a provider's format (for trying `ledger ingest --provider`).

    The same seed gives the same logical traffic in every format: JSON Lines for
    connectly and meta, one form-encoded body a line for twilio.
    """
    for payload in translated(Traffic(messages, seed=seed).webhooks(), provider.value):
        if isinstance(payload, bytes):
            payload = payload.decode("utf-8", errors="replace")
        sys.stdout.write((payload if isinstance(payload, str) else json.dumps(payload)) + "\n")


def keygen() -> None:
    """Print a new AES-256 key for LEDGER_CIPHER_KEY (encrypts stored events and rejected bodies)."""
    # What eventsourcing's AESCipher.create_key(32) makes (32 random bytes in base64), made
    # without the cipher's package: a key can be made before the crypto extra is installed.
    sys.stdout.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")


def _delete_sqlite_file(db: str | None) -> None:
    url = database_url(db)
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == prefix or ":memory:" in url:
        raise ValueError("--fresh only deletes SQLite files; give --db sqlite:///FILE")
    path = Path(url[len(prefix) :])
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
