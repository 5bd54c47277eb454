"""A child process for the crash tests: it works until the parent SIGKILLs it.

It prints one line per finished unit of work (flushed), so the parent knows what
returned before the kill:  ``batch N`` after each ``ingest_many``, ``page P`` after each
projection page.
"""

from __future__ import annotations

import sys

from ledger import Ledger, Status
from ledger.connectly import delivery_status_payload
from projections import Projections

MESSAGES_PER_BATCH = 25


def batch_payloads(cycle: int, batch: int) -> list[dict[str, object]]:
    """A batch that opens its own messages, so a half-written batch would be visible."""
    payloads = []
    for n in range(MESSAGES_PER_BATCH):
        message_id = f"c{cycle}-b{batch}-m{n}"
        payloads.append(delivery_status_payload(message_id, Status.SENT, timestamp=1_700_000_000 + n))
        payloads.append(delivery_status_payload(message_id, Status.DELIVERED, timestamp=1_700_000_100 + n))
    return payloads


def ingest(url: str, cycle: int) -> None:
    with Ledger.open(url) as ledger:
        for batch in range(10_000):
            ledger.ingest_many(batch_payloads(cycle, batch))
            print(f"batch {batch}", flush=True)


def project(url: str, mode: str) -> None:
    with Projections.open(url) as views:

        def report(progress: object) -> None:
            print(f"page {getattr(progress, 'position', 0)}", flush=True)

        if mode == "rebuild":
            views.rebuild(page_size=100, on_progress=report)
        else:
            views.catch_up(page_size=100, on_progress=report)
        print("finished", flush=True)


if __name__ == "__main__":
    command, url, argument = sys.argv[1:4]
    if command == "ingest":
        ingest(url, int(argument))
    else:
        project(url, argument)
