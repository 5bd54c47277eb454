"""Running the receiver: a listening socket first, then the ledger, then uvicorn (one process or several).

With ``workers`` > 1, :mod:`ledger.http.workers` starts that many processes on the port,
each with its own ledger and group-commit writer (PostgreSQL only).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence

import uvicorn
from fastapi import APIRouter

from ledger.http.app import create_app
from ledger.http.runtime import Runtime
from ledger.http.settings import ServerSettings
from ledger.http.workers import router_of, serve_workers


def listen(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A socket bound to ``host``:``port`` and listening; ``OSError`` when the OS refuses.

    (The address is in use, is not this machine's, or needs privileges; ``host`` is unknown.)
    ``reuse_port`` (for ``workers`` > 1) lets each worker bind a socket of its own there.
    """
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # A name with both (localhost) is served on IPv4, which every client tries.
    family, kind, protocol, _, address = min(found, key=lambda entry: entry[0] != socket.AF_INET)
    listener = socket.socket(family, kind, protocol)
    try:
        # As uvicorn does: a port left in TIME_WAIT by the last run can be bound again at once.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
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
    PostgreSQL and a ``listener`` from ``listen(..., reuse_port=True)`` (``ValueError``
    otherwise); see :mod:`ledger.http.workers`.
    """
    if workers > 1:
        serve_workers(settings, listener, routers=routers, workers=workers, access_log=access_log, announce=announce)
        return
    runtime = Runtime(settings)
    try:
        app = create_app(settings, routers=[router_of(r) for r in routers])
        app.state.receiver.runtime = runtime  # The lifespan serves it rather than opening another.
        config = uvicorn.Config(app, access_log=access_log, server_header=False)
        if announce is not None:
            announce()
        uvicorn.Server(config).run(sockets=[listener])
    finally:
        runtime.close()  # Closed by the lifespan already, unless uvicorn failed before it.
