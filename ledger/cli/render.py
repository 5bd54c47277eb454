"""How the ``ledger`` command shows things: Rich tables for people, JSON and CSV for programs.

Text from users and from stored data (message ids, reasons, raw bodies, campaign names,
error messages) is shown as literal text: never read as Rich markup, and with every
character that could steer a terminal or disguise text written as an escape
(:func:`~ledger.printable.printable`).  Tables do it in :class:`LiteralTable`, one-line messages in
:func:`line`, JSON in :func:`print_json` and CSV in :func:`print_csv`.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console, RenderableType
from rich.style import StyleType
from rich.table import Table
from rich.text import Text

from ledger.printable import STEERING
from ledger.printable import printable as printable  # the commands call render.printable
from ledger.status import Outcome, Status
from ledger.views import HistoryEntry, IngestOutcome, MessageView, Rejection
from projections import ActivityBucket, Failure, FailureGroup, FunnelRow

BAR_WIDTH = 30

# json.dumps escapes the C0 controls itself; outside strings it writes only the layout's
# newlines and spaces, which must stay.
_UNSAFE_IN_JSON = re.compile(f"[{STEERING}]")


def line(label: str, style: str, message: str) -> Text:
    """One line: ``label`` in ``style``, then ``message`` shown literally."""
    return Text.assemble((label, style), " ", printable(message))


class LiteralTable(Table):
    """A Rich table whose text cells and title are shown literally (see :func:`printable`).

    ``Text`` cells are taken as already safe: build them from printable parts.
    """

    def __init__(self, *headers: str, title: str | None = None, **options: Any) -> None:
        super().__init__(*headers, title=None if title is None else Text(printable(title)), **options)

    def add_row(
        self, *renderables: RenderableType | None, style: StyleType | None = None, end_section: bool = False
    ) -> None:
        """Add a row; ``str`` cells are shown as literal, printable text."""
        cells = [Text(printable(cell)) if isinstance(cell, str) else cell for cell in renderables]
        super().add_row(*cells, style=style, end_section=end_section)


def print_json(value: Any) -> None:
    """Machine output: indented JSON on stdout, every unsafe character as a JSON escape."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    sys.stdout.write(_UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n")


def print_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """Machine output: CSV on stdout, a header row of ``columns`` even when there are no rows.

    Text is printable (see :func:`printable`) and cannot start a spreadsheet formula (see
    :func:`defused`); lists are joined with ``;``.
    """
    writer = csv.DictWriter(sys.stdout, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _csv_value(value) for key, value in row.items()})


def _csv_value(value: Any) -> Any:
    if isinstance(value, list | tuple):
        value = ";".join(map(str, value))
    return defused(printable(value)) if isinstance(value, str) else value


#: What a spreadsheet reads as the start of a formula (OWASP's "CSV injection"); a tab
#: or carriage return, also on that list, never reaches here: printable() escaped it.
_FORMULA_STARTS = ("=", "+", "-", "@")


def defused(text: str) -> str:
    """``text`` as a CSV cell no spreadsheet runs: a leading ``'`` before what would start a formula.

    A provider's error message such as ``=HYPERLINK("http://...")`` would otherwise be a live
    formula when the failure report is opened in a spreadsheet.  A number (``-1``, ``+44``)
    stays as it is.
    """
    if not text.startswith(_FORMULA_STARTS) or _is_number(text):
        return text
    return "'" + text


#: A plain decimal number (not ``float()``'s ``-inf``, ``-nan`` or ``1_0``).
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _is_number(text: str) -> bool:
    return _NUMBER.fullmatch(text) is not None


def _time(value: Any) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def outcomes_table(outcomes: Iterable[IngestOutcome]) -> Table:
    """How many reports were applied, late, duplicate or rejected."""
    counts = Counter(o.kind for o in outcomes)
    total = sum(counts.values())
    table = LiteralTable(title="Ingested reports")
    table.add_column("outcome")
    table.add_column("reports", justify="right")
    table.add_column("share", justify="right")
    for kind in Outcome:
        share = counts[kind] / total if total else 0.0
        table.add_row(kind.value, f"{counts[kind]:,}", f"{share:.1%}")
    table.add_row("total", f"{total:,}", "", style="bold")
    return table


def message_table(view: MessageView) -> Table:
    """One message, field by field."""
    table = LiteralTable(title=f"Message {view.message_id}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for name in ("status", "provider", "sender", "recipient", "channel", "template", "campaign"):
        table.add_row(name, str(getattr(view, name) or ""))
    for name in ("accepted_at", "sent_at", "delivered_at", "read_at", "failed_at"):
        table.add_row(name, _time(getattr(view, name)))
    if view.error is not None:
        table.add_row("error", f"{view.error.code} ({view.error.type})")
        table.add_row("trace id", view.error.trace_id or "")
    for name, value in sorted(view.facts.items()):
        table.add_row(name, value)
    table.add_row("conflicts", str(view.conflicts))
    table.add_row("version", str(view.version))
    return table


def history_table(message_id: str, entries: Sequence[HistoryEntry]) -> Table:
    """The audit trail, oldest first."""
    table = LiteralTable(title=f"History of {message_id}")
    for column in ("#", "event", "stage", "outcome", "provider time", "received", "note"):
        table.add_column(column)
    for entry in entries:
        note = entry.reason or (f"{entry.error.code} trace {entry.error.trace_id}" if entry.error else "")
        table.add_row(
            str(entry.version),
            entry.event,
            "" if entry.stage is None else entry.stage.value,
            "" if entry.outcome is None else entry.outcome.value,
            _time(entry.occurred_at),
            _time(entry.received_at),
            note,
        )
    return table


def failure_groups_table(groups: Sequence[FailureGroup], by: str) -> Table:
    """Failures grouped, largest first, with sample trace ids for support."""
    table = LiteralTable(title=f"Failures by {by}")
    widest = max((len(group.key or "(none)") for group in groups), default=len(by))
    table.add_column(by, min_width=min(widest, 48), overflow="fold")
    for column in ("failures", "share", "conflicts"):
        table.add_column(column, justify="right")
    table.add_column("last seen", no_wrap=True)
    table.add_column("sample trace ids", no_wrap=True)
    for group in groups:
        table.add_row(
            group.key or "(none)",
            f"{group.count:,}",
            f"{group.share:.1%}",
            f"{group.conflicts:,}",
            _time(group.last_at),
            Text("\n").join(Text(printable(trace_id)) for trace_id in group.trace_ids[:2]),
        )
    return table


def failures_table(failures: Sequence[Failure]) -> Table:
    """Individual failures: what a support ticket needs."""
    table = LiteralTable(title="Failures")
    for column in ("failed at", "message id", "recipient", "campaign", "code", "trace id", "conflict"):
        table.add_column(column)
    for failure in failures:
        table.add_row(
            _time(failure.failed_at),
            failure.message_id,
            failure.recipient or "",
            failure.campaign or "",
            failure.code or "",
            failure.trace_id or "",
            "yes" if failure.conflict else "",
        )
    return table


def _bar(fraction: float) -> str:
    filled = round(fraction * BAR_WIDTH)
    return "█" * filled + "·" * (BAR_WIDTH - filled)


def activity_table(buckets: Sequence[ActivityBucket], bucket: str) -> Table:
    """Reports by status and failures by code, one row per hour or day."""
    table = LiteralTable(title=f"Activity by {bucket} (UTC)")
    table.add_column("from", no_wrap=True)
    for status in Status:
        table.add_column(status.value, justify="right")
    table.add_column("failures by code", overflow="fold")
    for each in buckets:
        codes = sorted(each.failures.items(), key=lambda item: (-item[1], item[0]))
        table.add_row(
            each.start.strftime("%Y-%m-%d %H:00" if bucket == "hour" else "%Y-%m-%d"),
            *(f"{each.reports[status]:,}" for status in Status),
            Text(", ").join(Text(printable(f"{code} {count:,}")) for code, count in codes),
        )
    return table


def funnel_tables(rows: Sequence[FunnelRow], by: str | None) -> list[Table]:
    """The funnel: counts with bars, then rates and latency percentiles."""
    tables: list[Table] = []
    for row in rows:
        title = "Delivery funnel" if by is None else f"Delivery funnel — {by} {row.key or '(none)'}"
        counts = LiteralTable(title=title)
        counts.add_column("status")
        counts.add_column("messages", justify="right")
        counts.add_column("share", justify="right")
        counts.add_column("")
        for status in Status:
            share = row.counts[status] / row.total if row.total else 0.0
            counts.add_row(status.value, f"{row.counts[status]:,}", f"{share:.1%}", _bar(share))
        counts.add_row("total", f"{row.total:,}", "", "", style="bold")
        tables.append(counts)
        rates = LiteralTable(show_header=True)
        rates.add_column("rate / latency")
        rates.add_column("value", justify="right")
        rates.add_column("p50", justify="right")
        rates.add_column("p90", justify="right")
        rates.add_column("p99", justify="right")
        rates.add_row("delivery rate", f"{row.delivery_rate:.1%}", "", "", "")
        rates.add_row("read rate", f"{row.read_rate:.1%}", "", "", "")
        rates.add_row("failure rate", f"{row.failure_rate:.1%}", "", "", "")
        if row.billable:
            rates.add_row("billable", f"{row.billable:,} msgs", "", "", "")
        for name, latency in (("sent → delivered", row.sent_to_delivered), ("delivered → read", row.delivered_to_read)):
            rates.add_row(
                name,
                f"{latency.count:,} msgs",
                *(_seconds(v) for v in (latency.p50, latency.p90, latency.p99)),
            )
        tables.append(rates)
    return tables


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 120:
        return f"{value:.0f} s"
    return f"{value / 60:.1f} min"


def rejections_table(rejections: Sequence[Rejection]) -> Table:
    """Refused input with its reason."""
    table = LiteralTable(title="Rejections")
    table.add_column("#")
    table.add_column("received", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("message id", overflow="fold")
    table.add_column("reason", ratio=3)
    table.add_column("body", ratio=2, overflow="ellipsis")
    for rejection in rejections:
        body = rejection.text
        table.add_row(
            str(rejection.id),
            _time(rejection.received_at),
            rejection.kind,
            rejection.message_id or "",
            rejection.reason,
            body if len(body) <= 60 else body[:57] + "...",
        )
    return table


def show(console: Console, *tables: Table) -> None:
    """Print ``tables`` on ``console``, one after the other."""
    for table in tables:
        console.print(table)
