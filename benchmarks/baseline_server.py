"""The receiver with one more route, for the load test: the webhook's body handling without the ledger.

``POST /benchmark/baseline`` reads the body within the size limit and checks its
signature exactly as the webhook does, then answers without touching the database, so
``benchmarks/load.py`` can set what the receiver costs beside what the ledger costs.  It
is not part of the library: the receiver users run (``ledger serve``) has no such route.

    python -m benchmarks.baseline_server --port 8000 --db sqlite:///load.db
    python -m benchmarks.baseline_server --port 8000 --db postgresql+psycopg://... --workers 2

The webhook secret and the API token come from ``LEDGER_WEBHOOK_SECRET`` and
``LEDGER_API_TOKEN``, as for ``ledger serve``; it listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
from typing import Annotated

from fastapi import APIRouter, Depends

from ledger.http import ServerSettings, listen, run
from ledger.http.bodies import signed_body
from ledger.http.problems import AsciiJSON

BASELINE_PATH = "/benchmark/baseline"

baseline = APIRouter()


@baseline.post(BASELINE_PATH, include_in_schema=False)
async def body_handling_only(body: Annotated[bytes, Depends(signed_body)]) -> AsciiJSON:
    """The webhook's body handling (size limit, signature) without the ledger."""
    return AsciiJSON({"kind": "baseline"})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True, help="port to listen on, on 127.0.0.1")
    parser.add_argument("--db", required=True, help="SQLAlchemy URL of the ledger")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument("--workers", type=int, default=1, help="processes serving the port (>1: PostgreSQL)")
    parser.add_argument("--no-metrics", action="store_true", help="count nothing and serve no /metrics")
    args = parser.parse_args(argv)
    settings = ServerSettings(
        url=args.db,
        secret=os.environ.get("LEDGER_WEBHOOK_SECRET") or None,
        api_token=os.environ.get("LEDGER_API_TOKEN") or None,
        metrics=not args.no_metrics,
    )
    with listen("127.0.0.1", args.port, reuse_port=args.workers > 1) as listener:
        # By topic: workers are new interpreters, which import the router by its name.
        run(
            settings,
            listener,
            routers=["benchmarks.baseline_server:baseline"],
            workers=args.workers,
            access_log=args.access_log,
        )


if __name__ == "__main__":
    main()
