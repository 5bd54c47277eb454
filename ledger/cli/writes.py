"""The commands that write to the ledger: ``ingest`` and ``record-sent``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import nullcontext
from typing import Annotated

import typer

from ledger.application import Ledger, Payload
from ledger.cli import console, render
from ledger.cli.errors import clear_errors
from ledger.cli.input import parse_time, read_lines, read_payloads
from ledger.cli.options import AsJson, Db, ProviderName, ProviderOption
from ledger.providers import Body
from ledger.views import IngestOutcome

BATCH_SIZE = 1000


def ingest_stream(ledger: Ledger, payloads: Iterator[Payload], total: int | None) -> list[IngestOutcome]:
    """Ingest in batches through ``ingest_many``, with a progress bar showing reports/s."""
    outcomes: list[IngestOutcome] = []
    started = time.perf_counter()
    with console.progress_bar() as progress:
        task = progress.add_task("ingesting", total=total, rate="")
        batch: list[Payload] = []
        for payload in payloads:
            batch.append(payload)
            if len(batch) == BATCH_SIZE:
                outcomes += ledger.ingest_many(batch)
                batch = []
                rate = len(outcomes) / (time.perf_counter() - started)
                progress.update(task, completed=len(outcomes), rate=f"{rate:,.0f} reports/s")
        if batch:
            outcomes += ledger.ingest_many(batch)
        rate = len(outcomes) / max(time.perf_counter() - started, 1e-9)
        progress.update(task, completed=len(outcomes), total=len(outcomes), rate=f"{rate:,.0f} reports/s")
    return outcomes


def ingest_bodies(ledger: Ledger, bodies: Iterator[Body], provider: str) -> tuple[list[IngestOutcome], int]:
    """Ingest another provider's bodies in batches; every status's outcome, and how many inbound items."""
    outcomes: list[IngestOutcome] = []
    inbound = 0

    def flush(batch: list[Body]) -> None:
        nonlocal inbound
        for result in ledger.ingest_bodies(batch, provider=provider):
            outcomes.extend(result.outcomes)
            inbound += result.inbound

    batch: list[Body] = []
    for body in bodies:
        batch.append(body)
        if len(batch) == BATCH_SIZE:
            flush(batch)
            batch = []
    if batch:
        flush(batch)
    return outcomes, inbound


def ingest(
    files: Annotated[
        list[str], typer.Argument(help="JSON Lines or JSON array files of webhook payloads; - for stdin.")
    ],
    db: Db = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Decide every outcome against the ledger and store nothing.")
    ] = False,
    provider: ProviderOption = ProviderName.CONNECTLY,
) -> None:
    """Ingest webhook payloads; rejected ones are kept in the rejection store (exit status 0)."""
    inbound = 0
    # A dry run stores nothing, so it does not create a ledger either.
    with (
        clear_errors(),
        Ledger.open(db, create=not dry_run) as ledger,
        ledger.dry_run() if dry_run else nullcontext(),
    ):
        if provider is ProviderName.CONNECTLY:
            outcomes = ingest_stream(ledger, read_payloads(files), total=None)
        else:
            bodies: Iterator[Body] = read_lines(files) if provider is ProviderName.TWILIO else read_payloads(files)
            outcomes, inbound = ingest_bodies(ledger, bodies, provider.value)
    render.show(console.out, render.outcomes_table(outcomes))
    if inbound:
        console.err.print(render.line("inbound:", "bold", f"{inbound} (counted, not ledger reports)"), highlight=False)
    if dry_run:
        console.err.print(render.line("dry run:", "bold", "nothing was stored"), highlight=False)


def record_sent(
    message_id: Annotated[str, typer.Argument(help="The id the send API answered.")],
    recipient: Annotated[str, typer.Option(help="The recipient's phone number.")],
    sender: Annotated[str | None, typer.Option(help="The business's phone number.")] = None,
    channel: Annotated[str, typer.Option(help="The channel.")] = "whatsapp",
    template: Annotated[str | None, typer.Option(help="The template's name.")] = None,
    campaign: Annotated[str | None, typer.Option(help="The campaign's name.")] = None,
    sent_at: Annotated[str | None, typer.Option(help="When it was sent (ISO-8601; default now).")] = None,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Record the send API's answer: the message starts as accepted."""
    when = parse_time(sent_at, "--sent-at")
    with clear_errors(), Ledger.open(db) as ledger:
        view = ledger.record_sent(
            message_id,
            sender=sender,
            recipient=recipient,
            channel=channel,
            template=template,
            campaign=campaign,
            sent_at=when,
        )
    if as_json:
        render.print_json(view.to_dict())
    else:
        render.show(console.out, render.message_table(view))
