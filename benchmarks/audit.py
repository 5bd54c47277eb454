"""The hash chain's cost: ``python -m benchmarks.audit [--quick]``.

On the same stream of webhook bodies, each run on a new database:

- ingest A/B: ``Ledger.ingest_many`` in batches of 1,000 with the chain (the default) and
  without it (the recorder told not to hash: ``recorder.chained = False``), two ledgers
  taking turns batch by batch, which is opened first alternating by round.  Two ratios
  (target for each: within 10%): the median of every batch pair's, and the ratio of
  total time over every round (the throughput, slow batches included).  Beside
  them, the same ratio of this process's CPU time (what the chain itself costs, with
  no wait on the disk or for the CPU), and an A/A control (two ledgers without the
  chain, measured the same way): the noise floor to read them against;
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
from typing import NamedTuple

from benchmarks.aio import databases
from benchmarks.report import Figure, print_table
from benchmarks.workload import traffic_for, webhook_texts
from ledger import Ledger
from ledger.audit import verify
from ledger.audit.verify import PAGE_SIZE


class Timings(NamedTuple):
    """Seconds per batch of each of two ledgers, in the order they were opened."""

    wall: list[list[float]]
    cpu: list[list[float]]


def ingest(urls: tuple[str, str], chained: tuple[bool, bool], bodies: list[str], size: int = 1000) -> Timings:
    """Seconds each of two ledgers (opened in that order) spent in ``ingest_many``, batch by batch:
    wall-clock, and this process's CPU time.

    The two take turns batch by batch (which goes first alternating), so that both meet
    the same moments of this shared machine, whose speed drifts by a third within a
    minute: run one after the other, the drift, not the chain, decided the ratio.
    """
    wall: list[list[float]] = [[], []]
    cpu: list[list[float]] = [[], []]
    with Ledger.open(urls[0]) as first_ledger, Ledger.open(urls[1]) as second_ledger:
        ledgers = (first_ledger, second_ledger)
        for ledger, hashing in zip(ledgers, chained, strict=True):
            ledger.recorder.chained = hashing
        for number, first in enumerate(range(0, len(bodies), size)):
            batch = bodies[first : first + size]
            for which in (0, 1) if number % 2 == 0 else (1, 0):
                start, start_cpu = time.perf_counter(), time.process_time()
                ledgers[which].ingest_many(batch)
                wall[which].append(time.perf_counter() - start)
                cpu[which].append(time.process_time() - start_cpu)
    return Timings(wall, cpu)


#: Per round, the seconds of ledger A (without the chain) and B, batch by batch.
Rounds = list[tuple[list[float], list[float]]]


def rounds_of(
    new_database: Callable[[str], str], bodies: list[str], rounds: int, name: str, *, chained: bool
) -> tuple[Rounds, Rounds, str]:
    """Per round, the seconds of ledger A (without the chain) and B (with it if ``chained``)
    batch by batch, wall-clock then CPU; and the URL of the last round's B.

    Which is opened first alternates by round: in an A/A run the ledger opened first was
    up to 9% slower here, and that must not count for or against the chain.
    """
    wall: Rounds = []
    cpu: Rounds = []
    last = ""
    for number in range(rounds):
        urls = (new_database(f"{name}_a_{number}"), new_database(f"{name}_b_{number}"))
        if number % 2 == 0:
            timings = ingest(urls, (False, chained), bodies)
            wall.append((timings.wall[0], timings.wall[1]))
            cpu.append((timings.cpu[0], timings.cpu[1]))
        else:
            timings = ingest(urls[::-1], (chained, False), bodies)
            wall.append((timings.wall[1], timings.wall[0]))
            cpu.append((timings.cpu[1], timings.cpu[0]))
        last = urls[1]
    return wall, cpu, last


def paired_ratios(rounds: Rounds) -> tuple[float, list[float]]:
    """B's speed over A's: the median of every batch pair's ratio; and each round's ratio of totals, sorted.

    The two batches of a pair run back to back (tens of milliseconds apart), so a burst of
    another tenant's load spoils a pair or two, not a whole round's total: the median
    of the pairs is the steady ratio, the rounds' totals show the spread.
    """
    pairs = [b / a for a_seconds, b_seconds in rounds for a, b in zip(a_seconds, b_seconds, strict=True)]
    totals = sorted(sum(a) / sum(b) for a, b in rounds)
    return 1 / statistics.median(pairs), totals


def pooled_ratio(rounds: Rounds) -> float:
    """B's speed over A's in total time, every round's batches pooled: the throughput.

    A slow batch (a checkpoint, another tenant's burst, PostgreSQL's autovacuum) lands on
    one ledger or the other at random and swings a single round's ratio by up to 10%
    here; pooled over the rounds, those swings mostly cancel.
    """
    return sum(sum(a) for a, _ in rounds) / sum(sum(b) for _, b in rounds)


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
    # Each ratio stands beside its A/A control (both ledgers without the chain): how far from
    # 1.00 two identical ledgers land here is the noise the A/B ratios are read against.
    same, same_cpu, _ = rounds_of(new_database, bodies, max(3, rounds // 2), "same", chained=False)
    timed, timed_cpu, chained_url = rounds_of(new_database, bodies, rounds, "ab", chained=True)
    control, control_rounds = paired_ratios(same)
    ratio, round_ratios = paired_ratios(timed)
    _, control_cpu = paired_ratios(same_cpu)
    _, cpu_ratios = paired_ratios(timed_cpu)
    plain_rate = len(bodies) / statistics.median(sum(a) for a, _ in timed)
    plain_cpu_rate = len(bodies) / statistics.median(sum(a) for a, _ in timed_cpu)
    read_seconds, events = read_whole_log(chained_url)
    verify_seconds, verified = verify_whole_log(chained_url)
    if verified != events:
        raise AssertionError(f"verified {verified} events of {events}")
    plain = "ingest_many without the chain"
    plain_cpu = "the same, per second of CPU"
    reader = "read_log over the whole log"
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
            note=(
                "the noise floor, measured as the A/B is;"
                f" total time: {pooled_ratio(same):.3f} (each round's: {_spread(control_rounds)})"
            ),
        ),
        Figure(
            section,
            "ingest_many with the chain (batch pairs)",
            plain_rate * ratio,
            "reports/s",
            baseline=plain,
            baseline_value=plain_rate,
            target=0.9,
            target_kind="ratio",
            note=f"ratio: the median of {pairs} batch pairs' ({rounds} rounds)",
        ),
        Figure(
            section,
            "ingest_many with the chain (total time)",
            plain_rate * pooled_ratio(timed),
            "reports/s",
            baseline=plain,
            baseline_value=plain_rate,
            target=0.9,
            target_kind="ratio",
            note=f"ratio: every round's batches pooled (each round's: {_spread(round_ratios)})",
        ),
        Figure(section, plain_cpu, plain_cpu_rate, "reports/s", note="this process's CPU time (no waits)"),
        Figure(
            section,
            "with the chain, per second of CPU",
            plain_cpu_rate * pooled_ratio(timed_cpu),
            "reports/s",
            baseline=plain_cpu,
            baseline_value=plain_cpu_rate,
            note=(
                f"pooled as the total time (each round's: {_spread(cpu_ratios)});"
                f" A/A control: {pooled_ratio(same_cpu):.3f} ({_spread(control_cpu)})"
            ),
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


def _spread(ratios: list[float]) -> str:
    """Sorted ratios as their median and range."""
    return f"median {statistics.median(ratios):.3f}, {ratios[0]:.3f}-{ratios[-1]:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few hundred reports, one round: a smoke test")
    parser.add_argument("--reports", type=int, default=50_000, help="reports in the stream")
    parser.add_argument("--rounds", type=int, default=9, help="A/B rounds (their batches are pooled)")
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
