"""``ledger report --html FILE``: the overview and the failure report as one static HTML file.

The dashboard's own templates (:mod:`ledger.dashboard`), with nothing to fetch and no
script: a file to attach to an email or a ticket.  Like ``summary`` and ``failures`` it
catches the read models up first, or rebuilds them apart ``--as-of`` a past time.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from ledger.application import Ledger
from ledger.cli import console, render
from ledger.cli.errors import ExitStatus, clear_errors, fail
from ledger.cli.input import parse_time
from ledger.cli.options import Db
from ledger.dashboard.render import Chrome
from ledger.dashboard.render import render as render_page
from ledger.readmodels import GROUP_BY


def report(
    html: Annotated[Path, typer.Option("--html", help="Write the report to this HTML file (replaced if it exists).")],
    campaign: Annotated[str | None, typer.Option(help="Only this campaign's messages.")] = None,
    since: Annotated[str | None, typer.Option(help="From this time (ISO-8601, inclusive).")] = None,
    until: Annotated[str | None, typer.Option(help="Until this time (ISO-8601, exclusive).")] = None,
    by: Annotated[str, typer.Option(help=f"Group the failures by {' | '.join(GROUP_BY)}.")] = "code",
    as_of: Annotated[
        str | None, typer.Option(help="As the ledger knew it at this time (ISO-8601, by received time).")
    ] = None,
    db: Db = None,
) -> None:
    """Write the funnel, rates, latency and failure report as one self-contained HTML file."""
    if by not in GROUP_BY:
        raise typer.BadParameter(f"choose one of {', '.join(GROUP_BY)}", param_hint="--by")
    start, end, moment = parse_time(since, "--since"), parse_time(until, "--until"), parse_time(as_of, "--as-of")
    if start is not None and end is not None and start > end:
        fail("--since is later than --until", ExitStatus.USAGE)
    with clear_errors(), Ledger.open(db, create=False) as ledger:
        funnel = ledger.summary(campaign=campaign, since=start, until=end, as_of=moment)[0]
        campaigns = [] if campaign else ledger.summary(by="campaign", fresh=False, as_of=moment)
        groups = ledger.failure_summary(by=by, since=start, until=end, fresh=False, as_of=moment)
    page = render_page(
        "report.html",
        Chrome(static=True),
        title="Delivery report",
        scope=_scope(campaign, start, end, moment),
        funnel=funnel,
        campaigns=campaigns,
        by=by,
        groups=groups,
        group_link=None,
        current=None,
        error=None,
    )
    try:
        html.write_text(page, encoding="utf-8")
    except OSError as error:
        fail(f"cannot write {html}: {error.strerror or error}", ExitStatus.USAGE)
    failures = sum(group.count for group in groups)
    written = render.printable(str(html))
    console.out.print(
        f"{funnel.total:,} messages, {failures:,} failures; written to {written}", soft_wrap=True, highlight=False
    )


def _scope(campaign: str | None, start: datetime | None, end: datetime | None, moment: datetime | None) -> str:
    parts = [f"campaign {campaign}" if campaign else "all campaigns"]
    if start is not None or end is not None:
        parts.append(f"messages first seen from {_iso(start)} until {_iso(end)}")
    if moment is not None:
        parts.append(f"as the ledger knew it at {moment.isoformat()}")
    return "; ".join(parts)


def _iso(moment: datetime | None) -> str:
    return "the start" if moment is None else moment.isoformat()
