"""What runs with the receiver: the group-commit writer, a ledger for reads, and the read models.

The application's lifespan opens a :class:`Runtime` and puts it on ``app.state.runtime``
(unless :func:`ledger.http.serve.run` opened one already), and closes it at shutdown.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ledger.application import Ledger
from ledger.batching import GroupCommitWriter
from ledger.errors import StorageError
from ledger.http.settings import ServerSettings
from projections import ProjectionConflictError, Projections


class Runtime:
    """What runs with the application: the writer's ledger, and a second one for reads and views."""

    def __init__(self, settings: ServerSettings) -> None:
        url = settings.database_url
        self.writer = GroupCommitWriter(Ledger.open(url), max_batch=settings.max_batch, max_wait=settings.max_wait)
        try:
            self.reader = Ledger.open(url)
        except BaseException:
            self.writer.close()
            raise
        try:
            self.views = Projections(self.reader, owns_ledger=True)
        except BaseException:
            self.writer.close()
            self.reader.close()
            raise
        self._catching_up = threading.Lock()
        self._closed = False
        self.writer.start()

    def caught_up(self) -> Projections:
        """The views with every committed event applied: a report is never stale."""
        with self._catching_up:
            for _ in range(10):
                try:
                    self.views.catch_up()
                except ProjectionConflictError:
                    continue  # Another runner (`ledger project`) moved first: go on from there.
                return self.views
        raise StorageError("the views are busy with another runner")

    def close(self) -> None:
        """Drain the writer and close the ledgers; again, nothing happens."""
        if self._closed:
            return
        self._closed = True
        self.writer.close()
        self.views.close()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the runtime on ``app.state`` (unless it is open already), and close it at shutdown."""
    if app.state.runtime is None:
        app.state.runtime = await asyncio.to_thread(Runtime, app.state.settings)
    # What is loaded by now (modules, SQLAlchemy, pydantic) lives as long as the process:
    # keep it out of the cyclic collector's full collections, which otherwise stop every
    # request in flight for 60-80 ms (measured under load).
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        opened, app.state.runtime = app.state.runtime, None
        await asyncio.to_thread(opened.close)
