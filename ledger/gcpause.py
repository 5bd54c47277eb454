"""Pausing Python's cyclic garbage collector while a batch of short-lived objects is built."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused(pause: bool = True) -> Iterator[None]:
    """Pause the cyclic garbage collector for the block, if it is running and ``pause``.

    A batch of ``ingest_many`` or a page of a projection run keeps thousands of objects
    (reports, events, rows) alive for tens of milliseconds: long enough for the
    collector to move them to its oldest generation, where they pile up and set off
    full collections that walk the whole heap (about 40 ms each once SQLAlchemy and
    pydantic are loaded): a sixth of the ingest time, a third of a rebuild's.
    Reference counting frees them at the end of the batch anyway; the collector is
    resumed afterwards and finds any cycles made meanwhile.
    """
    if not (pause and gc.isenabled()):
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
