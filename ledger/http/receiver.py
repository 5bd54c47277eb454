"""The receiver's routes, for its own application or for a host's FastAPI application.

A host includes the router; its lifespan (which opens the ledger and its group-commit
writer, and closes them at shutdown) runs with the host's::

    receiver = Receiver(ServerSettings(url=engine, secret=WEBHOOK_SECRET, api_token=API_TOKEN))
    app = FastAPI()
    app.include_router(receiver.router, prefix="/ledger")

Every route answers its errors with problem details (:class:`~ledger.http.problems.ProblemRoute`),
whatever the host installs.  While it runs, :attr:`Receiver.ledger` is the
:class:`~ledger.aio.AsyncLedger` the routes write through, for the host's own awaits.
(Mounting :func:`~ledger.http.create_app`'s application under another instead does not
work: Starlette does not run a mounted application's lifespan, and its routes answer 503.)
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, Request

from ledger.aio import AsyncLedger
from ledger.errors import StorageError
from ledger.http import dashboard, health, metrics, providers, reads, webhooks
from ledger.http.metrics import Metrics
from ledger.http.problems import OBSERVER_KEY
from ledger.http.runtime import Runtime
from ledger.http.settings import ServerSettings
from ledger.http.state import STATE_KEY


class Receiver:
    """The webhook, send-record, read, metrics, health and dashboard routes over one ledger, as one ``APIRouter``.

    ``freeze_gc``: once the ledger is open, keep what is loaded by then out of the cyclic
    garbage collector (``gc.freeze()``), which otherwise stops every request in flight
    for 60-80 ms under load; ``ledger serve`` does, a host decides for its process.
    """

    def __init__(self, settings: ServerSettings, *, freeze_gc: bool = False) -> None:
        self.settings = settings
        self.freeze_gc = freeze_gc
        #: What the lifespan opened (or :func:`ledger.http.serve.run`, before it); ``None`` otherwise.
        self.runtime: Runtime | None = None
        #: This receiver's Prometheus metrics (its own registry), served at ``/metrics``; ``None`` when off.
        self.metrics = Metrics(lambda: self.runtime) if settings.metrics else None
        attach = Depends(self.attach)
        #: The routes to include; their lifespan is this receiver's.
        self.router = APIRouter(lifespan=self.lifespan)
        self.router.include_router(webhooks.router(settings), dependencies=[attach])
        self.router.include_router(providers.router(settings), dependencies=[attach])
        guarded = [attach, Depends(reads.require_token)] if settings.api_token else [attach]
        self.router.include_router(reads.router(), dependencies=guarded)
        if self.metrics is not None:
            self.router.include_router(metrics.router(), dependencies=guarded)
        self.router.include_router(health.router(), dependencies=[attach])
        if settings.dashboard:
            self.router.include_router(dashboard.router(), dependencies=[attach])

    @property
    def ledger(self) -> AsyncLedger:
        """The ledger the routes write through; :class:`~ledger.errors.StorageError` when not running."""
        if self.runtime is None:
            raise StorageError("the receiver is not running (its lifespan has not started)")
        return self.runtime.ledger

    def attach(self, request: Request) -> None:
        """A dependency of every route: the receiver serving the request (see :mod:`ledger.http.state`)."""
        setattr(request.state, STATE_KEY, self)
        if self.metrics is not None:
            setattr(request.state, OBSERVER_KEY, self.metrics.observe_answer)

    @asynccontextmanager
    async def lifespan(self, _: Any) -> AsyncIterator[None]:
        """Open the runtime (unless it is open already) and close it at shutdown."""
        if self.runtime is None:
            self.runtime = await asyncio.to_thread(Runtime, self.settings)
        if self.metrics is not None:
            self.runtime.writer.observer = self.metrics.observe_batch
        if self.freeze_gc:
            gc.freeze()
        try:
            yield
        finally:
            if self.freeze_gc:
                gc.unfreeze()
            opened, self.runtime = self.runtime, None
            if opened is not None:
                await asyncio.to_thread(opened.close)
