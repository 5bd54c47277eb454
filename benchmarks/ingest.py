"""The ledger's own figures: ``ingest_many``, single ``ingest``, ``message()`` lookups.

Only the calls named are timed; recording the sends around them is not.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.workload import SendStep, batches, record, timeline, webhook_texts
from ledger import Ledger
from ledger.simulate import Traffic
from projections import Projections


@dataclass(frozen=True, slots=True)
class Throughput:
    """``items`` processed in ``seconds`` of timed calls."""

    items: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0


def record_all_sends(url: str, traffic: Traffic) -> Throughput:
    """Record every send of ``traffic``, one ``record_sent`` each (the setup of a cold run)."""
    with Ledger.open(url) as ledger:
        start = time.perf_counter()
        count = 0
        for send in traffic.sends():
            record(ledger, send)
            count += 1
        return Throughput(count, time.perf_counter() - start)


def ingest_in_production_order(url: str, traffic: Traffic, *, batch: int) -> Throughput:
    """``ingest_many`` (``batch`` > 1) or ``ingest`` (``batch`` == 1) in production order.

    Each message's send is recorded (by the same ledger, not timed) before its first
    webhook, as a service that sends and receives sees them.
    """
    with Ledger.open(url) as ledger:
        seconds = 0.0
        count = 0
        pending: list[str] = []

        def flush() -> None:
            nonlocal seconds, count
            start = time.perf_counter()
            if batch == 1:
                ledger.ingest(pending[0])
            else:
                ledger.ingest_many(pending)
            seconds += time.perf_counter() - start
            count += len(pending)
            pending.clear()

        for step in timeline(traffic):
            if isinstance(step, SendStep):
                record(ledger, step.send)
                continue
            pending.append(step.body)
            if len(pending) == batch:
                flush()
        if pending:
            flush()
        return Throughput(count, seconds)


def ingest_after_all_sends(
    url: str, traffic: Traffic, *, batch: int, ledger_class: type[Ledger] = Ledger
) -> Throughput:
    """``ingest_many`` by a ledger opened afresh on a database that holds every send.

    Nothing is cached when it starts: the first report of each message reads it from
    the database (a stateless worker; or a send recorded by another process).
    """
    with ledger_class.open(url) as ledger:
        return timed_batches(ledger.ingest_many, traffic, batch)


def timed_batches(ingest_many: Callable[[list[str]], object], traffic: Traffic, batch: int) -> Throughput:
    """Feed ``traffic``'s webhook bodies to ``ingest_many`` in batches, timing only the calls."""
    seconds = 0.0
    count = 0
    for bodies in batches(webhook_texts(traffic), batch):
        start = time.perf_counter()
        ingest_many(bodies)
        seconds += time.perf_counter() - start
        count += len(bodies)
    return Throughput(count, seconds)


class LedgerLeavingTheCollectorAlone(Ledger):
    """The ledger without its garbage-collector pause, to show what the pause is worth."""

    pause_gc_during_batches = False


def lookup_latencies(url: str, message_ids: list[str], *, lookups: int, seed: int = 7) -> list[float]:
    """Seconds per ``Ledger.message()`` call, over ids drawn at random (a fresh ledger)."""
    rng = random.Random(seed)
    latencies: list[float] = []
    with Ledger.open(url) as ledger:
        for _ in range(lookups):
            message_id = rng.choice(message_ids)
            start = time.perf_counter()
            ledger.message(message_id)
            latencies.append(time.perf_counter() - start)
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def view_lookup_latencies(url: str, message_ids: list[str], *, lookups: int, seed: int = 7) -> list[float]:
    """Seconds per ``current_status`` query (one message by id), after a catch-up that is not timed."""
    rng = random.Random(seed)
    latencies: list[float] = []
    with Projections.open(url) as views:
        views.catch_up()
        for _ in range(lookups):
            message_id = rng.choice(message_ids)
            start = time.perf_counter()
            row = views.current_status.get(message_id)
            latencies.append(time.perf_counter() - start)
            if row is None:
                raise AssertionError(f"{message_id} is missing from the current_status view")
    return latencies
