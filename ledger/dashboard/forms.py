"""What the pages read from their forms' query strings: times, dates and text, or a clear error."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any


class PageInputError(ValueError):
    """A filter in the query string the page cannot use (answered 400, on the page)."""


def text(fields: Mapping[str, str], name: str) -> str | None:
    """A text field; empty is the same as absent."""
    return fields.get(name) or None


def moment(fields: Mapping[str, str], name: str) -> datetime | None:
    """A time from a ``datetime-local`` field (or ISO 8601): UTC unless it names a zone."""
    value = fields.get(name) or ""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PageInputError(f"{name}: not a time: {value!r} (e.g. 2026-12-01T09:30)") from None
    try:
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except OverflowError:  # a zone offset carried it past the calendar's end
        raise PageInputError(f"{name}: out of range: {value!r}") from None


def window(fields: Mapping[str, str]) -> tuple[datetime | None, datetime | None]:
    """The ``since`` and ``until`` fields; a range that ends before it starts is refused."""
    since, until = moment(fields, "since"), moment(fields, "until")
    if since is not None and until is not None and since > until:
        raise PageInputError("the range ends before it starts: From is later than Until")
    return since, until


def field(value: datetime | None) -> str:
    """A time as a ``datetime-local`` field shows it (UTC, to the minute)."""
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def day(value: str) -> dict[str, Any]:
    """The window of one UTC day, ``YYYY-MM-DD``, as ``since``/``until``."""
    try:
        start = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise PageInputError(f"day: not a date: {value!r}") from None
    return {"since": start, "until": start + timedelta(days=1)}
