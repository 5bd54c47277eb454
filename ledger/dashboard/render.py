"""The dashboard's templates and what they are given: page data in, HTML out.

The same templates serve ``ledger serve``'s pages and ``ledger report --html``'s file
(``static=True``: no links to pages that a file cannot reach).  Jinja autoescapes
everything; stored text additionally goes through :func:`~ledger.printable.printable`
(the ``visible`` filter), so a hostile body is shown, never interpreted.  The style sheet
is inlined, there is no script: one HTML file is the whole page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from ledger.dashboard import charts
from ledger.printable import printable
from ledger.readmodels import FunnelRow
from ledger.status import Status

#: The funnel's stages, in order, as the overview shows them.
FUNNEL_STAGES = ("accepted", "sent", "delivered", "read", "failed")
#: The pages, as the navigation lists them: (route name, label).
PAGES = (
    ("dashboard_overview", "Overview"),
    ("dashboard_activity", "Over time"),
    ("dashboard_failures", "Failures"),
    ("dashboard_message", "Message"),
    ("dashboard_rejections", "Rejections"),
)


@dataclass(frozen=True, slots=True)
class Chrome:
    """What every page shows around its content: navigation links, the session, the time."""

    links: Mapping[str, str] = field(default_factory=dict)  # route name -> URL ({} in a static file)
    logout: str | None = None  # the logout form's URL, when signed in with a session
    static: bool = False
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def render(template: str, chrome: Chrome, **context: Any) -> str:
    """The page ``template`` (a file under ``templates/``) with ``context``."""
    return _environment().get_template(template).render(chrome=chrome, pages=PAGES, css=_css(), **context)


def funnel_stages(row: FunnelRow) -> list[tuple[str, int]]:
    """The overview's funnel: how many messages reached each stage (a read message was delivered and sent).

    ``failed`` counts failed messages, beside the stages they passed.
    """
    counts = row.counts
    sent = counts[Status.SENT] + counts[Status.DELIVERED] + counts[Status.READ]
    return [
        ("accepted", row.total),
        ("sent", sent),
        ("delivered", row.reached),
        ("read", counts[Status.READ]),
        ("failed", counts[Status.FAILED]),
    ]


def funnel_chart(row: FunnelRow) -> Markup:
    """The overview's funnel as bars."""
    return charts.funnel_bars(funnel_stages(row), row.total)


def stacked_by(
    labels: Sequence[str], rows: Sequence[Mapping[str, int]], *, top: int = 8, order: Sequence[str] = ()
) -> list[tuple[str, list[int]]]:
    """Series for :func:`charts.stacked_bars`, one value per label.

    With ``order``, those keys in that order (each stage keeps its colour); else the
    ``top`` largest keys over all rows, largest first, and the rest as "other".
    """
    if len(labels) != len(rows):
        raise ValueError(f"{len(labels)} labels for {len(rows)} rows")
    if order:
        return [(key, [row.get(key, 0) for row in rows]) for key in order]
    totals: dict[str, int] = {}
    for row in rows:
        for key, count in row.items():
            totals[key] = totals.get(key, 0) + count
    kept = sorted(totals, key=lambda key: (-totals[key], key))[:top]
    series = [(key, [row.get(key, 0) for row in rows]) for key in kept]
    rest = [sum(count for key, count in row.items() if key not in kept) for row in rows]
    if any(rest):
        series.append(("other", rest))
    return series


def when(moment: datetime | None) -> str:
    """A time as the pages show it: UTC, to the second (— when unknown)."""
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") + "Z"


def seconds(value: float | None) -> str:
    """A latency: seconds, minutes or hours (— when none was measured)."""
    if value is None:
        return "—"
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def visible(value: object, *, block: bool = False) -> str:
    """Stored or user text made printable (escaped again by autoescape); ``None`` as —."""
    if value is None:
        return "—"
    return printable(str(value), keep_lines=block)


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("ledger.dashboard", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        when=when,
        seconds=seconds,
        visible=visible,
        pct=lambda value: f"{value:.1%}",
        num=lambda value: f"{value:,}",
    )
    environment.globals.update(funnel_chart=funnel_chart, stacked_bars=charts.stacked_bars, stacked_by=stacked_by)
    return environment


@cache
def _css() -> Markup:
    # The style sheet is ours and constant: safe to inline as it is.
    return Markup(files("ledger.dashboard").joinpath("dashboard.css").read_text(encoding="utf-8"))
