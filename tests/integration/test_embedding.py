"""Embedding: the ledger and its views open on what the host application has, on every backend.

A URL string, a ``sqlalchemy.URL``, or the host's own ``Engine``: on an engine the ledger
runs on the host's pool, changes nothing about the engine and never disposes it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import eventsourcing_sqlalchemy.datastore
import pytest
import sqlalchemy
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from ledger import Ledger, LedgerNotFoundError, Status
from ledger.persistence.sqlite import tune_sqlite_connection
from projections import Projections
from tests.integration.contract import RECIPIENT, SENDER, webhook


class EmbeddingContract:
    """Subclasses provide ``url``: a SQLAlchemy URL (a string) of an empty database."""

    @pytest.fixture
    def url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def engine(self, url: str) -> Iterator[Engine]:
        """The host application's engine, made and disposed by the host."""
        engine = sqlalchemy.create_engine(url)
        yield engine
        engine.dispose()

    def test_a_ledger_opens_on_a_sqlalchemy_url_object(self, url: str) -> None:
        with Ledger.open(sqlalchemy.make_url(url)) as ledger:
            ledger.record_sent("m-1", sender=SENDER, recipient=RECIPIENT)
            assert ledger.url == sqlalchemy.make_url(url).render_as_string(hide_password=True)
        with Ledger.open(url) as ledger:
            assert ledger.message("m-1").status is Status.ACCEPTED

    def test_a_ledger_on_the_hosts_engine_runs_on_its_pool(self, engine: Engine) -> None:
        pool = engine.pool
        with Ledger.open(engine) as ledger:
            ledger.ingest(webhook("m-1", Status.DELIVERED))
            assert ledger.engine is engine
            assert engine.pool is pool
            assert pool.checkedin() >= 1  # the ledger's connection went back to the host's pool
        assert not event.contains(engine, "connect", tune_sqlite_connection)  # nothing set on it

    def test_reports_ingested_through_the_hosts_engine_are_read_through_a_url(self, url: str, engine: Engine) -> None:
        with Ledger.open(engine) as ledger:
            ledger.record_sent("m-1", sender=SENDER, recipient=RECIPIENT)
            outcome = ledger.ingest(webhook("m-1", Status.READ, 30, recipient=RECIPIENT))
            assert outcome.status is Status.READ
        with Ledger.open(url, create=False) as ledger:
            view = ledger.message("m-1")
            assert (view.status, view.recipient, view.version) == (Status.READ, RECIPIENT, 3)
            assert [entry.event for entry in ledger.history("m-1")] == ["opened", "send_recorded", "stage_reported"]

    def test_closing_the_ledger_leaves_the_hosts_engine_working(self, engine: Engine) -> None:
        pool = engine.pool
        ledger = Ledger.open(engine)
        ledger.ingest(webhook("m-1", Status.SENT))
        ledger.close()
        assert engine.pool is pool  # Engine.dispose() would have put a new pool in its place
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM ledger_events")).scalar_one() == 2

    def test_projections_open_on_the_hosts_engine_and_leave_it_open(self, engine: Engine) -> None:
        pool = engine.pool
        with Ledger.open(engine) as ledger:
            ledger.ingest(webhook("m-1", Status.DELIVERED))
        with Projections.open(engine) as views:
            assert views.catch_up() == 2
            assert views.current_status.get("m-1") is not None
            assert views.ledger.engine is engine
        assert engine.pool is pool
        with Projections.open(engine, create=False) as views:
            row = views.current_status.get("m-1")
            assert row is not None
            assert row.status is Status.DELIVERED

    def test_opening_the_hosts_engine_without_create_needs_a_ledger(self, engine: Engine, url: str) -> None:
        with pytest.raises(LedgerNotFoundError):
            Ledger.open(engine, create=False)
        with pytest.raises(LedgerNotFoundError):
            Projections.open(engine, create=False)
        assert not sqlalchemy.inspect(engine).get_table_names()  # nothing was created
        with Ledger.open(url) as ledger:
            ledger.ingest(webhook("m-1", Status.SENT))
        with Ledger.open(engine, create=False) as ledger:
            assert ledger.message("m-1").status is Status.SENT


class TestSQLiteFile(EmbeddingContract):
    @pytest.fixture
    def url(self, sqlite_database: str) -> str:
        return sqlite_database


@pytest.mark.postgres
class TestPostgreSQL(EmbeddingContract):
    @pytest.fixture
    def url(self, postgres_database: str) -> str:
        return postgres_database


def test_a_hosts_sqlite_engine_on_a_missing_file_is_no_ledger_and_no_file(tmp_path: Path) -> None:
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'missing.db'}")
    try:
        with pytest.raises(LedgerNotFoundError):
            Ledger.open(engine, create=False)
    finally:
        engine.dispose()
    assert list(tmp_path.iterdir()) == []


def test_a_hosts_in_memory_sqlite_engine_holds_the_ledger_while_it_lives() -> None:
    engine = sqlalchemy.create_engine("sqlite://", poolclass=sqlalchemy.pool.StaticPool)
    try:
        with Ledger.open(engine) as ledger:
            ledger.ingest(webhook("m-1", Status.SENT))
        with Ledger.open(engine, create=False) as ledger:  # the same in-memory database, not disposed
            assert ledger.message("m-1").status is Status.SENT
    finally:
        engine.dispose()


def test_the_readme_embedding_example_runs_and_leaves_the_engine_working(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    match = re.search(r"## Embedding\n.*?```python\n(.*?)```", readme, re.DOTALL)
    assert match, "no python block in the README's Embedding section"
    result = subprocess.run(
        [sys.executable, "-c", match.group(1)], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "2 accepted\n2\n"


def test_on_the_hosts_engine_no_engine_of_its_own_is_made_whatever_the_environment_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_SQLALCHEMY_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    monkeypatch.setenv("SQLALCHEMY_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'host.db'}")

    def no_engine(*args: object, **kwargs: object) -> Engine:
        raise AssertionError("the ledger made an engine of its own")

    monkeypatch.setattr(eventsourcing_sqlalchemy.datastore, "create_engine", no_engine)
    try:
        with Ledger.open(engine) as ledger:
            ledger.ingest(webhook("m-1", Status.SENT))
            assert ledger.engine is engine
    finally:
        engine.dispose()
