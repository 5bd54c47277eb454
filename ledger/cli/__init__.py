"""The ``ledger`` command: a thin shell over the Ledger and its projections.

The database comes from ``--db URL`` after the subcommand, else ``--db URL`` before it,
else ``LEDGER_DATABASE_URL``, else ``sqlite:///ledger.db``.  Read commands (``status``,
``history``, ``failures``, ``summary``, ``rejections``) and ``rebuild`` never create a
database; the others create the ledger on first use.

Text from users and stored data is printed literally: no Rich markup, control and
bidirectional characters escaped (see :mod:`ledger.cli_render`).  Every failure is one
line on stderr and an exit status (:class:`ExitStatus`):

===  ==========================================================================
0    success
1    unknown message (``status``, ``history``)
2    bad usage or unreadable input: a malformed or unsupported database URL, a bad
     option value, conflicting options, a file that cannot be read
3    the database failed or cannot be reached, or holds no ledger (read commands)
4    the server cannot listen: the address is in use or not allowed (``serve`` only)
130  interrupted (Ctrl-C)
===  ==========================================================================
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import fields
from enum import IntEnum
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from eventsourcing.cryptography import AESCipher
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from ledger import cli_render as render
from ledger.application import Ledger, Payload
from ledger.cli_input import parse_time, read_payloads
from ledger.errors import LedgerError, LedgerNotFoundError, MessageNotFoundError, StorageError
from ledger.simulate import Traffic
from ledger.urls import database_url
from ledger.views import IngestOutcome
from projections import GROUP_BY, Failure, FailureGroup, Projections
from projections.runner import Progress as RunnerProgress

BATCH_SIZE = 1000

#: The largest ``--limit``: a database's LIMIT is a signed 64-bit integer.
MAX_LIMIT = 2**63 - 1


class ExitStatus(IntEnum):
    """The ``ledger`` command's exit statuses (see the module docstring)."""

    OK = 0
    UNKNOWN_MESSAGE = 1
    USAGE = 2
    DATABASE = 3
    CANNOT_LISTEN = 4
    INTERRUPTED = 130


class OneLineErrors(TyperGroup):
    """Typer's command group, showing usage errors as one line like every other failure.

    Click's own display spans several lines and repeats the offending value as typed,
    control characters and all.
    """

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command; in standalone mode, exit with its status (see :class:`ExitStatus`)."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        try:
            # Not standalone: Click's errors come back to us, and an exit status is returned.
            status = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except typer.TyperException as error:  # Click's usage errors (Typer's copy of Click)
            if type(error).__name__ == "NoArgsIsHelpError":  # as Typer tells it: its message is the help
                typer.echo(error.format_message(), err=True)
            else:
                context = getattr(error, "ctx", None)
                hint = f" (see {context.command_path} --help)" if context is not None else ""
                _say_error(error.format_message() + hint)
            sys.exit(int(error.exit_code))
        except typer.Abort:
            _say_error("interrupted")
            sys.exit(ExitStatus.INTERRUPTED.value)
        sys.exit(int(status) if isinstance(status, int) else ExitStatus.OK.value)


app = typer.Typer(
    name="ledger",
    cls=OneLineErrors,
    help="An event-sourced ledger of WhatsApp delivery statuses (Connectly webhooks).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# Piped output is read by people too (CI logs, files): give tables room instead of 80 columns.
out = Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 132)
err = Console(stderr=True)


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


def _say_error(message: str) -> None:
    err.print(render.line("error:", "bold red", message), highlight=False, soft_wrap=True)


def fail(message: str, code: int) -> NoReturn:
    """One clear line on stderr, then exit with ``code`` (an :class:`ExitStatus`).

    ``message`` is plain text, shown literally: do not escape it for Rich.
    """
    _say_error(message)
    raise typer.Exit(code)


@contextmanager
def clear_errors() -> Iterator[None]:
    """Turn the errors a user can cause into one line and an exit status, never a traceback."""
    try:
        yield
    except MessageNotFoundError as error:
        fail(str(error), ExitStatus.UNKNOWN_MESSAGE)
    except LedgerNotFoundError as error:
        fail(
            f"no ledger at {error.url}: nothing was stored there yet (ingest or record-sent creates it)",
            ExitStatus.DATABASE,
        )
    except StorageError as error:
        fail(str(error), ExitStatus.DATABASE)
    except (LedgerError, ValueError, OSError) as error:
        fail(str(error), ExitStatus.USAGE)
    except KeyboardInterrupt:
        fail("interrupted", ExitStatus.INTERRUPTED)


def _show_version(value: bool) -> None:
    if value:
        try:
            number = version("delivery-ledger")
        except PackageNotFoundError:  # run from a source tree that was never installed
            number = "(not installed)"
        sys.stdout.write(f"ledger {number}\n")
        raise typer.Exit()


@app.callback()
def root(
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="LEDGER_DATABASE_URL",
            help="SQLAlchemy URL for every command (default: sqlite:///ledger.db).",
        ),
    ] = None,
    show_version: Annotated[
        bool, typer.Option("--version", is_eager=True, callback=_show_version, help="Print the version and exit.")
    ] = False,
) -> None:
    """An event-sourced ledger of WhatsApp delivery statuses (Connectly webhooks)."""


def progress_bar(transient: bool = False) -> Progress:
    """A progress bar on stderr, shown only on a terminal (descriptions are plain text)."""
    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}", markup=False),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
        transient=transient,
    )


def ingest_stream(ledger: Ledger, payloads: Iterator[Payload], total: int | None) -> list[IngestOutcome]:
    """Ingest in batches through ``ingest_many``, with a progress bar showing reports/s."""
    outcomes: list[IngestOutcome] = []
    started = time.perf_counter()
    with progress_bar() as progress:
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


def caught_up(db: str | None) -> Projections:
    """The projections of an existing ledger, caught up first so what a read command shows is never stale."""
    views = Projections.open(db, create=False)
    with progress_bar(transient=True) as progress:
        behind = max(0, views.head() - min(views.positions().values()))
        task = progress.add_task("updating views", total=behind, rate="")
        views.catch_up(on_progress=lambda p: progress.update(task, completed=p.processed))
    return views


@app.command()
def ingest(
    files: Annotated[
        list[str], typer.Argument(help="JSON Lines or JSON array files of webhook payloads; - for stdin.")
    ],
    db: Db = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Decide every outcome against the ledger and store nothing.")
    ] = False,
) -> None:
    """Ingest webhook payloads; rejected ones are kept in the rejection store (exit status 0)."""
    # A dry run stores nothing, so it does not create a ledger either.
    with (
        clear_errors(),
        Ledger.open(db, create=not dry_run) as ledger,
        ledger.dry_run() if dry_run else nullcontext(),
    ):
        outcomes = ingest_stream(ledger, read_payloads(files), total=None)
    render.show(out, render.outcomes_table(outcomes))
    if dry_run:
        err.print(render.line("dry run:", "bold", "nothing was stored"), highlight=False)


@app.command("record-sent")
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
        render.show(out, render.message_table(view))


@app.command()
def status(message_id: str, db: Db = None, as_json: AsJson = False) -> None:
    """Show where a message stands."""
    with clear_errors(), Ledger.open(db, create=False) as ledger:
        view = ledger.message(message_id)
    if as_json:
        render.print_json(view.to_dict())
    else:
        render.show(out, render.message_table(view))


@app.command()
def history(message_id: str, db: Db = None, as_json: AsJson = False) -> None:
    """Show a message's audit trail: what arrived, when, and what it did."""
    with clear_errors(), Ledger.open(db, create=False) as ledger:
        entries = ledger.history(message_id)
    if as_json:
        render.print_json([entry.to_dict() for entry in entries])
    else:
        render.show(out, render.history_table(message_id, entries))


@app.command()
def failures(
    since: Annotated[str | None, typer.Option(help="From this time (ISO-8601, inclusive).")] = None,
    until: Annotated[str | None, typer.Option(help="Until this time (ISO-8601, exclusive).")] = None,
    by: Annotated[str, typer.Option(help=f"Group by {' | '.join(GROUP_BY)}.")] = "code",
    details: Annotated[bool, typer.Option("--details", help="List each failure instead of groups.")] = False,
    db: Db = None,
    as_json: AsJson = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Machine output: CSV on stdout.")] = False,
) -> None:
    """The failure report: failures grouped by error code (or type, campaign, recipient, day)."""
    if by not in GROUP_BY:
        raise typer.BadParameter(f"choose one of {', '.join(GROUP_BY)}", param_hint="--by")
    if as_json and as_csv:
        fail("--json and --csv cannot be used together", ExitStatus.USAGE)
    start, end = parse_time(since, "--since"), parse_time(until, "--until")
    if start is not None and end is not None and start > end:
        fail("--since is later than --until", ExitStatus.USAGE)
    with clear_errors(), caught_up(db) as views:
        if details:
            rows = views.failure_report.failures(since=start, until=end, limit=1_000_000)
            records = [row.to_dict() for row in rows]
        else:
            groups = views.failure_report.summary(by=by, since=start, until=end)
            records = [group.to_dict() for group in groups]
    if as_json:
        render.print_json(records)
    elif as_csv:
        render.print_csv(records, [field.name for field in fields(Failure if details else FailureGroup)])
    elif details:
        render.show(out, render.failures_table(rows))
    else:
        render.show(out, render.failure_groups_table(groups, by))


@app.command()
def summary(
    by: Annotated[str | None, typer.Option(help="Also per campaign or day.")] = None,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """The delivery funnel: counts, delivery and read rates, latency percentiles."""
    if by not in (None, "campaign", "day"):
        raise typer.BadParameter("choose campaign or day", param_hint="--by")
    with clear_errors(), caught_up(db) as views:
        rows = views.funnel.summary(by=by)  # type: ignore[arg-type]
    if as_json:
        render.print_json([row.to_dict() for row in rows])
    else:
        render.show(out, *render.funnel_tables(rows, by))


@app.command()
def rejections(
    limit: Annotated[int, typer.Option(min=0, max=MAX_LIMIT, help="At most this many.")] = 100,
    since: Annotated[str | None, typer.Option(help="Received at or after (ISO-8601).")] = None,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """What the ledger refused, and why (oldest first)."""
    start = parse_time(since, "--since")
    with clear_errors(), Ledger.open(db, create=False) as ledger:
        refused = ledger.rejections(limit=limit, since=start)
    if as_json:
        render.print_json([r.to_dict() for r in refused])
    else:
        render.show(out, render.rejections_table(refused))


@app.command()
def rebuild(
    name: Annotated[str | None, typer.Argument(help="One projection (default: all).")] = None,
    db: Db = None,
) -> None:
    """Empty the read models and replay the whole log into them."""
    what = "all views" if name is None else render.printable(name)
    with clear_errors(), Projections.open(db, create=False) as views, progress_bar() as progress:
        task = progress.add_task(f"rebuilding {what}", total=views.head(), rate="")
        started = time.perf_counter()

        def report(p: RunnerProgress) -> None:
            rate = p.processed / max(time.perf_counter() - started, 1e-9)
            progress.update(task, completed=p.processed, rate=f"{rate:,.0f} events/s")

        processed = views.rebuild(name, on_progress=report)
    out.print(render.line("rebuilt", "", f"{what} from {processed:,} events"))


@app.command()
def project(
    follow: Annotated[bool, typer.Option("--follow", help="Keep running; stop with Ctrl-C.")] = False,
    db: Db = None,
) -> None:
    """Bring the read models up to date (once, or continuously with --follow)."""
    # Creates the ledger if need be: a follower may well start before the first write.
    with clear_errors(), Projections.open(db) as views:
        processed = views.catch_up()
        out.print(f"processed {processed:,} events; views at position {views.head():,}")
        if follow:
            stop = threading.Event()
            err.print("following the log; Ctrl-C to stop")
            try:
                views.follow(stop=stop, on_progress=lambda p: out.print(f"position {p.position:,}"))
            except KeyboardInterrupt:
                stop.set()


@app.command()
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
            err.print(render.line("demo:", "bold", f"{messages:,} messages into {ledger.url}"), highlight=False)
            with progress_bar() as progress:
                task = progress.add_task("recording sends", total=messages, rate="")
                for n, send in enumerate(traffic.sends(), start=1):
                    send.record_in(ledger)
                    if n % 500 == 0 or n == messages:
                        progress.update(task, completed=n)
            outcomes = ingest_stream(ledger, traffic.webhooks(), total=None)
        render.show(out, render.outcomes_table(outcomes))
        with caught_up(db) as views:
            render.show(out, *render.funnel_tables(views.funnel.summary(), None))
            render.show(out, render.failure_groups_table(views.failure_report.summary(by="code"), "code"))


@app.command()
def simulate(
    messages: Annotated[int, typer.Option(min=1, help="How many messages to simulate.")] = 100,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same traffic).")] = 42,
) -> None:
    """Print synthetic webhook payloads as JSON Lines (for trying `ledger ingest`)."""
    for payload in Traffic(messages, seed=seed).webhooks():
        sys.stdout.write((payload if isinstance(payload, str) else json.dumps(payload)) + "\n")


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on (loopback unless an API token and a secret are set).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    db: Db = None,
    secret: Annotated[
        str | None,
        typer.Option(envvar="LEDGER_WEBHOOK_SECRET", help="Webhook signing secret (unset: signatures unchecked)."),
    ] = None,
    api_token: Annotated[
        str | None, typer.Option(envvar="LEDGER_API_TOKEN", help="Bearer token the reads need (unset: reads open).")
    ] = None,
    webhook_path: Annotated[str, typer.Option(help="Path of the delivery_status webhook.")] = (
        "/webhooks/connectly/delivery-status"
    ),
    insecure_public: Annotated[
        bool,
        typer.Option(
            "--insecure-public", help="Allow a non-loopback --host without an API token or a secret (each is noted)."
        ),
    ] = False,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = True,
    # For benchmarks/load.py: a route that skips the database, not for operators.
    benchmark_baseline: Annotated[bool, typer.Option("--benchmark-baseline", hidden=True)] = False,
) -> None:
    """Receive Connectly webhooks over HTTP and serve JSON reads (needs the `server` extra).

    Exit status 3 when the database cannot be opened, 4 when the address cannot be listened on.
    """
    try:
        from ledger import server
    except ImportError as error:
        fail(f"{error}; install the server extra: pip install 'delivery-ledger[server]'", ExitStatus.USAGE)
    with clear_errors():
        settings = server.ServerSettings(
            url=db,
            secret=secret or None,  # An empty variable is an unset one.
            api_token=api_token or None,
            webhook_path=webhook_path,
            benchmark_baseline=benchmark_baseline,
        )
        notes = server.exposure_notes(settings, host, insecure_public=insecure_public)
        try:
            listener = server.listen(host, port)
        except OSError as error:
            fail(f"cannot listen on {host}:{port}: {error.strerror or error}", ExitStatus.CANNOT_LISTEN)

        def announce() -> None:  # Once the database is open: a failure before is one line alone.
            bound = listener.getsockname()[1]  # The port the OS chose, for --port 0.
            where = f"POST {webhook_path} on http://{host}:{bound}, database {settings.display_url}"
            err.print(render.line("serve:", "bold", where), highlight=False, soft_wrap=True)
            for note in notes:
                err.print(render.line("note:", "bold yellow", note), highlight=False, soft_wrap=True)

        with listener:
            server.run(settings, listener, access_log=access_log, announce=announce)


@app.command()
def keygen() -> None:
    """Print a new AES-256 key for LEDGER_CIPHER_KEY (encrypts stored events and rejected bodies)."""
    sys.stdout.write(AESCipher.create_key(32) + "\n")


def _delete_sqlite_file(db: str | None) -> None:
    url = database_url(db)
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == prefix or ":memory:" in url:
        raise ValueError("--fresh only deletes SQLite files; give --db sqlite:///FILE")
    path = Path(url[len(prefix) :])
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
