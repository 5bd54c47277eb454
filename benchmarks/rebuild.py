"""Projection rebuild throughput beside the speed of merely reading the same log.

Every figure comes from the same run on the same database.  The log is read three ways,
doing nothing with what is read: with eventsourcing's ``select_notifications`` (the
baseline of the target: what any consumer of the event store pays), with the ledger's
own ``read_log`` (what the projection runner uses), and on SQLite with the driver alone
(the floor: rows, no objects).  Then ``Projections.rebuild()`` empties the three views
and replays the whole log into them.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.ingest import ingest_in_production_order
from benchmarks.workload import traffic_for
from ledger import Ledger
from ledger.persistence import LedgerRecorder
from projections import Projections
from projections.runner import REBUILD_PAGE_SIZE

#: The readers page through the log as the rebuild does.
PAGE = REBUILD_PAGE_SIZE


def build_log(url: str, reports: int, seed: int = 3, batch: int = 1000) -> int:
    """Fill the ledger with about ``reports`` webhook reports in production order; return the log's length."""
    ingest_in_production_order(url, traffic_for(reports, seed=seed), batch=batch)
    with Ledger.open(url) as ledger:
        return ledger.recorder.max_notification_id() or 0


def read_log(ledger: Ledger) -> int:
    """The baseline: page through every notification with ``select_notifications``, doing nothing with it."""
    position, count = 0, 0
    while page := ledger.recorder.select_notifications(start=position, limit=PAGE, inclusive_of_start=False):
        count += len(page)
        position = page[-1].id
    return count


def read_log_as_the_runner_does(ledger: Ledger) -> int:
    """Page through every notification with the ledger's ``read_log``, doing nothing with it."""
    recorder = ledger.recorder
    assert isinstance(recorder, LedgerRecorder)
    position, count = 0, 0
    while page := recorder.read_log(position, PAGE):
        count += len(page)
        position = page[-1].id
    return count


def read_rows_with_the_driver(path: str) -> int:
    """The floor: the same pages as plain rows from ``sqlite3``, no objects made."""
    query = (
        "SELECT id, originator_id, originator_version, topic, state FROM ledger_events WHERE id > ? ORDER BY id LIMIT ?"
    )
    connection = sqlite3.connect(path)
    try:
        position, count = 0, 0
        while rows := connection.execute(query, (position, PAGE)).fetchall():
            count += len(rows)
            position = rows[-1][0]
        return count
    finally:
        connection.close()


def _rate(read: Callable[[], int]) -> float:
    started = time.perf_counter()
    count = read()
    return count / (time.perf_counter() - started)


def measure(url: str) -> dict[str, float]:
    """Events/s of reading the log (three ways) and of rebuilding every view from it, back to back."""
    with Ledger.open(url) as ledger:
        views = Projections(ledger)
        events = read_log(ledger)  # warms the page cache for every reader alike
        result = {
            "events": events,
            "read_events_per_s": _rate(lambda: read_log(ledger)),
            "read_log_events_per_s": _rate(lambda: read_log_as_the_runner_does(ledger)),
        }
        if ledger.engine.dialect.name == "sqlite" and ledger.engine.url.database not in (None, "", ":memory:"):
            result["driver_rows_per_s"] = _rate(lambda: read_rows_with_the_driver(str(ledger.engine.url.database)))
        started = time.perf_counter()
        rebuilt = views.rebuild()
        result["rebuild_events_per_s"] = rebuilt / (time.perf_counter() - started)
    return result


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
    print(f"{'read the log (read_log, the runner)':<40}{result['read_log_events_per_s']:>12,.0f} events/s")
    if "driver_rows_per_s" in result:
        print(f"{'read the rows (sqlite3 alone)':<40}{result['driver_rows_per_s']:>12,.0f} rows/s")
    print(f"{'rebuild all three views':<40}{result['rebuild_events_per_s']:>12,.0f} events/s")
    print(f"{'ratio (rebuild / read)':<40}{ratio:>12.2f}")
    return result | {"ratio": ratio}


if __name__ == "__main__":
    main()
