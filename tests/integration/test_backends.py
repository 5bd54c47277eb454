"""The Ledger contract on a SQLite file and on PostgreSQL, plus backend-specific checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger import Ledger, LedgerNotFoundError, Status, StorageError
from ledger.connectly import delivery_status_payload
from tests.integration.contract import LedgerContract


class TestSQLiteFile(LedgerContract):
    @pytest.fixture
    def url(self, sqlite_database: str) -> str:
        return sqlite_database


@pytest.mark.postgres
class TestPostgreSQL(LedgerContract):
    @pytest.fixture
    def url(self, postgres_database: str) -> str:
        return postgres_database


def test_open_without_a_url_reads_the_environment(sqlite_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", sqlite_database)
    with Ledger.open() as ledger:
        ledger.ingest(delivery_status_payload("m-1", Status.SENT, timestamp=1641513098))
    with Ledger.open(sqlite_database) as ledger:
        assert ledger.message("m-1").status is Status.SENT


def test_open_without_a_url_or_environment_uses_ledger_db_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEDGER_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    with Ledger.open() as ledger:
        assert ledger.url == "sqlite:///ledger.db"


def test_an_unreachable_database_is_a_storage_error() -> None:
    with pytest.raises(StorageError, match="could not open the ledger"):
        Ledger.open("postgresql://postgres@127.0.0.1:1/test")


def test_a_subclass_of_the_ledger_uses_the_same_tables(sqlite_database: str) -> None:
    class InstrumentedLedger(Ledger):
        pass

    with InstrumentedLedger.open(sqlite_database) as instrumented:
        instrumented.ingest(delivery_status_payload("m-1", Status.SENT, timestamp=1641513098))
    with Ledger.open(sqlite_database) as ledger:
        assert ledger.message("m-1").status is Status.SENT


def test_opening_without_create_leaves_no_sqlite_file_behind(tmp_path: Path) -> None:
    with pytest.raises(LedgerNotFoundError):
        Ledger.open(f"sqlite:///{tmp_path / 'missing.db'}", create=False)
    assert list(tmp_path.iterdir()) == []


def test_a_process_environment_cannot_make_a_read_create_tables(
    sqlite_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_CREATE_TABLE", "yes")
    Path(sqlite_database.removeprefix("sqlite:///")).touch()  # a SQLite database without tables
    with pytest.raises(LedgerNotFoundError):
        Ledger.open(sqlite_database, create=False)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("mysql://user@host/db", "unsupported database 'mysql'"),
        ("not a url", "not a database URL"),
        ("postgresql://user:secret@host:port/db", "not a database URL"),
        ("sqlite+pysqlcipher:///ledger.db", "driver 'pysqlcipher' is not installed"),
    ],
)
def test_a_url_the_ledger_cannot_use_is_a_value_error(url: str, words: str) -> None:
    with pytest.raises(ValueError, match=words) as caught:
        Ledger.open(url)
    assert "secret" not in str(caught.value)
