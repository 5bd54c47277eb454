"""The ``ledger`` command's Typer app: the root options and every command, in help order.

Imported by :func:`ledger.cli.main`, which says in one line when the ``cli`` extra (Typer,
Rich) is missing.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from ledger.cli import audit, demo, reads, report, serve, views, writes
from ledger.cli.errors import ExitStatus, OneLineErrors
from ledger.urls import URL_VARIABLE

__all__ = ["ExitStatus", "app"]

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
app.command()(reads.activity)
app.command()(reads.rejections)
app.command()(report.report)
app.command()(views.rebuild)
app.command()(views.project)
app.command("verify")(audit.verify_command)
app.command("seal")(audit.seal_command)
app.command("checkpoint")(audit.checkpoint_command)
app.command("audit")(audit.audit_command)
app.command("verify-bundle")(audit.verify_bundle_command)
app.command()(demo.demo)
app.command()(demo.simulate)
app.command()(serve.serve)
app.command()(demo.keygen)
