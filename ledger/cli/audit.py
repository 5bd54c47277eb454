"""The audit commands: ``verify``, ``seal``, ``checkpoint``, ``audit --export`` and ``verify-bundle``.

``verify`` prints one line per problem (the first per message, then each checkpoint's),
then a summary line; it exits 0 only when every chain and checkpoint holds and every
event is chained, else with ``ExitStatus.NOT_VERIFIED`` (5).  None of them creates a
database.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ledger.application import Ledger
from ledger.audit import Verification, record_checkpoint, seal, verify
from ledger.audit.bundle import check_bundle, export_bundle
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


def audit_command(
    message_id: Annotated[str, typer.Argument(help="The message to export.")],
    export: Annotated[Path, typer.Option("--export", help="Write the audit bundle (JSON) to this file.")],
    db: Db = None,
) -> None:
    """Export a message's events, chain hashes and inclusion proof against the newest checkpoint."""
    with clear_errors(), Ledger.open(db, create=False) as ledger:
        bundle = export_bundle(ledger.recorder, message_id)
        export.write_text(json.dumps(bundle, indent=2) + "\n", encoding="utf-8")
    proven = sum(not event["after_checkpoint"] for event in bundle["events"])
    checkpoint = bundle["checkpoint"]
    console.out.print(
        f"{len(bundle['events'])} events, {proven} proven by checkpoint {checkpoint['sequence']} "
        f"(root {checkpoint['root']}); written to {render.printable(str(export))}",
        highlight=False,
        soft_wrap=True,
    )


def verify_bundle_command(
    bundle: Annotated[Path, typer.Argument(help="An audit bundle written by `ledger audit --export`.")],
    root: Annotated[str, typer.Option("--root", help="The checkpoint root you trust (hex), as published.")],
) -> None:
    """Check an audit bundle offline (no database, no key): one line per problem, exit 5 if any."""
    with clear_errors():
        try:
            document = json.loads(bundle.read_text(encoding="utf-8"))
        except ValueError as error:
            raise ValueError(f"{bundle}: not JSON ({error})") from None
    problems = check_bundle(document if isinstance(document, dict) else {}, root=root)
    for problem in problems:
        console.out.print(render.line("problem:", "bold red", problem), highlight=False, soft_wrap=True)
    if problems:
        console.out.print(f"NOT verified: {len(problems)} problem{'s' if len(problems) > 1 else ''}", highlight=False)
        raise typer.Exit(ExitStatus.NOT_VERIFIED)
    events = document["events"]
    proven = sum(not event["after_checkpoint"] for event in events)
    console.out.print(
        f"verified: {len(events)} events of {render.printable(document['message_id'])}, "
        f"{proven} proven in checkpoint {document['checkpoint']['sequence']}",
        highlight=False,
        soft_wrap=True,
    )
