"""The dashboard's pages on a large ledger: ``python -m benchmarks.dashboard [--quick]``.

One stream of webhook bodies (300,000 reports by default) is ingested, the read models are
caught up, then each page is asked in process (the receiver's application with its
lifespan, through httpx's ASGI transport: server time, no network) beside the JSON route
that gives the same data (the baseline).  Each figure is the median of ``--repeat`` asks
after one to warm up, in milliseconds (lower is better; the ratio is page / JSON route).
SQLite file by default; ``--postgres-url`` runs the same on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from urllib.parse import urlencode

import httpx

from benchmarks.aio import databases
from benchmarks.report import Figure, print_table
from benchmarks.workload import traffic_for, webhook_texts
from ledger import Ledger
from ledger.http import ServerSettings, create_app
from tests.asgi import running

BATCH = 1000


def write(url: str, bodies: list[str]) -> None:
    """Ingest the bodies in batches, then catch the read models up (neither is timed)."""
    with Ledger.open(url) as ledger:
        for first in range(0, len(bodies), BATCH):
            ledger.ingest_many(bodies[first : first + BATCH])
        ledger.read_models(fresh=True)


async def timed(client: httpx.AsyncClient, path: str, repeat: int) -> float:
    """The median milliseconds of asking ``path`` (after one ask to warm up); it must answer 200."""
    times = []
    for _ in range(repeat + 1):
        start = time.perf_counter()
        answer = await client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        if answer.status_code != 200:
            raise AssertionError(f"{path} answered {answer.status_code}: {answer.text[:200]}")
    return statistics.median(times[1:])


async def pairs(client: httpx.AsyncClient) -> list[tuple[str, str, str]]:
    """(page name, page path, JSON route path) for each page, with a real campaign, code and message."""
    campaigns = (await client.get("/reports/summary?by=campaign")).json()
    campaign = max(campaigns, key=lambda row: row["total"])["key"] or ""
    codes = (await client.get("/reports/failures?by=code")).json()
    code = codes[0]["key"] if codes else ""
    failures = (await client.get("/reports/failures?details=true&limit=1")).json()
    message = (
        failures[0]["message_id"]
        if failures
        else (await client.get("/messages?limit=1")).json()["rows"][0]["message_id"]
    )
    return [
        ("overview", "/", "/reports/summary"),
        (
            "overview, one campaign",
            f"/?{urlencode({'campaign': campaign})}",
            f"/reports/summary?{urlencode({'campaign': campaign})}",
        ),
        ("over time, per hour", "/dashboard/activity?bucket=hour", "/reports/activity?bucket=hour"),
        ("over time, per day", "/dashboard/activity?bucket=day", "/reports/activity?bucket=day"),
        ("failures by code", "/dashboard/failures?by=code", "/reports/failures?by=code"),
        (
            "failures of one code",
            f"/dashboard/failures?{urlencode({'by': 'code', 'code': code})}",
            "/reports/failures?details=true&limit=500",
        ),
        ("message timeline", f"/dashboard/message?{urlencode({'id': message})}", f"/messages/{message}/history"),
        ("rejections, newest", "/dashboard/rejections", "/rejections?order=newest&limit=50"),
    ]


async def measure_pages(url: str, repeat: int) -> list[tuple[str, float, float]]:
    """(page name, page ms, JSON route ms) for each page."""
    async with running(create_app(ServerSettings(url=url))) as client:
        results = []
        for name, page, route in await pairs(client):
            results.append((name, await timed(client, page, repeat), await timed(client, route, repeat)))
        return results


def measure(new_database: Callable[[str], str], bodies: list[str], repeat: int, backend: str) -> list[Figure]:
    url = new_database("dashboard")
    write(url, bodies)
    section = f"dashboard pages ({backend}, {len(bodies):,} reports), median of {repeat}"
    figures = []
    for name, page_ms, route_ms in asyncio.run(measure_pages(url, repeat)):
        route = f"{name}: the JSON route"
        figures.append(Figure(section, route, route_ms, "ms", higher_is_better=False))
        figures.append(
            Figure(
                section,
                f"{name}: the page",
                page_ms,
                "ms",
                baseline=route,
                baseline_value=route_ms,
                higher_is_better=False,
            )
        )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few thousand reports, one ask: a smoke test")
    parser.add_argument("--reports", type=int, default=300_000, help="reports in the stream")
    parser.add_argument("--repeat", type=int, default=5, help="asks per page (the median is kept)")
    parser.add_argument("--postgres-url", default=None, help="also run on this PostgreSQL server")
    args = parser.parse_args(argv)
    reports, repeat = (3000, 1) if args.quick else (args.reports, args.repeat)
    bodies = list(islice(webhook_texts(traffic_for(reports, seed=9)), reports))
    with tempfile.TemporaryDirectory(prefix="ledger-bench-dashboard-") as directory:
        with databases(None, Path(directory)) as new_database:
            figures = measure(new_database, bodies, repeat, "SQLite file")
        if args.postgres_url:
            with databases(args.postgres_url, Path(directory)) as new_database:
                figures += measure(new_database, bodies, repeat, "PostgreSQL")
    print_table("The dashboard's pages beside the JSON routes with the same data", figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
