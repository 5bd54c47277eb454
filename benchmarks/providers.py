"""Every provider's bodies beside Connectly's: ``python -m benchmarks.providers [--quick]``.

The same logical stream (``ledger.simulate``'s seeded traffic), written in each provider's
format (``ledger.translate``), each ingested on a new SQLite file in batches of 1,000 bodies:

- baseline: Connectly's bodies through ``Ledger.ingest_many`` (the path the other
  benchmarks measure);
- Connectly's bodies through ``Ledger.ingest_bodies`` (the provider-neutral path);
- Meta's bodies, one status each, and the same statuses packed 20 to a body (as Meta
  batches them), through ``ingest_bodies``;
- Twilio's form bodies through ``ingest_bodies``.

Prints statuses/s (status reports decided and committed per second), with the ratios.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from itertools import islice
from pathlib import Path
from typing import Any

from benchmarks.report import Figure, print_table
from benchmarks.workload import traffic_for
from ledger import Ledger
from ledger.providers import Body
from ledger.translate import translated

BATCH = 1000


def seconds(url: str, bodies: list[Body], provider: str | None) -> float:
    """Seconds to ingest ``bodies`` in batches (``provider=None``: Connectly's ``ingest_many``)."""
    with Ledger.open(url) as ledger:
        start = time.perf_counter()
        for first in range(0, len(bodies), BATCH):
            batch = bodies[first : first + BATCH]
            if provider is None:
                ledger.ingest_many(batch)
            else:
                ledger.ingest_bodies(batch, provider=provider)
        return time.perf_counter() - start


def packed(bodies: list[Body], per_body: int) -> list[Body]:
    """Meta bodies of one status each, packed ``per_body`` statuses to a body (malformed ones kept alone)."""
    result: list[Body] = []
    pending: list[Any] = []
    for body in bodies:
        if not isinstance(body, dict):
            result.append(body)
            continue
        pending.append(body["entry"][0]["changes"][0]["value"]["statuses"][0])
        if len(pending) == per_body:
            result.append(_meta_body(body, pending))
            pending = []
    if pending:
        result.append(_meta_body(bodies[0], pending))
    return result


def _meta_body(template: Any, statuses: list[Any]) -> dict[str, Any]:
    value = {**template["entry"][0]["changes"][0]["value"], "statuses": statuses}
    return {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": value}]}]}


def measure(directory: Path, reports: int) -> list[Figure]:
    """The figures of one run, each on a new SQLite file."""
    connectly = list(islice(traffic_for(reports, seed=5).webhooks(), reports))
    runs: list[tuple[str, list[Body], str | None]] = [
        ("Connectly bodies, ingest_bodies", list(connectly), "connectly"),
        ("Meta bodies of 1 status, ingest_bodies", list(translated(connectly, "meta")), "meta"),
        ("Meta bodies of 20 statuses, ingest_bodies", packed(list(translated(connectly, "meta")), 20), "meta"),
        ("Twilio form bodies, ingest_bodies", list(translated(connectly, "twilio")), "twilio"),
    ]
    baseline = len(connectly) / seconds(f"sqlite:///{directory / 'baseline.db'}", list(connectly), None)
    named = "Connectly bodies, ingest_many"
    figures = [Figure("SQLite file", named, baseline, "statuses/s")]
    for n, (name, bodies, provider) in enumerate(runs):
        rate = len(connectly) / seconds(f"sqlite:///{directory / f'{n}.db'}", bodies, provider)
        figures.append(Figure("SQLite file", name, rate, "statuses/s", baseline=named, baseline_value=baseline))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few hundred reports: a smoke test")
    parser.add_argument("--reports", type=int, default=20_000, help="status reports in the stream")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ledger-bench-providers-") as directory:
        figures = measure(Path(directory), 300 if args.quick else args.reports)
    print_table("Every provider's bodies beside Connectly's (statuses/s)", figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
