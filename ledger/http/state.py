"""What the handlers read from ``app.state``: the settings, and the runtime while it runs."""

from __future__ import annotations

from fastapi import Request

from ledger.errors import StorageError
from ledger.http.runtime import Runtime
from ledger.http.settings import ServerSettings


def settings_of(request: Request) -> ServerSettings:
    """The settings the application was made with."""
    settings = request.app.state.settings
    assert isinstance(settings, ServerSettings)
    return settings


def running(request: Request) -> Runtime | None:
    """The runtime, if the application's lifespan runs (else ``None``)."""
    opened = request.app.state.runtime
    return opened if isinstance(opened, Runtime) else None


def runtime_of(request: Request) -> Runtime:
    """The runtime; :class:`StorageError` (503) when the receiver is not running.

    Called by the handlers themselves rather than declared as a dependency: FastAPI
    resolves dependencies before it validates the query, and an invalid request is
    answered 400 even while the receiver is not running.
    """
    opened = running(request)
    if opened is None:
        raise StorageError("the receiver is not running")
    return opened
