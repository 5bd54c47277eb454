"""The hash chain's cost: ``python -m benchmarks.audit [--quick]``.

On the same stream of webhook bodies, each run on a new database:

- ingest A/B: ``Ledger.ingest_many`` in batches of 1,000 with the chain (the default) and
  without it (the recorder told not to hash: ``recorder.chained = False``), two ledgers
  taking turns batch by batch in each round; the ratio is the median of the rounds' ratios
  (target: within 10%), the rates the medians of each;
- verify: ``ledger.audit.verify`` over the whole log, beside merely reading the log with
  the project's own reader (``recorder.read_log``, pages of 5,000) (target: >= 0.5x).

Every report opens or changes its message (no send is recorded first).  SQLite file by
default; ``--postgres-url`` (a server: the run creates its own databases there and drops
them) runs the same on PostgreSQL.  Only the calls named are timed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from itertools import islice
from pathlib import Path

from benchmarks.aio import databases
from benchmarks.report import Figure, print_table
from benchmarks.workload import traffic_for, webhook_texts
from ledger import Ledger
from ledger.audit import verify
from ledger.audit.verify import PAGE_SIZE


def ingest(plain_url: str, chained_url: str, bodies: list[str], size: int = 1000) -> tuple[float, float]:
    """Seconds to ``ingest_many`` the bodies in batches of ``size`` without the chain, and with it.

    The two ledgers take turns batch by batch (which goes first alternating), so that both
    meet the same moments of this shared machine, whose speed drifts by a third within a
    minute: run one after the other, the drift, not the chain, decided the ratio.
    """
    seconds = [0.0, 0.0]
    with Ledger.open(plain_url) as plain, Ledger.open(chained_url) as chained:
        plain.recorder.chained = False
        ledgers = (plain, chained)
        for number, first in enumerate(range(0, len(bodies), size)):
            batch = bodies[first : first + size]
            for which in (0, 1) if number % 2 == 0 else (1, 0):
                start = time.perf_counter()
                ledgers[which].ingest_many(batch)
                seconds[which] += time.perf_counter() - start
    return seconds[0], seconds[1]


def read_whole_log(url: str) -> tuple[float, int]:
    """Seconds to read every notification with ``read_log``; and how many there were."""
    with Ledger.open(url, create=False) as ledger:
        start = time.perf_counter()
        after, count = 0, 0
        while page := ledger.recorder.read_log(after, PAGE_SIZE):
            count += len(page)
            after = page[-1].id
        return time.perf_counter() - start, count


def verify_whole_log(url: str) -> tuple[float, int]:
    """Seconds to verify every chain; and how many events were verified (it must hold)."""
    with Ledger.open(url, create=False) as ledger:
        start = time.perf_counter()
        result = verify(ledger.recorder)
        seconds = time.perf_counter() - start
    if not result.ok:
        raise AssertionError(f"the benchmark's own ledger does not verify: {result.problems[:3]}")
    return seconds, result.events


def measure(new_database: Callable[[str], str], bodies: list[str], rounds: int, backend: str) -> list[Figure]:
    """The A/B ingest figures and the verify figures on one backend."""
    section = f"hash chain ({backend}, {len(bodies):,} reports)"
    seconds: dict[bool, list[float]] = {True: [], False: []}
    chained_url = ""
    for round_number in range(rounds):
        chained_url = new_database(f"chained_{round_number}")
        plain_seconds, chained_seconds = ingest(new_database(f"plain_{round_number}"), chained_url, bodies)
        seconds[False].append(plain_seconds)
        seconds[True].append(chained_seconds)
    # Each round's ratio compares the two over the same moments; the median round is the figure.
    paired = sorted(plain / chained for plain, chained in zip(seconds[False], seconds[True], strict=True))
    ratio = statistics.median(paired)
    plain_rate = len(bodies) / statistics.median(seconds[False])
    read_seconds, events = read_whole_log(chained_url)
    verify_seconds, verified = verify_whole_log(chained_url)
    if verified != events:
        raise AssertionError(f"verified {verified} events of {events}")
    plain = "ingest_many without the chain"
    reader = "read_log over the whole log"
    spread = f"{paired[0]:.3f}-{paired[-1]:.3f}"
    return [
        Figure(section, plain, plain_rate, "reports/s", note=f"median of {rounds} rounds"),
        Figure(
            section,
            "ingest_many with the chain",
            plain_rate * ratio,
            "reports/s",
            baseline=plain,
            baseline_value=plain_rate,
            target=0.9,
            target_kind="ratio",
            note=f"ratio: the median of {rounds} rounds' (batches taking turns; range {spread})",
        ),
        Figure(section, reader, events / read_seconds, "events/s"),
        Figure(
            section,
            "verify (every chain)",
            events / verify_seconds,
            "events/s",
            baseline=reader,
            baseline_value=events / read_seconds,
            target=0.5,
            target_kind="ratio",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few hundred reports, one round: a smoke test")
    parser.add_argument("--reports", type=int, default=50_000, help="reports in the stream")
    parser.add_argument("--rounds", type=int, default=5, help="A/B rounds (the median ratio is kept)")
    parser.add_argument("--postgres-url", default=None, help="also run on this PostgreSQL server")
    args = parser.parse_args(argv)
    reports, rounds = (500, 1) if args.quick else (args.reports, args.rounds)
    bodies = list(islice(webhook_texts(traffic_for(reports, seed=5)), reports))
    with tempfile.TemporaryDirectory(prefix="ledger-bench-audit-") as directory:
        with databases(None, Path(directory)) as new_database:
            figures = measure(new_database, bodies, rounds, "SQLite file")
        if args.postgres_url:
            with databases(args.postgres_url, Path(directory)) as new_database:
                figures += measure(new_database, bodies, rounds, "PostgreSQL")
    print_table("The hash chain beside no chain, and verify beside reading the log", figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
