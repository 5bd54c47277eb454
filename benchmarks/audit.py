"""The hash chain's cost: ``python -m benchmarks.audit [--quick]``.

On the same stream of webhook bodies, each run on a new database:

- ingest A/B: ``Ledger.ingest_many`` in batches of 1,000 with the chain (the default) and
  without it (the recorder told not to hash: ``recorder.chained = False``), two ledgers
  taking turns batch by batch, which is opened first alternating by round; the ratio is
  the median of every batch pair's (target: within 10%), with the rounds' ratios of
  total time beside it, and an A/A control (two ledgers without the chain, measured the
  same way): the noise floor to read it against;
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


def ingest(urls: tuple[str, str], chained: tuple[bool, bool], bodies: list[str], size: int = 1000) -> list[list[float]]:
    """Seconds each of two ledgers (opened in that order) spent in ``ingest_many``, batch by batch.

    The two take turns batch by batch (which goes first alternating), so that both meet
    the same moments of this shared machine, whose speed drifts by a third within a
    minute: run one after the other, the drift, not the chain, decided the ratio.
    """
    seconds: list[list[float]] = [[], []]
    with Ledger.open(urls[0]) as first_ledger, Ledger.open(urls[1]) as second_ledger:
        ledgers = (first_ledger, second_ledger)
        for ledger, hashing in zip(ledgers, chained, strict=True):
            ledger.recorder.chained = hashing
        for number, first in enumerate(range(0, len(bodies), size)):
            batch = bodies[first : first + size]
            for which in (0, 1) if number % 2 == 0 else (1, 0):
                start = time.perf_counter()
                ledgers[which].ingest_many(batch)
                seconds[which].append(time.perf_counter() - start)
    return seconds


def rounds_of(
    new_database: Callable[[str], str], bodies: list[str], rounds: int, name: str, *, chained: bool
) -> tuple[list[tuple[list[float], list[float]]], str]:
    """Per round, the seconds of ledger A (without the chain) and B (with it if ``chained``)
    batch by batch; and the URL of the last round's B.

    Which is opened first alternates by round: in an A/A run the ledger opened first was
    up to 9% slower here, and that must not count for or against the chain.
    """
    found = []
    last = ""
    for number in range(rounds):
        urls = (new_database(f"{name}_a_{number}"), new_database(f"{name}_b_{number}"))
        if number % 2 == 0:
            a, b = ingest(urls, (False, chained), bodies)
        else:
            b, a = ingest(urls[::-1], (chained, False), bodies)
        found.append((a, b))
        last = urls[1]
    return found, last


def paired_ratios(rounds: list[tuple[list[float], list[float]]]) -> tuple[float, list[float]]:
    """B's speed over A's: the median of every batch pair's ratio; and each round's ratio of totals, sorted.

    The two batches of a pair run back to back (tens of milliseconds apart), so a burst of
    another tenant's load spoils a pair or two, not a whole round's total: the median
    of the pairs is the steady ratio, the rounds' totals show the spread.
    """
    pairs = [b / a for a_seconds, b_seconds in rounds for a, b in zip(a_seconds, b_seconds, strict=True)]
    totals = sorted(sum(a) / sum(b) for a, b in rounds)
    return 1 / statistics.median(pairs), totals


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
    # The ratio is the median round's, beside an A/A control (both without the chain): how far
    # from 1.00 two identical ledgers land here is the noise the A/B ratio is read against.
    same, _ = rounds_of(new_database, bodies, max(3, rounds // 2), "same", chained=False)
    timed, chained_url = rounds_of(new_database, bodies, rounds, "ab", chained=True)
    control, control_rounds = paired_ratios(same)
    ratio, round_ratios = paired_ratios(timed)
    plain_rate = len(bodies) / statistics.median(sum(a) for a, _ in timed)
    read_seconds, events = read_whole_log(chained_url)
    verify_seconds, verified = verify_whole_log(chained_url)
    if verified != events:
        raise AssertionError(f"verified {verified} events of {events}")
    plain = "ingest_many without the chain"
    reader = "read_log over the whole log"
    spread = f"median {statistics.median(round_ratios):.3f}, {round_ratios[0]:.3f}-{round_ratios[-1]:.3f}"
    noise = f"median {statistics.median(control_rounds):.3f}, {control_rounds[0]:.3f}-{control_rounds[-1]:.3f}"
    pairs = sum(len(a) for a, _ in timed)
    return [
        Figure(section, plain, plain_rate, "reports/s", note=f"median of {rounds} rounds"),
        Figure(
            section,
            "A/A control: the same, twice without the chain",
            plain_rate * control,
            "reports/s",
            baseline=plain,
            baseline_value=plain_rate,
            note=f"the noise floor, measured as the A/B is (rounds' totals: {noise})",
        ),
        Figure(
            section,
            "ingest_many with the chain",
            plain_rate * ratio,
            "reports/s",
            baseline=plain,
            baseline_value=plain_rate,
            target=0.9,
            target_kind="ratio",
            note=f"ratio: the median of {pairs} batch pairs' ({rounds} rounds; rounds' totals: {spread})",
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
    parser.add_argument("--rounds", type=int, default=7, help="A/B rounds (the median ratio is kept)")
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
