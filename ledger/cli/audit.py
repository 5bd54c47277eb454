"""The audit commands: ``verify``, ``seal`` and ``checkpoint``.

``verify`` prints one line per problem (the first per message, then each checkpoint's),
then a summary line; it exits 0 only when every chain and checkpoint holds and every
event is chained, else with ``ExitStatus.NOT_VERIFIED`` (5).  None of them creates a
database.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ledger.application import Ledger
from ledger.audit import Verification, record_checkpoint, seal, verify
from ledger.audit.checkpoints import Checkpoint
from ledger.cli import console, render
from ledger.cli.errors import ExitStatus, clear_errors
from ledger.cli.options import AsJson, Db


def verify_command(
    since: Annotated[
        int | None,
        typer.Option(min=1, help="Only the events after this checkpoint (its root is checked against the log)."),
    ] = None,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Recompute every message's hash chain and every checkpoint; one line per problem (exit 5 if any)."""
    with clear_errors(), Ledger.open(db, create=False) as ledger:
        result = verify(ledger.recorder, since=since)
    if as_json:
        render.print_json(result.to_dict())
    else:
        for problem in result.problems:
            console.out.print(render.line("problem:", "bold red", str(problem)), highlight=False, soft_wrap=True)
        console.out.print(_summary(result), highlight=False, soft_wrap=True)
    if not result.ok:
        raise typer.Exit(ExitStatus.NOT_VERIFIED)


def _summary(result: Verification) -> str:
    counts = f"{result.events:,} events of {result.messages:,} messages, {result.checkpoints:,} checkpoints"
    if result.after:
        counts = f"{result.events:,} events after position {result.after:,}" + counts[counts.index(" of ") :]
    if not result.sealed and not result.unchained:
        return f"NOT verified: no seal is recorded (ledger_seals is empty or missing); {counts}"
    if not result.sealed:
        return f"not sealed: {result.unchained:,} events carry no chain hash (run `ledger seal`); {counts}"
    before = f"{result.events_before_seal:,} events predate the seal"
    if result.problems:
        return f"NOT verified: {len(result.problems):,} problems; {counts}; {before}"
    return f"verified: {counts}; {before}"


def seal_command(db: Db = None) -> None:
    """Chain the history of a ledger written before the hash chain (once), and record a first checkpoint."""
    with clear_errors(), Ledger.open(db, create=False) as ledger:
        done = seal(ledger.recorder)
    if not done.new:
        console.out.print(
            f"already sealed at position {done.position:,} ({done.events_before:,} events predate the seal)"
        )
        return
    console.out.print(f"sealed at position {done.position:,}: {done.events_before:,} events chained")
    if done.checkpoint is not None:
        console.out.print(checkpoint_line(done.checkpoint), highlight=False, soft_wrap=True)


def checkpoint_command(db: Db = None, as_json: AsJson = False) -> None:
    """Record a checkpoint (Merkle root over every message's chain head) and print it, to publish elsewhere."""
    with clear_errors(), Ledger.open(db, create=False) as ledger:
        checkpoint = record_checkpoint(ledger.recorder)
    if as_json:
        render.print_json(checkpoint.to_dict())
    else:
        console.out.print(checkpoint_line(checkpoint), highlight=False, soft_wrap=True)


def checkpoint_line(checkpoint: Checkpoint) -> str:
    """``checkpoint N position P root HEX at TIME``: what to publish."""
    return (
        f"checkpoint {checkpoint.sequence} position {checkpoint.position} root {checkpoint.root.hex()}"
        f" at {checkpoint.recorded_at}"
    )
