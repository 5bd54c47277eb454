"""Encryption at rest: with LEDGER_CIPHER_KEY no phone number is stored in clear."""

from __future__ import annotations

import base64

import pytest
import sqlalchemy
from typer.testing import CliRunner

from ledger import Ledger, Status, UnreadableDataError
from ledger.cli import app
from ledger.connectly import delivery_status_payload
from projections import Projections

PHONE = "+16044551234"


def key() -> str:
    result = CliRunner().invoke(app, ["keygen"])
    assert result.exit_code == 0
    return result.stdout.strip()


def stored_bytes(url: str) -> bytes:
    """Everything in the event and rejection tables, as one blob."""
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as connection:
        states = connection.execute(sqlalchemy.text("SELECT state FROM ledger_events")).scalars().all()
        raws = connection.execute(sqlalchemy.text("SELECT raw FROM ledger_rejections")).scalars().all()
    engine.dispose()
    return b"".join(bytes(b) for b in [*states, *raws])


def fill(ledger: Ledger) -> None:
    ledger.record_sent("m-1", sender="+16044441111", recipient=PHONE)
    ledger.ingest(delivery_status_payload("m-1", Status.DELIVERED, timestamp=1641513098, recipient=PHONE))
    ledger.ingest(delivery_status_payload("m-1", Status.FAILED, timestamp=1641513099, recipient=PHONE))
    ledger.ingest(b'{"recipient": {"id": "+16044551234"}}')


def test_keygen_prints_a_fresh_aes_256_key() -> None:
    first, second = key(), key()
    assert len(base64.b64decode(first)) == 32
    assert first != second


def test_without_a_key_phone_numbers_are_stored_in_clear(sqlite_database: str) -> None:
    with Ledger.open(sqlite_database) as ledger:
        fill(ledger)
    assert PHONE.encode() in stored_bytes(sqlite_database)


def test_with_a_key_no_phone_number_is_stored_in_clear(sqlite_database: str) -> None:
    secret = key()
    with Ledger.open(sqlite_database, cipher_key=secret) as ledger:
        fill(ledger)
        assert ledger.message("m-1").recipient == PHONE
        assert [r.kind for r in ledger.rejections()] == ["contradiction", "malformed"]
        assert PHONE.encode() in ledger.rejections()[1].raw
        views = Projections(ledger)
        views.catch_up()
        assert views.current_status.get("m-1") is not None
    blob = stored_bytes(sqlite_database)
    assert PHONE.encode() not in blob
    assert b"6044551234" not in blob


def test_the_key_also_comes_from_the_environment(sqlite_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_CIPHER_KEY", key())
    with Ledger.open(sqlite_database) as ledger:
        fill(ledger)
        assert ledger.message("m-1").status is Status.DELIVERED
    assert PHONE.encode() not in stored_bytes(sqlite_database)


@pytest.mark.parametrize("reader_key", ["wrong", "none"])
def test_the_wrong_key_or_none_fails_with_a_clear_error(sqlite_database: str, reader_key: str) -> None:
    with Ledger.open(sqlite_database, cipher_key=key()) as ledger:
        fill(ledger)
    with Ledger.open(sqlite_database, cipher_key=key() if reader_key == "wrong" else None) as ledger:
        with pytest.raises(UnreadableDataError, match="LEDGER_CIPHER_KEY"):
            ledger.message("m-1")
        with pytest.raises(UnreadableDataError, match="LEDGER_CIPHER_KEY"):
            ledger.history("m-1")
        with pytest.raises(UnreadableDataError, match="LEDGER_CIPHER_KEY"):
            ledger.rejections()
        with pytest.raises(UnreadableDataError, match="LEDGER_CIPHER_KEY"):
            Projections(ledger).catch_up()


def test_a_malformed_key_is_refused_at_open(sqlite_database: str) -> None:
    with pytest.raises(ValueError, match="ledger keygen"):
        Ledger.open(sqlite_database, cipher_key="not-a-key")
