"""The ``ledger`` command: a thin shell over the Ledger and its projections.

The database comes from ``--db URL`` after the subcommand, else ``--db URL`` before it,
else ``LEDGER_DATABASE_URL``, else ``sqlite:///ledger.db``.  Read commands (``status``,
``history``, ``failures``, ``summary``, ``rejections``) and ``rebuild`` never create a
database; the others create the ledger on first use.

Text from users and stored data is printed literally: no Rich markup, control and
bidirectional characters escaped (see :mod:`ledger.cli.render`).  Every failure is one
line on stderr and an exit status (:class:`~ledger.cli.errors.ExitStatus`):

===  ==========================================================================
0    success
1    unknown message (``status``, ``history``)
2    bad usage or unreadable input: a malformed or unsupported database URL, a bad
     option value, conflicting options, a file that cannot be read
3    the database failed or cannot be reached, or holds no ledger (read commands)
4    the server cannot listen: the address is in use or not allowed (``serve`` only)
130  interrupted (Ctrl-C)
===  ==========================================================================

One module per group of commands: :mod:`~ledger.cli.writes`, :mod:`~ledger.cli.reads`,
:mod:`~ledger.cli.views`, :mod:`~ledger.cli.demo` and :mod:`~ledger.cli.serve`.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from ledger.cli import demo, reads, serve, views, writes
from ledger.cli.errors import ExitStatus, OneLineErrors
from ledger.urls import URL_VARIABLE

__all__ = ["ExitStatus", "app", "main"]

app = typer.Typer(
    name="ledger",
    cls=OneLineErrors,
    help="An event-sourced ledger of WhatsApp delivery statuses (Connectly webhooks).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


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
            envvar=URL_VARIABLE,
            help="SQLAlchemy URL for every command (default: sqlite:///ledger.db).",
        ),
    ] = None,
    show_version: Annotated[
        bool, typer.Option("--version", is_eager=True, callback=_show_version, help="Print the version and exit.")
    ] = False,
) -> None:
    """An event-sourced ledger of WhatsApp delivery statuses (Connectly webhooks)."""


# In the order `ledger --help` lists them.
app.command()(writes.ingest)
app.command("record-sent")(writes.record_sent)
app.command()(reads.status)
app.command()(reads.history)
app.command()(reads.failures)
app.command()(reads.summary)
app.command()(reads.rejections)
app.command()(views.rebuild)
app.command()(views.project)
app.command()(demo.demo)
app.command()(demo.simulate)
app.command()(serve.serve)
app.command()(demo.keygen)


def main() -> None:
    """Console-script entry point."""
    app()
