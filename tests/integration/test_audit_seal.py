"""A ledger written before the hash chain opens and works, is sealed once, and says how much predates the seal."""

from __future__ import annotations

import pytest

from ledger import Ledger, Status
from ledger import rejections as rejection_store
from ledger.audit import read_checkpoints, seal, verify
from tests.integration.contract import webhook
from tests.integration.test_persistence import StockLedger
from tests.integration.test_schema_evolution import stored_events


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def old_ledger(request: pytest.FixtureRequest) -> str:
    """A database holding version 1 events in a table made by eventsourcing's own recorder, without the chain."""
    url: str = request.getfixturevalue("sqlite_database" if request.param == "sqlite" else "postgres_database")
    stock = StockLedger({"SQLALCHEMY_URL": url})
    try:
        stock.recorder.insert_events(stored_events())
        engine = stock.factory.datastore.engine  # type: ignore[attr-defined]
        rejection_store.create_table(engine)
    finally:
        stock.close()
    return url


def test_an_old_ledger_opens_and_reads_without_being_changed(old_ledger: str) -> None:
    with Ledger.open(old_ledger, create=False) as ledger:
        assert ledger.message("fixture-1").status is Status.READ
        assert not ledger.recorder.chained
        result = verify(ledger.recorder)
    assert (result.ok, result.sealed, result.unchained, result.problems) == (False, False, len(stored_events()), ())


def test_an_old_ledger_is_written_unchained_until_sealed_once(old_ledger: str) -> None:
    before = len(stored_events())
    with Ledger.open(old_ledger) as ledger:
        # A report on an old message continues its unchained history; a new message is chained.
        ledger.ingest_many([webhook("fixture-2", Status.READ), webhook("new-1", Status.SENT)])
        unsealed = verify(ledger.recorder)
        assert (unsealed.sealed, unsealed.unchained, unsealed.problems) == (False, before + 1, ())
        done = seal(ledger.recorder)
        assert (done.new, done.events_before) == (True, before + 1)
        assert done.checkpoint is not None
        assert done.checkpoint.position == done.position
        ledger.ingest(webhook("fixture-1", Status.FAILED))  # recorded as a rejection, on a sealed chain
        result = verify(ledger.recorder)
        assert (result.ok, result.events_before_seal, result.checkpoints) == (True, before + 1, 1)
        again = seal(ledger.recorder)
        assert (again.new, again.position, again.events_before) == (False, done.position, before + 1)
        with ledger.session(commit=False) as session:
            assert len(read_checkpoints(session)) == 1
        assert ledger.message("fixture-2").conflicts == 1
