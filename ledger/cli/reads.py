"""The commands that read: ``status``, ``history``, ``failures``, ``summary``, ``activity``, ``rejections``.

None of them creates a database, and none shows stale data: ``status``, ``history`` and
``rejections`` read the ledger itself; ``failures``, ``summary`` and ``activity`` catch the
read models up first.  With ``--as-of`` (``--until`` for ``history``) they show what the ledger knew at
that time instead: ``failures`` and ``summary`` then rebuild the views from the log apart,
leaving the ledger's own alone (:mod:`projections.past`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import datetime
from typing import Annotated

import typer

from ledger.application import Ledger
from ledger.cli import console, render
from ledger.cli.errors import ExitStatus, clear_errors, fail
from ledger.cli.input import parse_time
from ledger.cli.options import AsJson, Db
from ledger.readmodels import BUCKET_SIZES, FUNNEL_BY
from projections import GROUP_BY, Failure, FailureGroup, Projections
from projections.past import rebuild_as_of
from projections.queries import ViewQueries

#: The largest ``--limit``: a database's LIMIT is a signed 64-bit integer.
MAX_LIMIT = 2**63 - 1


def caught_up(db: str | None) -> Projections:
    """The projections of an existing ledger, caught up first so what a read command shows is never stale."""
    views = Projections.open(db, create=False)
    with console.progress_bar(transient=True) as progress:
        behind = max(0, views.head() - min(views.positions().values()))
        task = progress.add_task("updating views", total=behind, rate="")
        views.catch_up(on_progress=lambda p: progress.update(task, completed=p.processed))
    return views


@contextmanager
def views_as_of(db: str | None, moment: datetime | None) -> Iterator[ViewQueries]:
    """The read models caught up (``moment`` None), or rebuilt apart as of ``moment`` (see :mod:`projections.past`)."""
    if moment is None:
        with caught_up(db) as views:
            yield views
        return
    with Ledger.open(db, create=False) as ledger, console.progress_bar(transient=True) as progress:
        task = progress.add_task(f"rebuilding as of {moment.isoformat()}", total=None, rate="")
        past = rebuild_as_of(
            ledger, moment, on_progress=lambda p: progress.update(task, completed=p.position, total=p.head)
        )
    with past:
        yield past


AsOf = Annotated[
    str | None,
    typer.Option(help="As the ledger knew it at this time (ISO-8601, by received time, inclusive)."),
]
AtPosition = Annotated[
    int | None, typer.Option(min=0, help="As the log stood at this position (notification id), inclusive.")
]


def _window(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """``--since`` and ``--until`` as UTC times; a usage error if the first is later."""
    start, end = parse_time(since, "--since"), parse_time(until, "--until")
    if start is not None and end is not None and start > end:
        fail("--since is later than --until", ExitStatus.USAGE)
    return start, end


def _when(moment: datetime | None, position: int | None, option: str) -> None:
    if moment is not None and position is not None:
        fail(f"{option} and --at-position cannot be used together", ExitStatus.USAGE)


def status(
    message_id: str,
    as_of: AsOf = None,
    at_position: AtPosition = None,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Show where a message stands (or stood, with --as-of or --at-position)."""
    moment = parse_time(as_of, "--as-of")
    _when(moment, at_position, "--as-of")
    with clear_errors(), Ledger.open(db, create=False) as ledger:
        view = ledger.message(message_id, as_of=moment, at_position=at_position)
    if as_json:
        render.print_json(view.to_dict())
    else:
        render.show(console.out, render.message_table(view))


def history(
    message_id: str,
    until: Annotated[
        str | None, typer.Option(help="Only what was received by this time (ISO-8601, inclusive).")
    ] = None,
    at_position: AtPosition = None,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Show a message's audit trail: what arrived, when, and what it did (up to --until or --at-position)."""
    moment = parse_time(until, "--until")
    _when(moment, at_position, "--until")
    with clear_errors(), Ledger.open(db, create=False) as ledger:
        entries = ledger.history(message_id, until=moment, at_position=at_position)
    if as_json:
        render.print_json([entry.to_dict() for entry in entries])
    else:
        render.show(console.out, render.history_table(message_id, entries))


def failures(
    since: Annotated[str | None, typer.Option(help="From this time (ISO-8601, inclusive).")] = None,
    until: Annotated[str | None, typer.Option(help="Until this time (ISO-8601, exclusive).")] = None,
    by: Annotated[str, typer.Option(help=f"Group by {' | '.join(GROUP_BY)}.")] = "code",
    details: Annotated[bool, typer.Option("--details", help="List each failure instead of groups.")] = False,
    as_of: AsOf = None,
    db: Db = None,
    as_json: AsJson = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Machine output: CSV on stdout.")] = False,
) -> None:
    """The failure report: failures grouped by error code (or type, campaign, recipient, day, provider)."""
    if by not in GROUP_BY:
        raise typer.BadParameter(f"choose one of {', '.join(GROUP_BY)}", param_hint="--by")
    if as_json and as_csv:
        fail("--json and --csv cannot be used together", ExitStatus.USAGE)
    start, end = _window(since, until)
    moment = parse_time(as_of, "--as-of")
    with clear_errors(), views_as_of(db, moment) as views:
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
        render.show(console.out, render.failures_table(rows))
    else:
        render.show(console.out, render.failure_groups_table(groups, by))


def summary(
    by: Annotated[str | None, typer.Option(help=f"One funnel per {' | '.join(FUNNEL_BY)}.")] = None,
    campaign: Annotated[str | None, typer.Option(help="Only this campaign's messages.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only messages first known from this time (ISO-8601, inclusive).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Only messages first known before this time (ISO-8601, exclusive).")
    ] = None,
    as_of: AsOf = None,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """The delivery funnel: counts, delivery and read rates, latency percentiles.

    A message's first known time is the earliest of its send and report times (its day's).
    """
    if by is not None and by not in FUNNEL_BY:
        raise typer.BadParameter(f"choose one of {', '.join(FUNNEL_BY)}", param_hint="--by")
    start, end = _window(since, until)
    moment = parse_time(as_of, "--as-of")
    with clear_errors(), views_as_of(db, moment) as views:
        rows = views.summary(by=by, campaign=campaign, since=start, until=end)
    if as_json:
        render.print_json([row.to_dict() for row in rows])
    else:
        render.show(console.out, *render.funnel_tables(rows, by))


def activity(
    bucket: Annotated[str, typer.Option(help=f"One row per {' | '.join(BUCKET_SIZES)} (UTC).")] = "day",
    since: Annotated[str | None, typer.Option(help="From this time (ISO-8601, inclusive).")] = None,
    until: Annotated[str | None, typer.Option(help="Until this time (ISO-8601, exclusive).")] = None,
    campaign: Annotated[str | None, typer.Option(help="Only this campaign's messages.")] = None,
    as_of: AsOf = None,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Stage reports by status and failures by code, per hour or day (duplicates and rejections not counted)."""
    if bucket not in BUCKET_SIZES:
        raise typer.BadParameter(f"choose one of {', '.join(BUCKET_SIZES)}", param_hint="--bucket")
    start, end = _window(since, until)
    moment = parse_time(as_of, "--as-of")
    with clear_errors(), views_as_of(db, moment) as views:
        buckets = views.activity(bucket=bucket, since=start, until=end, campaign=campaign)
    if as_json:
        render.print_json([each.to_dict() for each in buckets])
    else:
        render.show(console.out, render.activity_table(buckets, bucket))


def rejections(
    limit: Annotated[int, typer.Option(min=0, max=MAX_LIMIT, help="At most this many.")] = 100,
    since: Annotated[str | None, typer.Option(help="Received at or after (ISO-8601).")] = None,
    message: Annotated[str | None, typer.Option(help="Only those about this message id.")] = None,
    newest_first: Annotated[bool, typer.Option("--newest-first", help="Newest first (by id).")] = False,
    before: Annotated[
        int | None, typer.Option(min=1, help="Only ids below this one (a page's last id gives the next page).")
    ] = None,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """What the ledger refused, and why (oldest first, unless --newest-first)."""
    start = parse_time(since, "--since")
    with clear_errors(), Ledger.open(db, create=False) as ledger:
        refused = ledger.rejections(
            limit=limit, since=start, message_id=message, before=before, newest_first=newest_first
        )
    if as_json:
        render.print_json([r.to_dict() for r in refused])
    else:
        render.show(console.out, render.rejections_table(refused))
