"""Health routes: ``/healthz`` (the process is up) and ``/readyz`` (the database answers, the writer runs)."""

from __future__ import annotations

from typing import Literal

import sqlalchemy
from fastapi import APIRouter, Request
from pydantic import BaseModel

from ledger.errors import StorageError
from ledger.http.problems import AsciiJSON, ProblemRoute
from ledger.http.state import running
from ledger.sql import storage_errors


class Readiness(BaseModel):
    """Whether the database answers and the writer runs; what the writer has committed."""

    status: Literal["ready", "unavailable"]
    detail: str | None
    pending: int
    batches: int
    reports: int


def router() -> APIRouter:
    """The health routes; never guarded: probes carry no token."""
    routes = APIRouter(route_class=ProblemRoute)
    routes.add_api_route("/healthz", healthz, responses={200: {"model": dict[str, str]}})
    routes.add_api_route("/readyz", readyz, responses={200: {"model": Readiness}, 503: {"model": Readiness}})
    return routes


async def healthz() -> AsciiJSON:
    """The process is up."""
    return AsciiJSON({"status": "ok"})


def readyz(request: Request) -> AsciiJSON:
    """The database answers and the writer runs; 503 otherwise."""
    current = running(request)
    problem = None
    try:
        if current is None or not current.writer.alive:
            raise StorageError("the ledger writer is not running")
        with storage_errors("reach the database"), current.ledger.reader.engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
    except StorageError as error:
        problem = str(error)
    writer = current.writer if current else None
    answer = {
        "status": "unavailable" if problem else "ready",
        "detail": problem,
        "pending": writer.pending if writer else 0,
        "batches": writer.batches if writer else 0,
        "reports": writer.reports if writer else 0,
    }
    return AsciiJSON(answer, status_code=503 if problem else 200)
