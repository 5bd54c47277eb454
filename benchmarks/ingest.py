"""Ingest throughput on a SQLite file: ``ingest`` vs ``ingest_many`` vs raw sqlite3 rows.

Every figure is measured in the same run on the same reports; compare the ratios, not
the absolute numbers (these machines are noisy).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ledger import Ledger
from ledger.simulate import Traffic


def timed(run: Callable[[], int]) -> tuple[int, float]:
    """Run once; return (items processed, seconds)."""
    start = time.perf_counter()
    count = run()
    return count, time.perf_counter() - start


def ledger_with_sends(path: Path, traffic: Traffic) -> Ledger:
    ledger = Ledger.open(f"sqlite:///{path}")
    for send in traffic.sends():
        ledger.record_sent(
            send.message_id,
            sender=send.sender,
            recipient=send.recipient,
            template=send.template,
            campaign=send.campaign,
            sent_at=send.sent_at,
        )
    return ledger


def raw_executemany(path: Path, payloads: list[Any]) -> int:
    """The floor: append every report as a row, no decisions, one executemany."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE reports (id INTEGER PRIMARY KEY, message_id TEXT, status TEXT, body TEXT)")
    rows = []
    for payload in payloads:
        body = payload if isinstance(payload, str) else json.dumps(payload)
        update = payload.get("statusUpdate", {}) if isinstance(payload, dict) else {}
        rows.append((update.get("id"), update.get("status"), body))
    with connection:
        connection.executemany("INSERT INTO reports (message_id, status, body) VALUES (?, ?, ?)", rows)
    connection.close()
    return len(rows)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=20_000, help="about how many reports to ingest")
    parser.add_argument("--batch", type=int, default=500, help="ingest_many batch size")
    args = parser.parse_args(argv)

    traffic = Traffic(max(1, args.reports * 10 // 26), seed=1)
    payloads = list(traffic.webhooks())
    results: dict[str, Any] = {"reports": len(payloads), "batch": args.batch}
    with tempfile.TemporaryDirectory() as tmp:
        with ledger_with_sends(Path(tmp) / "single.db", traffic) as ledger:
            n, seconds = timed(lambda: sum(1 for p in payloads if ledger.ingest(p)))
            results["ingest"] = n / seconds
        with ledger_with_sends(Path(tmp) / "batched.db", traffic) as ledger:

            def batched() -> int:
                return sum(
                    len(ledger.ingest_many(payloads[i : i + args.batch])) for i in range(0, len(payloads), args.batch)
                )

            n, seconds = timed(batched)
            results["ingest_many"] = n / seconds
        n, seconds = timed(lambda: raw_executemany(Path(tmp) / "raw.db", payloads))
        results["raw_executemany"] = n / seconds

    floor = results["raw_executemany"]
    print(f"{results['reports']} reports on a SQLite file (batches of {args.batch})")
    print(f"{'figure':<34}{'reports/s':>12}{'vs raw rows':>14}")
    for name in ("ingest", "ingest_many", "raw_executemany"):
        print(f"{name:<34}{results[name]:>12,.0f}{results[name] / floor:>14.4f}")
    print(f"ingest_many / ingest: {results['ingest_many'] / results['ingest']:.1f}x")
    return results


if __name__ == "__main__":
    main()
