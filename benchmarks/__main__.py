"""The benchmark suite: ``python -m benchmarks`` (full, ~10 minutes) or ``--quick`` (seconds).

Prints a table (each figure beside the baseline measured in the same run, the ratio
and the target) and writes it as JSON to ``benchmarks/results/latest.json`` with the
machine's CPU count and Python, SQLite and PostgreSQL versions.  ``--quick`` is a
smoke test for CI: it fails on errors, never on timings.  See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path

from benchmarks import memory, rebuild
from benchmarks.baselines import CrudStatusTable, StraightforwardLedger, raw_copy, raw_executemany, raw_rows
from benchmarks.ingest import (
    LedgerLeavingTheCollectorAlone,
    Throughput,
    ingest_after_all_sends,
    ingest_in_production_order,
    lookup_latencies,
    percentile,
    record_all_sends,
    timed_batches,
    view_lookup_latencies,
)
from benchmarks.report import Figure, machine_info, print_table, write_json
from benchmarks.workload import traffic_for, webhook_texts
from ledger.simulate import Traffic
from tests.databases import empty_public_schema, scratch_database, server_problem, server_version

RESULTS = Path(__file__).parent / "results" / "latest.json"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

# The targets for ingest_many on a SQLite file (batches of 1,000).
TARGET_REPORTS_PER_SECOND = 25_000
TARGET_VS_STRAIGHTFORWARD = 20.0
TARGET_VS_CRUD = 0.25
TARGET_LOOKUP_P99_MS = 2.0
TARGET_PEAK_RSS_MB = 300.0


@dataclass(frozen=True, slots=True)
class Plan:
    """How much of everything to run."""

    reports: int  # the main stream, SQLite
    batch: int
    straightforward_reports: int  # baseline (b) is ~25x slower: a prefix of the same stream
    single_reports: int  # ingest() one at a time
    lookups: int
    postgres_reports: int
    postgres_straightforward_reports: int
    postgres_single_reports: int
    memory_reports: int

    @classmethod
    def full(cls, reports: int) -> Plan:
        return cls(reports, 1000, 20_000, 10_000, 100_000, 30_000, 3_000, 5_000, 1_000_000)

    @classmethod
    def quick(cls) -> Plan:
        return cls(3_000, 1000, 300, 300, 500, 2_000, 200, 200, 3_000)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few thousand reports: a smoke test (seconds)")
    parser.add_argument("--reports", type=int, default=300_000, help="main stream size in full mode")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("LEDGER_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="a PostgreSQL server (and a database to connect to first): the run makes its own database there, "
        "and drops it at the end; '' to skip",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON results")
    args = parser.parse_args(argv)
    plan = Plan.quick() if args.quick else Plan.full(args.reports)

    started = time.perf_counter()
    figures: list[Figure] = []
    with ExitStack() as stack:
        postgres_url, postgres_version = _scratch_postgres(stack, args.postgres_url)
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ledger-bench-")))
        # Memory first, while this process is small (see benchmarks/memory.py).
        figures += memory_section(plan, tmp, postgres_url)
        figures += sqlite_section(plan, tmp)
        if postgres_url is not None:
            figures += postgres_section(plan, postgres_url)
        figures += rebuild_section(tmp)

    mode = "quick" if args.quick else "full"
    title = f"delivery-ledger benchmarks ({mode}; {plan.reports:,} reports, batches of {plan.batch:,})"
    print_table(title, figures)
    machine = machine_info(postgres_version)
    print(f"\nmachine: {machine}\ntook {time.perf_counter() - started:.0f} s; JSON in {args.output}")
    config = {"mode": mode, "plan": asdict(plan)}
    write_json(args.output, machine=machine, config=config, figures=figures)
    return 0


def rebuild_section(tmp: Path) -> list[Figure]:
    """Projection rebuild of the production-order ledger (warm.db) beside reading its log."""
    _log("projection rebuild vs reading the log")
    return _rebuild_figures("Projections (SQLite file)", rebuild.measure(_sqlite_url(tmp / "warm.db")), target=0.5)


def _rebuild_figures(section: str, result: dict[str, float], *, target: float | None = None) -> list[Figure]:
    """The rebuild beside each way of reading the log that ``rebuild.measure`` timed."""
    rate = result["rebuild_events_per_s"]
    figures = [
        Figure(
            section,
            f"rebuild of 3 views, {result['events']:,.0f} events",
            rate,
            "events/s",
            baseline="reading the log (select_notifications pages)",
            baseline_value=result["read_events_per_s"],
            target=target,
            target_kind="ratio",
        ),
        Figure(
            section,
            "  vs reading the log with read_log (the runner's reader)",
            rate,
            "events/s",
            baseline="read_log pages",
            baseline_value=result["read_log_events_per_s"],
        ),
    ]
    if "driver_rows_per_s" in result:
        figures.append(
            Figure(
                section,
                "  vs the floor: rows from sqlite3 alone",
                rate,
                "events/s",
                baseline="sqlite3 fetchall pages",
                baseline_value=result["driver_rows_per_s"],
            )
        )
    return figures


def sqlite_section(plan: Plan, tmp: Path) -> list[Figure]:
    """ingest_many against the three baselines, single ingest and lookups, on SQLite files."""
    section = "SQLite file"
    traffic = traffic_for(plan.reports)
    url = _sqlite_url

    _log("recording every send (setup of the cold run and of baseline b)")
    sends = record_all_sends(url(tmp / "sends.db"), traffic)

    _log("ingest_many in production order")
    warm = ingest_in_production_order(url(tmp / "warm.db"), traffic, batch=plan.batch)
    _log("ingest_many on a fresh ledger")
    _copy_database(tmp / "sends.db", tmp / "cold.db")
    cold = ingest_after_all_sends(url(tmp / "cold.db"), traffic, batch=plan.batch)
    _log("ingest_many on a fresh ledger, garbage collector not paused")
    _copy_database(tmp / "sends.db", tmp / "cold-gc.db")
    cold_gc = ingest_after_all_sends(
        url(tmp / "cold-gc.db"), traffic, batch=plan.batch, ledger_class=LedgerLeavingTheCollectorAlone
    )

    _log("baseline (b): repository.get + save per report")
    _copy_database(tmp / "sends.db", tmp / "straightforward.db")
    straightforward = _straightforward(url(tmp / "straightforward.db"), traffic, plan.straightforward_reports)
    _log("baseline (a): CRUD upsert + history")
    crud = _crud(url(tmp / "crud.db"), traffic, plan.batch)
    _log("baseline (c): raw sqlite3 executemany")
    rows = raw_rows(webhook_texts(traffic))
    raw = Throughput(len(rows), raw_executemany(tmp / "raw.db", rows))
    del rows

    _log("single ingest")
    single = ingest_in_production_order(url(tmp / "single.db"), traffic_for(plan.single_reports, seed=2), batch=1)
    _log("message() lookups")
    message_ids = [send.message_id for send in traffic.sends()]
    latencies = lookup_latencies(url(tmp / "warm.db"), message_ids, lookups=plan.lookups)
    _log("current_status lookups (after a catch-up)")
    view_latencies = view_lookup_latencies(url(tmp / "warm.db"), message_ids, lookups=plan.lookups)

    a = "(a) CRUD: Core upsert of current status by rank + history row, same batches"
    b = f"(b) repository.get + save per report, eventsourcing_sqlalchemy ({plan.straightforward_reports:,} reports)"
    c = "(c) raw sqlite3 executemany of the reports into one table, one transaction"
    figures: list[Figure] = []
    for name, run, note in (
        ("ingest_many, production order", warm, "each send recorded (untimed) just before its first webhook"),
        ("ingest_many, fresh ledger, sends already stored", cold, "nothing cached: each message read once"),
    ):
        rate = run.per_second
        figures += [
            Figure(section, name, rate, "reports/s", target=TARGET_REPORTS_PER_SECOND, target_kind="value", note=note),
            Figure(
                section,
                "  vs (b)",
                rate,
                "reports/s",
                b,
                straightforward.per_second,
                TARGET_VS_STRAIGHTFORWARD,
                "ratio",
            ),
            Figure(section, "  vs (a)", rate, "reports/s", a, crud.per_second, TARGET_VS_CRUD, "ratio"),
            Figure(section, "  vs (c), the floor", rate, "rows/s", c, raw.per_second),
        ]
    figures += [
        Figure(
            section,
            "ingest_many, fresh ledger, collector not paused",
            cold_gc.per_second,
            "reports/s",
            "the same with the pause",
            cold.per_second,
            note="what Ledger.pause_gc_during_batches is worth",
        ),
        Figure(section, "baseline (a) CRUD", crud.per_second, "reports/s"),
        Figure(section, "baseline (b) straightforward event sourcing", straightforward.per_second, "reports/s"),
        Figure(section, "baseline (c) raw executemany", raw.per_second, "rows/s"),
        Figure(
            section, "ingest, one report per call", single.per_second, "reports/s", "(b)", straightforward.per_second
        ),
        Figure(section, "record_sent, one send per call", sends.per_second, "sends/s"),
        *_lookup_figures(section, plan.lookups, latencies, view_latencies, target=TARGET_LOOKUP_P99_MS),
    ]
    return figures


def _lookup_figures(
    section: str, lookups: int, latencies: list[float], view_latencies: list[float], *, target: float | None = None
) -> list[Figure]:
    """p50 and p99 of ``Ledger.message()`` and of a ``current_status`` query, in ms."""
    figures = []
    for what, values in (("message()", latencies), ("current_status query", view_latencies)):
        p50, p99 = (percentile(values, q) * 1000 for q in (0.5, 0.99))
        figures += [
            Figure(section, f"{what} p50 ({lookups:,} random ids)", p50, "ms"),
            Figure(
                section,
                f"{what} p99 ({lookups:,} random ids)",
                p99,
                "ms",
                target=target if what == "message()" else None,
                target_kind="value",
                higher_is_better=False,
            ),
        ]
    return figures


def postgres_section(plan: Plan, postgres_url: str) -> list[Figure]:
    """ingest_many against the three baselines, single ingest, lookups and rebuild on PostgreSQL."""
    section = "PostgreSQL"
    traffic = traffic_for(plan.postgres_reports)
    message_ids = [send.message_id for send in traffic.sends()]
    empty_public_schema(postgres_url)
    _log("PostgreSQL: ingest_many in production order")
    many = ingest_in_production_order(postgres_url, traffic, batch=plan.batch)
    _log("PostgreSQL: message() and current_status lookups")
    latencies = lookup_latencies(postgres_url, message_ids, lookups=plan.lookups)
    view_latencies = view_lookup_latencies(postgres_url, message_ids, lookups=plan.lookups)
    _log("PostgreSQL: projection rebuild vs reading the log")
    rebuilt = rebuild.measure(postgres_url)

    empty_public_schema(postgres_url)
    _log("PostgreSQL: recording every send (setup of baseline b)")
    record_all_sends(postgres_url, traffic)
    _log("PostgreSQL: baseline (b): repository.get + save per report")
    straightforward = _straightforward(postgres_url, traffic, plan.postgres_straightforward_reports)
    _log("PostgreSQL: baseline (a): CRUD upsert + history")
    crud = _crud(postgres_url, traffic, plan.batch)
    _log("PostgreSQL: baseline (c): COPY")
    written, seconds = raw_copy(postgres_url, raw_rows(webhook_texts(traffic)))
    raw = Throughput(written, seconds)

    _log("PostgreSQL: single ingest")
    empty_public_schema(postgres_url)
    single = ingest_in_production_order(postgres_url, traffic_for(plan.postgres_single_reports, seed=2), batch=1)
    rate = many.per_second
    b = f"(b) repository.get + save per report ({plan.postgres_straightforward_reports:,} reports)"
    return [
        Figure(section, f"ingest_many, production order ({plan.postgres_reports:,} reports)", rate, "reports/s"),
        Figure(section, "  vs (b)", rate, "reports/s", b, straightforward.per_second),
        Figure(section, "  vs (a)", rate, "reports/s", "(a) CRUD, same batches", crud.per_second),
        Figure(
            section, "  vs (c), the floor", rate, "rows/s", "(c) COPY of the reports into one table", raw.per_second
        ),
        Figure(
            section, "ingest, one report per call", single.per_second, "reports/s", "(b)", straightforward.per_second
        ),
        *_lookup_figures(section, plan.lookups, latencies, view_latencies),
        *_rebuild_figures(section, rebuilt),
    ]


def memory_section(plan: Plan, tmp: Path, postgres_url: str | None) -> list[Figure]:
    """Peak RSS of a child process ingesting ``plan.memory_reports`` reports, per backend."""
    section = "Memory"
    targets: list[tuple[str, Callable[[], str]]] = [("SQLite file", lambda: _sqlite_url(tmp / "memory.db"))]
    if postgres_url is not None:
        targets.append(("PostgreSQL", lambda: _reset(postgres_url)))
    figures = []
    for backend, prepare in targets:
        _log(f"memory: {plan.memory_reports:,} reports on {backend}")
        result = memory.measure(prepare(), reports=plan.memory_reports, batch=plan.batch)
        rate = result["reports"] / result["seconds"]
        own_peak = "n/a" if result["vm_hwm_mb"] is None else f"{result['vm_hwm_mb']:.0f} MB"
        figures.append(
            Figure(
                section,
                f"peak RSS, {result['reports']:,} reports, {backend}",
                result["peak_rss_mb"],
                "MB",
                target=TARGET_PEAK_RSS_MB,
                target_kind="value",
                higher_is_better=False,
                note=(
                    f"child process, whole run incl. interpreter (VmHWM {own_peak});"
                    f" {rate:,.0f} reports/s, webhooks only"
                ),
            )
        )
    return figures


def _straightforward(url: str, traffic: Traffic, reports: int) -> Throughput:
    bodies = list(islice(webhook_texts(traffic), reports))
    app = StraightforwardLedger({"SQLALCHEMY_URL": url})
    try:
        start = time.perf_counter()
        for body in bodies:
            app.ingest(body)
        return Throughput(len(bodies), time.perf_counter() - start)
    finally:
        app.close()


def _crud(url: str, traffic: Traffic, batch: int) -> Throughput:
    crud = CrudStatusTable(url)
    try:
        crud.record_sent(traffic.sends())
        return timed_batches(crud.ingest_many, traffic, batch)
    finally:
        crud.close()


def _copy_database(source: Path, target: Path) -> None:
    """Copy a SQLite database, with its write-ahead log if one is left."""
    shutil.copy(source, target)
    wal = source.with_name(source.name + "-wal")
    if wal.exists():
        shutil.copy(wal, target.with_name(target.name + "-wal"))


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _reset(postgres_url: str) -> str:
    empty_public_schema(postgres_url)
    return postgres_url


def _scratch_postgres(stack: ExitStack, server_url: str) -> tuple[str | None, str | None]:
    """This run's own database on the server (dropped on exit) and the server's version; Nones if unreachable."""
    if not server_url:
        return None, None
    problem = server_problem(server_url)
    if problem is not None:
        _log(f"PostgreSQL skipped: {problem}")
        return None, None
    version = server_version(server_url)
    return stack.enter_context(scratch_database(server_url, "bench")), version


def _log(message: str) -> None:
    print(f"... {message}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
