"""Load test of the HTTP receiver on loopback: the webhook beside a route that skips the database.

Starts the receiver ``ledger serve`` runs, plus a baseline route
(:mod:`benchmarks.baseline_server`; one set of settings for both routes), in a
subprocess, records the sends of a realistic ``Traffic`` stream, then lets N concurrent
asyncio clients post a fixed number of signed webhook bodies: first to the
baseline route (same body handling and signature check, no ledger), then to the
webhook (group commit: answered after the commit).  Prints requests/s, p50/p90/p99
latency and the server's CPU time per request for both, their ratios, and how many
acknowledged reports are in the ledger afterwards (all, or something was lost).  It
stops by itself and listens on 127.0.0.1 only.

    python -m benchmarks.load --quick                  # 300 requests on a SQLite file
    python -m benchmarks.load --requests 5000 --db postgresql+psycopg://user@127.0.0.1/postgres
    python -m benchmarks.load --workers 1,2 --db postgresql+psycopg://user@127.0.0.1/postgres

With ``--workers 1,2`` the whole run is repeated per worker count (``ledger serve --workers``,
PostgreSQL only), each on a new database, and the webhook's figures are compared.
``--metrics on,off`` does the same with the receiver's Prometheus metrics on, then off
(``ServerSettings.metrics``), to see what counting costs.

Clients and server share this machine.  httpx costs several times the server's CPU
per request here, so the default client (``--client raw``) is a few lines of HTTP/1.1
on asyncio streams, with keep-alive; ``--client httpx`` uses httpx.AsyncClient.
Compare the ratios, not the absolute figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from benchmarks.baseline_server import BASELINE_PATH
from ledger import Ledger, MessageNotFoundError
from ledger.http import SIGNATURE_HEADER, WEBHOOK_PATH, sign
from ledger.simulate import Traffic
from ledger.sql import normalise_url
from tests.databases import scratch_database

SECRET = "load-test-secret"
HOST = "127.0.0.1"
STARTUP_DEADLINE = 60.0

#: A status code and the response body, per request.
Answer = tuple[int, bytes]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class Server:
    """The receiver in a subprocess, and its CPU time so far, its workers' included (Linux; 0 elsewhere)."""

    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process = process
        self.port = port
        self.base = f"http://{HOST}:{port}"

    def cpu_seconds(self) -> float:
        ticks = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # A process that ended meanwhile.
                continue
            if stat.parent.name == str(self.process.pid) or fields[1] == str(self.process.pid):
                ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")


@contextmanager
def serving(url: str, log: Path, workers: int = 1, *, metrics: bool = True) -> Iterator[Server]:
    """The receiver and its baseline route on a free loopback port, stopped with SIGTERM."""
    port = free_port()
    command = [sys.executable, "-m", "benchmarks.baseline_server", "--port", str(port), "--db", url]
    command += ["--workers", str(workers)] + ([] if metrics else ["--no-metrics"])
    env = {**os.environ, "LEDGER_WEBHOOK_SECRET": SECRET, "LEDGER_API_TOKEN": "load-test-token"}
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
        server = Server(process, port)
        try:
            deadline = time.monotonic() + STARTUP_DEADLINE
            while not _answers(server.base):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start:\n{log.read_text()}")
                time.sleep(0.05)  # Polling, with the deadline above.
            yield server
        finally:
            process.terminate()
            process.wait(timeout=120)


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


#: Where clients put what they measure: the answers (by body index) and the latencies.
Results = tuple[list[Answer | None], list[float]]


async def _raw_client(port: int, path: str, bodies: list[bytes], work: Iterator[int], out: Results) -> None:
    """One keep-alive HTTP/1.1 connection posting bodies until ``work`` is exhausted."""
    answers, latencies = out
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        for i in work:
            body = bodies[i]
            started = time.perf_counter()
            head = (
                f"POST {path} HTTP/1.1\r\nhost: {HOST}:{port}\r\ncontent-type: application/json\r\n"
                f"{SIGNATURE_HEADER}: {sign(SECRET, body)}\r\ncontent-length: {len(body)}\r\n\r\n"
            )
            writer.write(head.encode() + body)
            status_line, *lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}
            content = await reader.readexactly(int(headers["content-length"]))
            latencies.append(time.perf_counter() - started)
            answers[i] = (int(status_line.split()[1]), content)
            if headers.get("connection", "").lower() == "close":
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, port)
    finally:
        writer.close()


async def _httpx_client(
    http: httpx.AsyncClient, path: str, bodies: list[bytes], work: Iterator[int], out: Results
) -> None:
    answers, latencies = out
    for i in work:
        body = bodies[i]
        started = time.perf_counter()
        response = await http.post(path, content=body, headers={SIGNATURE_HEADER: sign(SECRET, body)})
        latencies.append(time.perf_counter() - started)
        answers[i] = (response.status_code, response.content)


async def post_all(server: Server, path: str, bodies: list[bytes], clients: int, kind: str) -> dict[str, Any]:
    """Post every body once with ``clients`` concurrent clients: figures, and the answers in body order."""
    answers: list[Answer | None] = [None] * len(bodies)
    latencies: list[float] = []
    work = iter(range(len(bodies)))
    out: Results = (answers, latencies)
    cpu = server.cpu_seconds()
    started = time.perf_counter()
    if kind == "raw":
        await asyncio.gather(*(_raw_client(server.port, path, bodies, work, out) for _ in range(clients)))
    else:
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(base_url=server.base, limits=limits, timeout=120) as http:
            await asyncio.gather(*(_httpx_client(http, path, bodies, work, out) for _ in range(clients)))
    seconds = time.perf_counter() - started
    latencies.sort()
    return {
        "requests_per_s": len(bodies) / seconds,
        "p50_ms": _percentile(latencies, 50) * 1000,
        "p90_ms": _percentile(latencies, 90) * 1000,
        "p99_ms": _percentile(latencies, 99) * 1000,
        "server_cpu_ms": (server.cpu_seconds() - cpu) * 1000 / len(bodies),
        "statuses": dict(Counter(answer[0] for answer in answers if answer is not None)),
        "answers": answers,
    }


def _percentile(ordered: list[float], p: int) -> float:
    """Nearest rank."""
    return ordered[max(0, -(-p * len(ordered) // 100) - 1)] if ordered else float("nan")


def acknowledged_and_found(
    ledger: Ledger, bodies: list[bytes], answers: list[Answer | None], since: datetime
) -> tuple[int, int]:
    """How many reports the server acknowledged (200, or 400: kept as malformed), and how many are stored."""
    rejected = {r.raw for r in ledger.rejections(limit=len(bodies) + 1, since=since)}
    raws: dict[str, set[str | None]] = {}
    acknowledged = found = 0
    for body, answer in zip(bodies, answers, strict=True):
        if answer is None or answer[0] not in (200, 400):
            continue
        acknowledged += 1
        document = json.loads(answer[1])
        outcome = document if answer[0] == 200 else document["outcome"]
        if answer[0] == 400 or outcome["kind"] == "rejected":
            found += body in rejected
            continue
        message_id = outcome["message_id"]
        if message_id not in raws:
            try:
                raws[message_id] = {entry.raw for entry in ledger.history(message_id)}
            except MessageNotFoundError:
                raws[message_id] = set()
        # A duplicate appends nothing: the identical report it repeats is stored.
        found += body.decode() in raws[message_id]
    return acknowledged, found


def _database(stack: ExitStack, db: str, tmp: Path) -> str:
    """The URL the run uses: a new SQLite file, or a scratch database on a PostgreSQL server."""
    if db == "sqlite":
        return f"sqlite:///{tmp / 'load.db'}"
    if make_url(normalise_url(db)).get_backend_name() == "postgresql":
        return stack.enter_context(scratch_database(normalise_url(db), "load"))
    return db


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=5000, help="webhook bodies to post (default 5000)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 300 requests, 16 clients")
    parser.add_argument(
        "--db",
        default="sqlite",
        help="'sqlite' (a new temporary file), a PostgreSQL server URL (the run makes its own database there "
        "and drops it at the end) or another SQLAlchemy URL",
    )
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw", help="the HTTP client (default raw)")
    parser.add_argument("--seed", type=int, default=None, help="traffic seed (default: random, so ids are new)")
    parser.add_argument(
        "--workers", default="1", help="receiver processes, or a comma-separated list to compare (e.g. 1,2)"
    )
    parser.add_argument(
        "--metrics",
        default="on",
        help="the receiver's Prometheus metrics 'on' or 'off', or 'on,off' to compare (default on)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.clients = 300, 16
    seed = random.randrange(1 << 30) if args.seed is None else args.seed
    counts = [int(count) for count in args.workers.split(",")]
    switches = [_switch(value) for value in args.metrics.split(",")]
    runs = [run_once(args, seed, workers, metrics) for workers in counts for metrics in switches]
    for results in runs:
        print_table(results)
    first = runs[0]["webhook"]
    for results in runs[1:]:
        hook = results["webhook"]
        print(
            f"webhook with {_setup(results)} / {_setup(runs[0])}: "
            f"{hook['requests_per_s'] / first['requests_per_s']:.2f}x requests/s, "
            f"p99 {hook['p99_ms'] / first['p99_ms']:.2f}x, server CPU/req "
            f"{hook['server_cpu_ms'] / first['server_cpu_ms'] if first['server_cpu_ms'] else float('nan'):.2f}x"
        )
    return runs[0] if len(runs) == 1 else {"runs": runs}


def _switch(value: str) -> bool:
    if value not in ("on", "off"):
        raise SystemExit(f"--metrics takes on, off or on,off, not {value!r}")
    return value == "on"


def _setup(results: dict[str, Any]) -> str:
    return f"{results['workers']} workers, metrics {'on' if results['metrics'] else 'off'}"


def run_once(args: argparse.Namespace, seed: int, workers: int, metrics: bool = True) -> dict[str, Any]:
    """The whole load test with ``workers`` receiver processes (metrics on or off), on a new database."""
    traffic = Traffic(args.requests // 2 + 10, seed=seed)  # About 2.6 reports a message: enough.
    payloads = [payload for payload, _ in zip(traffic.webhooks(), range(args.requests), strict=False)]
    bodies = [(p if isinstance(p, str) else json.dumps(p)).encode() for p in payloads]
    with ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        url = _database(stack, args.db, Path(tmp))
        with Ledger.open(url) as ledger:
            for send in traffic.sends():
                send.record_in(ledger)
            backend = ledger.engine.dialect.name
        with serving(url, Path(tmp) / "server.log", workers, metrics=metrics) as server:
            warm_up = bodies[: min(200 * workers, len(bodies))]
            asyncio.run(post_all(server, BASELINE_PATH, warm_up, args.clients, args.client))
            baseline = asyncio.run(post_all(server, BASELINE_PATH, bodies, args.clients, args.client))
            since = datetime.now(UTC)
            webhook = asyncio.run(post_all(server, WEBHOOK_PATH, bodies, args.clients, args.client))
            writer = httpx.get(f"{server.base}/readyz", timeout=10).json()  # One worker's writer.
        with Ledger.open(url) as ledger:
            acknowledged, found = acknowledged_and_found(ledger, bodies, webhook.pop("answers"), since)
        baseline.pop("answers")
    return {
        "backend": backend,
        "client": args.client,
        "requests": len(bodies),
        "clients": args.clients,
        "workers": workers,
        "metrics": metrics,
        "seed": seed,
        "baseline": baseline,
        "webhook": webhook,
        "ratio": webhook["requests_per_s"] / baseline["requests_per_s"],
        "acknowledged": acknowledged,
        "found": found,
        "group_commits": writer["batches"],
        "mean_batch": writer["reports"] / writer["batches"] if writer["batches"] else 0.0,
    }


def print_table(results: dict[str, Any]) -> None:
    print(
        f"receiver load test: {results['requests']:,} signed webhook bodies, {results['clients']} "
        f"{results['client']} clients, {results['backend']}, {results['workers']} receiver process(es), "
        f"metrics {'on' if results['metrics'] else 'off'} "
        f"(seed {results['seed']})"
    )
    columns = ("requests/s", "p50 ms", "p90 ms", "p99 ms", "server CPU ms/req")
    print(f"{'route':<24}" + "".join(f"{c:>12}" for c in columns[:4]) + f"{columns[4]:>19}   statuses")
    for name, label in (("baseline", "baseline (no database)"), ("webhook", "webhook (group commit)")):
        row = results[name]
        statuses = ", ".join(f"{code}: {count:,}" for code, count in sorted(row["statuses"].items()))
        print(
            f"{label:<24}{row['requests_per_s']:>12,.0f}{row['p50_ms']:>12.1f}{row['p90_ms']:>12.1f}"
            f"{row['p99_ms']:>12.1f}{row['server_cpu_ms']:>19.2f}   {statuses}"
        )
    base, hook = results["baseline"], results["webhook"]
    print(
        f"{'webhook / baseline':<24}{results['ratio']:>12.2f}{hook['p50_ms'] / base['p50_ms']:>12.2f}"
        f"{hook['p90_ms'] / base['p90_ms']:>12.2f}{hook['p99_ms'] / base['p99_ms']:>12.2f}"
        f"{hook['server_cpu_ms'] / base['server_cpu_ms'] if base['server_cpu_ms'] else float('nan'):>19.2f}"
    )
    print(
        f"acknowledged reports found in the ledger: {results['found']:,} of {results['acknowledged']:,}; "
        f"{results['group_commits']:,} group commits, {results['mean_batch']:.1f} reports each on average"
        + (" (one worker's writer)" if results["workers"] > 1 else "")
    )


if __name__ == "__main__":
    main()
