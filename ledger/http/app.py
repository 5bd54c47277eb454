"""The receiver as an ASGI application, assembled from its routers (FastAPI's "bigger applications").

:func:`create_app` puts the settings on ``app.state``; its lifespan opens the runtime
(:mod:`ledger.http.runtime`) there.  The routers: :mod:`~ledger.http.webhooks` (the
signed POSTs), :mod:`~ledger.http.reads` (guarded by the API token when one is set) and
:mod:`~ledger.http.health`.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Depends, FastAPI
from pydantic import TypeAdapter

from ledger.connectly import WEBHOOK
from ledger.http import health, openapi, problems, reads, webhooks
from ledger.http.problems import AsciiJSON
from ledger.http.runtime import lifespan
from ledger.http.settings import ServerSettings


def create_app(settings: ServerSettings, *, routers: Sequence[APIRouter] = ()) -> FastAPI:
    """The receiver; its ledgers open and close with the lifespan.

    ``routers`` are included after the receiver's own (a host's or a benchmark's routes;
    their handlers can read ``request.app.state`` as the receiver's do).
    """
    app = FastAPI(title="delivery-ledger receiver", version="1", lifespan=lifespan, default_response_class=AsciiJSON)
    app.state.settings = settings
    app.state.runtime = None  # Until the lifespan (or ledger.http.serve.run) opens it.
    problems.install(app)
    app.include_router(webhooks.router(settings))
    app.include_router(reads.router, dependencies=[Depends(reads.require_token)] if settings.api_token else None)
    app.include_router(health.router)
    for router in routers:
        app.include_router(router)
    openapi.install(app, {"DeliveryStatusWebhook": WEBHOOK, "SentMessage": TypeAdapter(webhooks.SentMessage)})
    return app
