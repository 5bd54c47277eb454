"""Peak memory of a long ``ingest_many`` run, measured in a child process.

    python -m benchmarks.memory --url sqlite:///big.db --reports 1000000

The child generates the stream lazily (one window of messages at a time), ingests it
in batches and prints one JSON line with its peak resident set size
(``resource.getrusage``), which covers the interpreter and every import as well.

On Linux ``ru_maxrss`` survives ``exec``: a child started by a process that holds more
memory than the child ever will reports its parent's size.  So the suite measures
memory first, while it is small, and the child also reports ``VmHWM`` (its own image's
peak, from ``/proc/self/status``) to check against.
Webhooks open their messages themselves here (no ``record_sent``): a million sends
would take longer to record than the reports to ingest, and memory is about the
ledger's caches, which both kinds of message fill alike.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.workload import batches, traffic_for, webhook_texts
from ledger import Ledger


def measure(url: str, *, reports: int, batch: int) -> dict[str, Any]:
    """Run this module in a child process; its JSON result."""
    command = [sys.executable, "-m", "benchmarks.memory", "--url", url, "--reports", str(reports)]
    completed = subprocess.run([*command, "--batch", str(batch)], capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="SQLAlchemy URL of an empty database")
    parser.add_argument("--reports", type=int, default=1_000_000, help="about how many reports")
    parser.add_argument("--batch", type=int, default=1000, help="ingest_many batch size")
    args = parser.parse_args(argv)

    count = 0
    start = time.perf_counter()
    with Ledger.open(args.url) as ledger:
        for bodies in batches(webhook_texts(traffic_for(args.reports)), args.batch):
            ledger.ingest_many(bodies)
            count += len(bodies)
    seconds = time.perf_counter() - start
    # ru_maxrss is in kilobytes on Linux (bytes on macOS).
    scale = 1 if sys.platform == "darwin" else 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    result = {"reports": count, "seconds": seconds, "peak_rss_mb": peak / 2**20, "vm_hwm_mb": _vm_hwm_mb()}
    print(json.dumps(result))


def _vm_hwm_mb() -> float | None:
    """This process image's peak RSS as Linux reports it, in MiB (None elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


if __name__ == "__main__":
    main()
