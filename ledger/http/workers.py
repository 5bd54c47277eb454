"""Several receiver processes on one port (``ledger serve --workers N``), on PostgreSQL.

Each worker listens on a socket of its own bound to the same address with
``SO_REUSEPORT``, and the kernel spreads new connections across the sockets.  (With one
socket shared by every worker, as uvicorn's own ``--workers`` does, asyncio's accept loop
in whichever worker wakes first takes every connection waiting: under a burst of
keep-alive connections one worker served them all while the other sat idle, as
``benchmarks/load.py --workers 1,2`` showed.)

Workers are new interpreters (``spawn``): each builds the application from the settings
(routers given as topics) and opens its own ledger and group-commit writer, so the
database must take several writers at once: PostgreSQL.  Each worker runs in a process
group of its own, so Ctrl-C reaches the supervisor alone, which stops every worker once
with SIGTERM: requests in flight finish and the writers drain.  A worker that ends by
itself (a crash, a failed start) stops the others: :class:`WorkerExitedError`, and the
process manager restarts the whole.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from multiprocessing.connection import wait
from typing import Any

import sqlalchemy
import uvicorn
from eventsourcing.utils import resolve_topic
from fastapi import APIRouter

from ledger.application import Ledger
from ledger.errors import WorkerExitedError
from ledger.http.app import create_app
from ledger.http.metrics import MULTIPROCESS_DIRECTORY
from ledger.http.settings import ServerSettings

#: prctl(2)'s option: the signal a process gets when its parent dies (Linux).
PR_SET_PDEATHSIG = 1

#: How long a stopping worker may take to finish its requests and drain its writer.
STOP_TIMEOUT = 60.0


def serve_workers(
    settings: ServerSettings,
    listener: socket.socket,
    *,
    routers: Sequence[APIRouter | str],
    workers: int,
    access_log: bool,
    announce: Callable[[], object] | None,
) -> None:
    """Serve with ``workers`` processes until SIGINT or SIGTERM (see the module's docstring).

    ``listener`` must have been bound with ``reuse_port=True``.  ``ValueError`` unless the
    database is PostgreSQL and every router is a topic.
    """
    backend = sqlalchemy.make_url(settings.database_url).get_backend_name()
    if backend != "postgresql":
        raise ValueError(f"--workers {workers}: several processes write at once, which needs PostgreSQL, not {backend}")
    if not all(isinstance(router, str) for router in routers):
        raise ValueError("with several workers, give each router as a topic ('module:attribute')")
    if not listener.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT):
        raise ValueError("with several workers, listen with reuse_port=True")
    Ledger.open(settings.database).close()  # Fails here, once, if it cannot be opened; creates the tables.
    handed = asdict(settings) | {"url": settings.database_url, "routers": list(routers)}
    sockets = [listener, *(_sibling(listener) for _ in range(workers - 1))]
    spawn = multiprocessing.get_context("spawn")
    processes = [
        spawn.Process(
            target=_worker, args=(json.dumps(handed), sock, access_log, os.getpid()), name=f"ledger-serve-{n}"
        )
        for n, sock in enumerate(sockets, start=1)
    ]
    try:
        if announce is not None:
            announce()
        with _shared_metrics():
            _supervise(processes)
    finally:
        for sock in sockets[1:]:
            sock.close()


@contextmanager
def _shared_metrics() -> Iterator[None]:
    """Workers started in the block count their metrics in one directory (see :mod:`ledger.http.metrics`).

    A new directory, removed afterwards; unless ``PROMETHEUS_MULTIPROC_DIR`` is set
    already, which is then used as it is (emptying it between runs is its owner's job).
    """
    if os.environ.get(MULTIPROCESS_DIRECTORY):
        yield
        return
    directory = tempfile.mkdtemp(prefix="ledger-metrics-")
    os.environ[MULTIPROCESS_DIRECTORY] = directory  # A spawned worker inherits it, before importing anything.
    try:
        yield
    finally:
        os.environ.pop(MULTIPROCESS_DIRECTORY, None)
        shutil.rmtree(directory, ignore_errors=True)


def _sibling(listener: socket.socket) -> socket.socket:
    """Another listening socket on ``listener``'s address (``SO_REUSEPORT``)."""
    sibling = socket.socket(listener.family, listener.type, listener.proto)
    try:
        sibling.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sibling.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sibling.bind(listener.getsockname())
        sibling.listen(2048)
    except BaseException:
        sibling.close()
        raise
    return sibling


def _supervise(processes: list[Any]) -> None:
    """Start the workers; on SIGINT/SIGTERM stop them all; if one ends first, stop the rest and raise."""
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    previous = {
        sig: signal.signal(sig, lambda *_: os.write(wake_write, b"x")) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        for process in processes:
            process.start()
        ready = wait([wake_read, *(process.sentinel for process in processes)])
        ended = [] if wake_read in ready else [process for process in processes if process.sentinel in ready]
    finally:
        for process in processes:
            if process.pid is not None and process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes its requests, the lifespan drains the writer.
        for process in processes:
            if process.pid is not None:
                process.join(STOP_TIMEOUT)
                if process.is_alive():
                    process.kill()
                    process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        os.close(wake_read)
        os.close(wake_write)
    if ended:
        raise WorkerExitedError(f"worker {ended[0].name} exited with status {ended[0].exitcode}; stopped the others")


def _worker(handed: str, listener: socket.socket, access_log: bool, supervisor: int) -> None:
    """One worker: the application from the settings, served on its own socket."""
    os.setpgrp()  # Out of the terminal's process group: the supervisor alone decides when to stop.
    _stop_with(supervisor)
    settings = json.loads(handed)
    routers = [router_of(topic) for topic in settings.pop("routers")]
    app = create_app(ServerSettings(**settings), routers=routers)
    config = uvicorn.Config(app, access_log=access_log, server_header=False)
    uvicorn.Server(config).run(sockets=[listener])


def router_of(router: APIRouter | str) -> APIRouter:
    """``router``, or the router its topic (``"module:attribute"``) names."""
    found = resolve_topic(router) if isinstance(router, str) else router
    if not isinstance(found, APIRouter):
        raise TypeError(f"not an APIRouter: {router!r}")
    return found


def _stop_with(supervisor: int) -> None:
    """On Linux, have the kernel send SIGTERM should the supervisor die (SIGKILL gives it no chance to stop us).

    Elsewhere, or if the call fails, a worker outlives a killed supervisor until stopped.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.getppid() != supervisor:  # It died before the call: nobody would send the signal.
        os.kill(os.getpid(), signal.SIGTERM)
