"""Concurrent writers: four processes report on the same messages at the same time."""

from __future__ import annotations

import multiprocessing
import random
from datetime import UTC, datetime
from typing import Any

import pytest

from ledger import Ledger, Message, Status
from ledger.connectly import parse_delivery_status
from ledger.simulate import Traffic, TrafficShape

WORKERS = 4
BATCH = 20
CONSISTENT = TrafficShape(malformed=0.0, contradictory=0.0, duplicated=0.0)


def write(url: str, payloads: list[dict[str, Any]], seed: int, ready: Any, go: Any, results: Any) -> None:
    """One writer process: every report, in its own random order, in batches."""
    order = list(payloads)
    random.Random(seed).shuffle(order)
    with Ledger.open(url) as ledger:
        # Start together: a writer that finished before the last one started would race no one.
        ready.release()
        go.wait(timeout=120)
        for start in range(0, len(order), BATCH):
            ledger.ingest_many(order[start : start + BATCH])
        results.put(ledger.conflicts_retried)
        if ledger.locks_retried:
            print(f"writer {seed}: SQLite lock contention retried {ledger.locks_retried} times")


def expected_states(payloads: list[dict[str, Any]]) -> dict[str, Message]:
    """What the pure domain makes of all the reports, message by message."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    messages: dict[str, Message] = {}
    for payload in payloads:
        report = parse_delivery_status(payload)
        if report.message_id not in messages:
            messages[report.message_id] = Message.open(
                report.message_id, sender=report.sender, recipient=report.recipient, channel=report.channel, at=at
            )
        messages[report.message_id].report(report, at=at)
    return messages


def run_writers(url: str, payloads: list[dict[str, Any]]) -> int:
    context = multiprocessing.get_context("spawn")
    results, ready, go = context.Queue(), context.Semaphore(0), context.Event()
    processes = [context.Process(target=write, args=(url, payloads, n, ready, go, results)) for n in range(WORKERS)]
    for process in processes:
        process.start()
    for _ in processes:
        assert ready.acquire(timeout=120), "a writer did not start"
    go.set()
    for process in processes:
        process.join(timeout=300)
    assert [p.exitcode for p in processes] == [0] * WORKERS, "a writer failed (its traceback is above)"
    return sum(results.get(timeout=10) for _ in processes)


class ConcurrentWritersContract:
    @pytest.fixture
    def url(self) -> str:
        raise NotImplementedError

    def test_four_writers_converge_lose_nothing_and_retry_conflicts(self, url: str) -> None:
        payloads = [p for p in Traffic(150, seed=5, shape=CONSISTENT, window=150).webhooks() if isinstance(p, dict)]
        with Ledger.open(url):
            pass  # create the tables once, before the writers race
        retried = run_writers(url, payloads)
        print(f"\n{WORKERS} writers x {len(payloads)} reports; version conflicts retried: {retried}")

        expected = expected_states(payloads)
        with Ledger.open(url) as ledger:
            for message_id, message in expected.items():
                view = ledger.message(message_id)
                assert view.status is message.status
                times = {Status.SENT: view.sent_at, Status.DELIVERED: view.delivered_at, Status.READ: view.read_at}
                times[Status.FAILED] = view.failed_at
                assert {s: t for s, t in times.items() if t is not None} == message.stage_times
                stages = [h.stage for h in ledger.history(message_id) if h.event.startswith("stage_reported")]
                assert sorted(s.value for s in stages if s) == sorted(s.value for s in message.stage_times)
            assert ledger.rejections() == []
        assert retried > 0, "the writers never collided; the test did not exercise concurrency"


class TestConcurrentWritersOnSQLiteFile(ConcurrentWritersContract):
    @pytest.fixture
    def url(self, sqlite_database: str) -> str:
        return sqlite_database


@pytest.mark.postgres
class TestConcurrentWritersOnPostgreSQL(ConcurrentWritersContract):
    @pytest.fixture
    def url(self, postgres_database: str) -> str:
        return postgres_database
