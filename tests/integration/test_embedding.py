"""Embedding: the ledger and its views open on what the host application has, on every backend.

A URL string, a ``sqlalchemy.URL``, or the host's own ``Engine``: on an engine the ledger
runs on the host's pool, changes nothing about the engine and never disposes it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import cast

import eventsourcing_sqlalchemy.datastore
import pytest
import sqlalchemy
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import QueuePool

from ledger import Ledger, LedgerNotFoundError, MessageNotFoundError, Outcome, Status, VersionConflictError
from ledger.message import Message
from ledger.persistence.sqlite import tune_sqlite_connection
from projections import Projections
from tests.integration.contract import RECIPIENT, SENDER, webhook


class HostBase(DeclarativeBase):
    """The host application's own tables."""


class Order(HostBase):
    """A host's row, written in the same transaction as the ledger's events."""

    __tablename__ = "host_orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str]


class HostFailedError(Exception):
    """The host's work failed after the ledger's calls: its transaction rolls back."""


def fail_after_sending(ledger: Ledger, session: Session) -> None:
    """The host adds its row, records a send and reports, then fails."""
    session.add(Order(id=1, message_id="m-1"))
    ledger.record_sent("m-1", sender=SENDER, recipient=RECIPIENT)
    outcomes = ledger.ingest_many([webhook("m-1", Status.DELIVERED, recipient=RECIPIENT), b"not json"])
    assert [outcome.kind for outcome in outcomes] == [Outcome.APPLIED, Outcome.REJECTED]
    assert ledger.message("m-1").status is Status.DELIVERED  # the block sees its own writes
    raise HostFailedError


def orders(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.scalars(sqlalchemy.select(Order.message_id)))


def events(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM ledger_events")).scalar_one())


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
            # create_engine gives a file or server database a QueuePool.
            assert cast(QueuePool, pool).checkedin() >= 1  # the ledger's connection went back to the host's pool
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

    def test_a_send_in_the_hosts_transaction_commits_with_the_hosts_row(self, engine: Engine) -> None:
        HostBase.metadata.create_all(engine)
        with Ledger.open(engine) as ledger:
            with Session(engine) as session, session.begin(), ledger.joined(session):
                session.add(Order(id=1, message_id="m-1"))
                view = ledger.record_sent("m-1", recipient=RECIPIENT)
                assert view.status is Status.ACCEPTED
            assert ledger.message("m-1").status is Status.ACCEPTED
        assert (orders(engine), events(engine)) == (["m-1"], 2)

    def test_a_rolled_back_host_transaction_leaves_no_row_no_event_and_no_rejection(self, engine: Engine) -> None:
        HostBase.metadata.create_all(engine)
        with Ledger.open(engine) as ledger:
            with pytest.raises(HostFailedError), Session(engine) as session, session.begin(), ledger.joined(session):
                fail_after_sending(ledger, session)
            assert ledger.rejections() == []
            with pytest.raises(MessageNotFoundError):
                ledger.message("m-1")  # the cache does not serve the rolled-back send
        assert (orders(engine), events(engine)) == ([], 0)

    def test_reports_ingested_in_the_hosts_transaction_commit_with_it(self, engine: Engine) -> None:
        HostBase.metadata.create_all(engine)
        with Ledger.open(engine) as ledger:
            ledger.record_sent("m-1", recipient=RECIPIENT)
            assert ledger.message("m-1").version == 2  # cached as committed
            with Session(engine) as session, session.begin(), ledger.joined(session):
                session.add(Order(id=1, message_id="m-1"))
                assert ledger.ingest(webhook("m-1", Status.READ, recipient=RECIPIENT)).status is Status.READ
                assert ledger.ingest(b"{").kind is Outcome.REJECTED
            assert (ledger.message("m-1").status, len(ledger.rejections())) == (Status.READ, 1)
        assert (orders(engine), events(engine)) == (["m-1"], 3)

    def test_a_rolled_back_report_leaves_the_cached_message_as_committed(self, engine: Engine) -> None:
        with Ledger.open(engine) as ledger:
            ledger.record_sent("m-1", recipient=RECIPIENT)
            assert ledger.message("m-1").status is Status.ACCEPTED  # cached as committed
            with Session(engine) as session, session.begin():
                with ledger.joined(session):
                    ledger.ingest(webhook("m-1", Status.DELIVERED, recipient=RECIPIENT))
                session.rollback()
            view = ledger.message("m-1")
            assert (view.status, view.version) == (Status.ACCEPTED, 2)
        assert events(engine) == 2

    def test_a_collision_in_the_hosts_transaction_raises_a_version_conflict_untried_again(
        self, engine: Engine, url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        with Ledger.open(engine) as ledger, Ledger.open(url) as other:
            ledger.record_sent("m-1", recipient=RECIPIENT)
            load = ledger.store.load

            def load_then_another_writer_writes(message_ids: Iterable[str]) -> dict[str, Message]:
                loaded = load(message_ids)
                # Another thread: this one's calls, any ledger's, would join the host's transaction.
                writer = threading.Thread(target=other.ingest, args=(webhook("m-1", Status.SENT, recipient=RECIPIENT),))
                writer.start()
                writer.join()
                return loaded

            monkeypatch.setattr(ledger.store, "load", load_then_another_writer_writes)
            with (
                pytest.raises(VersionConflictError),
                Session(engine) as session,
                session.begin(),
                ledger.joined(session),
            ):
                ledger.ingest(webhook("m-1", Status.DELIVERED, recipient=RECIPIENT))
            assert ledger.conflicts_retried == 0
            monkeypatch.undo()
            assert ledger.message("m-1").status is Status.SENT  # the other writer's
        assert events(engine) == 3

    def test_a_session_of_another_database_is_refused(self, engine: Engine, tmp_path: Path) -> None:
        elsewhere = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'elsewhere.db'}")
        with Ledger.open(engine) as ledger, Session(elsewhere) as session, pytest.raises(ValueError, match="database"):
            ledger.joined(session).__enter__()
        elsewhere.dispose()


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


def run_embedding_example(number: int, folder: Path) -> subprocess.CompletedProcess[str]:
    """Run the ``number``-th (from 1) Python block of the README's Embedding section in ``folder``."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Embedding\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    assert len(blocks) >= number, f"no python block {number} in the README's Embedding section"
    return subprocess.run(
        [sys.executable, "-c", blocks[number - 1]], cwd=folder, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_readme_embedding_example_runs_and_leaves_the_engine_working(tmp_path: Path) -> None:
    result = run_embedding_example(1, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "2 accepted\n2\n"


def test_the_readme_host_transaction_example_stores_the_order_and_the_send_together(tmp_path: Path) -> None:
    result = run_embedding_example(2, tmp_path)
    assert (result.returncode, result.stdout) == (0, "accepted\n"), result.stderr
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    with engine.connect() as connection:
        assert list(connection.execute(text("SELECT message_id FROM orders")).scalars()) == ["m-1"]
    assert events(engine) == 2
    engine.dispose()


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
