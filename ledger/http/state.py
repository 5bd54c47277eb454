"""What the handlers read from the request: the receiver that serves them, its settings and runtime.

Every route of a receiver first runs its :meth:`~ledger.http.receiver.Receiver.attach`
dependency, which puts the receiver on ``request.state``; its runtime is there while its
lifespan runs.  (An application mounted under another never runs its lifespan:
Starlette runs only the outer one's.  Including the receiver's router runs it.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request

from ledger.errors import StorageError
from ledger.http.runtime import Runtime
from ledger.http.settings import ServerSettings

if TYPE_CHECKING:
    from ledger.http.receiver import Receiver

#: The name of the receiver on ``request.state``.
STATE_KEY = "delivery_ledger_receiver"

_NOT_RUNNING = (
    "the receiver is not running (its lifespan has not run: include Receiver.router in the "
    "application, which runs it, rather than mounting an application under another)"
)


def receiver_of(request: Request) -> Receiver:
    """The receiver serving ``request``."""
    found: Receiver = getattr(request.state, STATE_KEY)
    return found


def settings_of(request: Request) -> ServerSettings:
    """The settings of the receiver serving ``request``."""
    return receiver_of(request).settings


def running(request: Request) -> Runtime | None:
    """The runtime, if the receiver runs (else ``None``)."""
    return receiver_of(request).runtime


def runtime_of(request: Request) -> Runtime:
    """The runtime; :class:`StorageError` (503) when the receiver is not running.

    Called by the handlers themselves rather than declared as a dependency: FastAPI
    resolves dependencies before it validates the query, and an invalid request is
    answered 400 even while the receiver is not running.
    """
    opened = running(request)
    if opened is None:
        raise StorageError(_NOT_RUNNING)
    return opened
