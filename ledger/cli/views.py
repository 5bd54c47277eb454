"""The commands that maintain the read models: ``rebuild`` and ``project``."""

from __future__ import annotations

import signal
import threading
import time
from typing import Annotated

import typer

from ledger.audit.checkpoints import CheckpointSchedule
from ledger.cli import console, render
from ledger.cli.audit import checkpoint_line
from ledger.cli.errors import clear_errors
from ledger.cli.options import Db
from projections import Projections
from projections.runner import Progress as RunnerProgress


def rebuild(
    name: Annotated[str | None, typer.Argument(help="One projection (default: all).")] = None,
    db: Db = None,
) -> None:
    """Empty the read models and replay the whole log into them."""
    what = "all views" if name is None else render.printable(name)
    with clear_errors(), Projections.open(db, create=False) as views, console.progress_bar() as progress:
        task = progress.add_task(f"rebuilding {what}", total=views.head(), rate="")
        started = time.perf_counter()

        def report(p: RunnerProgress) -> None:
            rate = p.processed / max(time.perf_counter() - started, 1e-9)
            progress.update(task, completed=p.processed, rate=f"{rate:,.0f} events/s")

        processed = views.rebuild(name, on_progress=report)
    console.out.print(render.line("rebuilt", "", f"{what} from {processed:,} events"))


def project(
    follow: Annotated[bool, typer.Option("--follow", help="Keep running; stop with Ctrl-C.")] = False,
    checkpoint_every: Annotated[
        int | None,
        typer.Option(min=1, help="Also record an audit checkpoint once this many events were added since the last."),
    ] = None,
    checkpoint_minutes: Annotated[
        float | None,
        typer.Option(min=0.001, help="Also record an audit checkpoint this often, when events were added."),
    ] = None,
    db: Db = None,
) -> None:
    """Bring the read models up to date (once, or continuously with --follow)."""
    # Creates the ledger if need be: a follower may well start before the first write.
    with clear_errors(), Projections.open(db) as views:
        processed = views.catch_up()
        console.out.print(f"processed {processed:,} events; views at position {views.head():,}")
        schedule = None
        if checkpoint_every is not None or checkpoint_minutes is not None:
            seconds = None if checkpoint_minutes is None else checkpoint_minutes * 60
            schedule = CheckpointSchedule(views.ledger.recorder, checkpoint_every, every_seconds=seconds)
        _checkpoint_if_due(schedule, views.head())
        if follow:
            stop = threading.Event()
            # SIGTERM (a process manager stopping it) ends the page in hand, then stops.
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            console.err.print("following the log; Ctrl-C to stop")
            try:
                views.follow(stop=stop, on_progress=lambda p: _followed(schedule, p))
            except KeyboardInterrupt:
                stop.set()


def _followed(schedule: CheckpointSchedule | None, progress: RunnerProgress) -> None:
    console.out.print(f"position {progress.position:,}")
    _checkpoint_if_due(schedule, progress.position)


def _checkpoint_if_due(schedule: CheckpointSchedule | None, position: int) -> None:
    checkpoint = None if schedule is None else schedule.after(position)
    if checkpoint is not None:
        console.out.print(checkpoint_line(checkpoint), highlight=False, soft_wrap=True)
