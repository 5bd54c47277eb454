"""Projection rebuild throughput beside the speed of merely reading the same log.

Both figures come from the same run on the same database: first every notification is
read with ``select_notifications`` in pages (the baseline: what any consumer must pay),
then ``Projections.rebuild()`` empties the three views and replays the whole log.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.ingest import ingest_in_production_order
from benchmarks.workload import traffic_for
from ledger import Ledger
from projections import Projections

PAGE = 20000


def build_log(url: str, reports: int, seed: int = 3, batch: int = 1000) -> int:
    """Fill the ledger with about ``reports`` webhook reports in production order; return the log's length."""
    ingest_in_production_order(url, traffic_for(reports, seed=seed), batch=batch)
    with Ledger.open(url) as ledger:
        return ledger.recorder.max_notification_id() or 0


def read_log(ledger: Ledger) -> int:
    """The baseline: page through every notification, doing nothing with it."""
    position, count = 0, 0
    while page := ledger.recorder.select_notifications(start=position, limit=PAGE, inclusive_of_start=False):
        count += len(page)
        position = page[-1].id
    return count


def measure(url: str) -> dict[str, float]:
    """Events/s of reading the log and of rebuilding every view from it, measured back to back."""
    with Ledger.open(url) as ledger:
        views = Projections(ledger)
        started = time.perf_counter()
        events = read_log(ledger)
        read_rate = events / (time.perf_counter() - started)
        started = time.perf_counter()
        rebuilt = views.rebuild(page_size=PAGE)
        rebuild_rate = rebuilt / (time.perf_counter() - started)
    return {"events": events, "read_events_per_s": read_rate, "rebuild_events_per_s": rebuild_rate}


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=200_000, help="webhook reports in the log (plus sends)")
    parser.add_argument("--db", help="a database URL to use as is (default: a new SQLite file)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'rebuild.db'}"
        if args.db is None:
            started = time.perf_counter()
            build_log(url, args.reports)
            print(f"built the log in {time.perf_counter() - started:.0f} s")
        result = measure(url)
    ratio = result["rebuild_events_per_s"] / result["read_events_per_s"]
    print(f"{result['events']:,.0f} events in the log")
    print(f"{'read the log (select_notifications)':<40}{result['read_events_per_s']:>12,.0f} events/s")
    print(f"{'rebuild all three views':<40}{result['rebuild_events_per_s']:>12,.0f} events/s")
    print(f"{'ratio (rebuild / read)':<40}{ratio:>12.2f}")
    return result | {"ratio": ratio}


if __name__ == "__main__":
    main()
