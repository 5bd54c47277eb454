"""Running the receiver: a listening socket first, then the ledger, then uvicorn (one process or several).

With ``workers`` > 1, uvicorn's supervisor starts that many processes serving the one
listening socket (the kernel spreads the connections); each opens its own ledger and
group-commit writer, so the database must take several writers: PostgreSQL.  The
workers are new interpreters: they rebuild the application from the settings, which the
supervisor hands them in an environment variable (:data:`SETTINGS_VARIABLE`).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import asdict

import sqlalchemy
import uvicorn
from eventsourcing.utils import resolve_topic
from fastapi import APIRouter, FastAPI
from uvicorn.supervisors import Multiprocess

from ledger.application import Ledger
from ledger.http.app import create_app
from ledger.http.runtime import Runtime
from ledger.http.settings import ServerSettings

#: The environment variable that carries the settings (and extra routers) to the workers.
SETTINGS_VARIABLE = "LEDGER_SERVE_WORKER_SETTINGS"


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` and listening; ``OSError`` when the OS refuses.

    (The address is in use, is not this machine's, or needs privileges; ``host`` is unknown.)
    """
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # A name with both (localhost) is served on IPv4, which every client tries.
    family, kind, protocol, _, address = min(found, key=lambda entry: entry[0] != socket.AF_INET)
    listener = socket.socket(family, kind, protocol)
    try:
        # As uvicorn does: a port left in TIME_WAIT by the last run can be bound again at once.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(2048)
    except BaseException:
        listener.close()
        raise
    return listener


def run(
    settings: ServerSettings,
    listener: socket.socket,
    *,
    routers: Sequence[APIRouter | str] = (),
    workers: int = 1,
    access_log: bool = True,
    announce: Callable[[], object] | None = None,
) -> None:
    """Open the ledger, ``announce()``, then serve on ``listener`` until SIGINT or SIGTERM.

    A database that cannot be opened raises :class:`~ledger.errors.StorageError` before
    anything is served (not a traceback from the application's start-up).  On SIGINT or
    SIGTERM, requests in flight finish and the writers drain.  ``routers`` as for
    :func:`~ledger.http.app.create_app`, each a router or its topic (``"module:attribute"``;
    with several workers, only topics: a worker imports them).  ``workers`` > 1 needs
    PostgreSQL (``ValueError`` otherwise).
    """
    if workers > 1:
        _run_workers(settings, listener, routers=routers, workers=workers, access_log=access_log, announce=announce)
        return
    runtime = Runtime(settings)
    try:
        app = create_app(settings, routers=[_router(r) for r in routers])
        app.state.receiver.runtime = runtime  # The lifespan serves it rather than opening another.
        config = uvicorn.Config(app, access_log=access_log, server_header=False)
        if announce is not None:
            announce()
        uvicorn.Server(config).run(sockets=[listener])
    finally:
        runtime.close()  # Closed by the lifespan already, unless uvicorn failed before it.


def worker_app() -> FastAPI:
    """The application of one worker process, from the settings in :data:`SETTINGS_VARIABLE`."""
    handed = json.loads(os.environ[SETTINGS_VARIABLE])
    routers = [_router(topic) for topic in handed.pop("routers")]
    return create_app(ServerSettings(**handed), routers=routers)


def _router(router: APIRouter | str) -> APIRouter:
    found = resolve_topic(router) if isinstance(router, str) else router
    if not isinstance(found, APIRouter):
        raise TypeError(f"not an APIRouter: {router!r}")
    return found


def _run_workers(
    settings: ServerSettings,
    listener: socket.socket,
    *,
    routers: Sequence[APIRouter | str],
    workers: int,
    access_log: bool,
    announce: Callable[[], object] | None,
) -> None:
    backend = sqlalchemy.make_url(settings.database_url).get_backend_name()
    if backend != "postgresql":
        raise ValueError(f"--workers {workers}: several processes write at once, which needs PostgreSQL, not {backend}")
    Ledger.open(settings.database).close()  # Fails here, once, if it cannot be opened; creates the tables.
    if not all(isinstance(router, str) for router in routers):
        raise ValueError("with several workers, give each router as a topic ('module:attribute')")
    handed = asdict(settings) | {"url": settings.database_url, "routers": list(routers)}
    os.environ[SETTINGS_VARIABLE] = json.dumps(handed)
    config = uvicorn.Config(
        f"{__name__}:worker_app", factory=True, workers=workers, access_log=access_log, server_header=False
    )
    if announce is not None:
        announce()
    Multiprocess(config, sockets=[listener]).run()
