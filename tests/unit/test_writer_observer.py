"""GroupCommitWriter.observer: told of each committed batch (the receiver's metrics), never in its way."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime

import pytest

from ledger import Ledger, Status
from ledger.batching import GroupCommitWriter
from ledger.connectly import delivery_status_payload
from ledger.views import IngestOutcome

T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def body(message_id: str) -> bytes:
    return json.dumps(delivery_status_payload(message_id, Status.SENT, timestamp=T0)).encode()


def queued_writer(
    reports: int, observer: Callable[[int, float], None]
) -> tuple[GroupCommitWriter, list[Future[IngestOutcome]]]:
    """A writer on an in-memory ledger whose queue is filled before it starts (batches of 50)."""
    writer = GroupCommitWriter(Ledger.in_memory(), max_batch=50)
    writer.observer = observer
    return writer, [writer.ingest(body(f"m-{i}")) for i in range(reports)]


def test_the_observer_is_told_each_batchs_size_and_commit_time() -> None:
    seen: list[tuple[int, float]] = []
    writer, futures = queued_writer(120, lambda size, seconds: seen.append((size, seconds)))
    writer.start()
    for future in futures:
        future.result(timeout=60)
    writer.close()
    assert [size for size, _ in seen] == [50, 50, 20]
    assert all(seconds >= 0 for _, seconds in seen)


def test_an_observer_that_raises_neither_fails_the_reports_nor_stops_the_writer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(size: int, seconds: float) -> None:
        raise RuntimeError("observer bug")

    writer, futures = queued_writer(60, broken)
    writer.start()
    kinds = {future.result(timeout=60).kind.value for future in futures}
    later = writer.ingest(body("m-later")).result(timeout=60)
    writer.close()
    assert (kinds, later.kind.value) == ({"applied"}, "applied")
    assert "the writer's observer failed" in caplog.text
