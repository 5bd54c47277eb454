"""The async API beside the sync one: ``python -m benchmarks.aio [--quick]``.

On the same stream of webhook bodies, each on a new database:

- baseline: ``Ledger.ingest``, one report per call, one after the other (what a
  synchronous handler does, one commit per report);
- ``AsyncLedger.ingest`` with ``--concurrency`` awaits in flight (as an async web server
  has): the group-commit writer commits what arrives together in one transaction;
- for reference, ``Ledger.ingest_many`` in batches of 1,000 (the ceiling: no waiting at all).

Every report opens or changes its message (no send is recorded first).  SQLite file by
default; ``--postgres-url`` (a server: the run creates its own database there and drops it)
runs the same on PostgreSQL.  Prints reports/s, with the ratios against the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from itertools import islice
from pathlib import Path

from benchmarks.report import Figure, print_table
from benchmarks.workload import traffic_for, webhook_texts
from ledger import Ledger
from ledger.aio import AsyncLedger
from tests.databases import scratch_database


def sync_one_by_one(url: str, bodies: list[str]) -> float:
    """Seconds to ``ingest`` each body in turn."""
    with Ledger.open(url) as ledger:
        start = time.perf_counter()
        for body in bodies:
            ledger.ingest(body)
        return time.perf_counter() - start


def sync_batches(url: str, bodies: list[str], size: int = 1000) -> float:
    """Seconds to ``ingest_many`` the bodies in batches of ``size``."""
    with Ledger.open(url) as ledger:
        start = time.perf_counter()
        for first in range(0, len(bodies), size):
            ledger.ingest_many(bodies[first : first + size])
        return time.perf_counter() - start


def async_concurrent(url: str, bodies: list[str], concurrency: int) -> tuple[float, float]:
    """Seconds to await every body's ``ingest`` with ``concurrency`` in flight; and reports per commit."""

    async def run() -> tuple[float, float]:
        async with AsyncLedger.open(url) as ledger:
            queue = iter(bodies)

            async def worker() -> None:
                for body in queue:  # Shared: each body is taken by one worker.
                    await ledger.ingest(body)

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            seconds = time.perf_counter() - start
            return seconds, ledger.writer.reports / max(ledger.writer.batches, 1)

    return asyncio.run(run())


@contextmanager
def databases(postgres_url: str | None, directory: Path) -> Iterator[Callable[[str], str]]:
    """A function giving a new, empty database URL per name, on SQLite or the PostgreSQL server."""
    if postgres_url is None:
        yield lambda name: f"sqlite:///{directory / name}.db"
        return
    with ExitStack() as made:  # Each database is dropped at the end.
        yield lambda name: made.enter_context(scratch_database(postgres_url, f"bench_aio_{name}"))


def measure(new_database: Callable[[str], str], bodies: list[str], concurrency: int, backend: str) -> list[Figure]:
    section = f"async API ({backend}, {len(bodies):,} reports)"
    baseline_seconds = sync_one_by_one(new_database("sync"), bodies)
    baseline = len(bodies) / baseline_seconds
    async_seconds, per_commit = async_concurrent(new_database("async"), bodies, concurrency)
    batch_seconds = sync_batches(new_database("batches"), bodies)
    named = "Ledger.ingest, one by one"
    return [
        Figure(section, named, baseline, "reports/s"),
        Figure(
            section,
            f"AsyncLedger.ingest, {concurrency} in flight",
            len(bodies) / async_seconds,
            "reports/s",
            baseline=named,
            baseline_value=baseline,
            note=f"{per_commit:.1f} reports per commit",
        ),
        Figure(
            section,
            "Ledger.ingest_many, batches of 1,000",
            len(bodies) / batch_seconds,
            "reports/s",
            baseline=named,
            baseline_value=baseline,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few hundred reports: a smoke test")
    parser.add_argument("--reports", type=int, default=20_000, help="reports in the stream")
    parser.add_argument("--concurrency", type=int, default=64, help="awaits in flight")
    parser.add_argument("--postgres-url", default=None, help="also run on this PostgreSQL server")
    args = parser.parse_args(argv)
    reports = 300 if args.quick else args.reports
    bodies = list(islice(webhook_texts(traffic_for(reports, seed=5)), reports))
    with tempfile.TemporaryDirectory(prefix="ledger-bench-aio-") as directory:
        with databases(None, Path(directory)) as new_database:
            figures = measure(new_database, bodies, args.concurrency, "SQLite file")
        if args.postgres_url:
            with databases(args.postgres_url, Path(directory)) as new_database:
                figures += measure(new_database, bodies, args.concurrency, "PostgreSQL")
    print_table("The async API beside the sync one", figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
