"""What the ``ledger`` command reads: webhook files (or stdin) and times given as options."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Any

import typer


def parse_time(value: str | None, option: str) -> datetime | None:
    """An ISO-8601 time, in UTC; a time without a zone is taken as UTC."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        # At the ends of the calendar a zone offset can carry the time out of range.
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise typer.BadParameter(f"not an ISO-8601 time: {value!r}", param_hint=option) from None


def read_payloads(sources: list[str]) -> Iterator[bytes | dict[str, Any]]:
    """Payloads from JSON Lines or JSON array files (``-``: stdin), lazily for JSON Lines.

    Lines are passed on as bytes, so a malformed one (invalid UTF-8 included) is kept
    byte for byte in the rejection store.  A file that is not valid JSON Lines or a
    JSON array raises ``ValueError``; one that cannot be read, ``OSError``.
    """
    for source in sources:
        stream = sys.stdin.buffer if source == "-" else open(source, "rb")  # noqa: SIM115
        try:
            yield from _payloads_in(stream, source)
        finally:
            if source != "-":
                stream.close()


def _payloads_in(stream: IO[bytes], source: str) -> Iterator[bytes | dict[str, Any]]:
    first = stream.read(1)
    while first.isspace():
        first = stream.read(1)
    if first == b"[":
        try:
            document = json.loads(first + stream.read())
        except (ValueError, RecursionError) as error:  # RecursionError: absurdly deep nesting
            raise ValueError(f"{source}: not a JSON array: {error}") from None
        yield from document
        return
    pending = first
    for line in stream:
        line = pending + line
        pending = b""
        if line.strip():
            yield line.rstrip(b"\n")
    if pending.strip():
        yield pending


def read_lines(sources: list[str]) -> Iterator[bytes]:
    """Every non-blank line of the files (``-``: stdin), as bytes without its line end (form bodies)."""
    for source in sources:
        stream = sys.stdin.buffer if source == "-" else open(source, "rb")  # noqa: SIM115
        try:
            for line in stream:
                if line.strip():
                    yield line.rstrip(b"\r\n")
        finally:
            if source != "-":
                stream.close()
