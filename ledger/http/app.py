"""The receiver as an ASGI application of its own: a :class:`~ledger.http.receiver.Receiver`'s routes.

``ledger serve`` runs it.  A host application includes ``Receiver(settings).router``
instead (see :mod:`ledger.http.receiver`).
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Depends, FastAPI

from ledger.http import docs, openapi, problems
from ledger.http.problems import AsciiJSON
from ledger.http.receiver import Receiver
from ledger.http.settings import ServerSettings


def create_app(settings: ServerSettings, *, routers: Sequence[APIRouter] = ()) -> FastAPI:
    """The receiver; its ledger opens and closes with the application's lifespan.

    ``app.state.receiver`` is the :class:`Receiver`.  ``routers`` are included after the
    receiver's own (a benchmark's routes); their handlers can read the receiver's settings
    and runtime as the receiver's do (:mod:`ledger.http.state`).
    """
    receiver = Receiver(settings, freeze_gc=True)
    # FastAPI's own docs pages load their assets from a CDN: ours are served from the package.
    app = FastAPI(
        title="delivery-ledger receiver",
        version="1",
        default_response_class=AsciiJSON,
        docs_url=None,
        redoc_url=None,
    )
    app.state.receiver = receiver
    problems.install(app)  # Routing errors (404, 405): the receiver's routes answer their own.
    app.include_router(receiver.router)
    for router in routers:
        app.include_router(router, dependencies=[Depends(receiver.attach)])
    openapi.install(app)
    docs.install(app)
    return app
