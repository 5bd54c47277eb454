"""Time travel on every backend: ``message(as_of=T)`` and ``history(until=T)`` read the stored
events' received times, as another ledger (another process) opening the database finds them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from ledger import Ledger, MessageNotFoundError, Status
from tests.integration.contract import RECIPIENT, SENDER, webhook

#: When each call reached the ledger: an hour apart.
R1, R2, R3 = (datetime(2022, 1, 7, hour, tzinfo=UTC) for hour in (1, 2, 3))
SECOND = timedelta(seconds=1)
KEY = "ZNvJbrDjcyIn4ZRhrsB9zKaq9PPX2RzNTTLfm5j8MC8="


def write(url: str, *, cipher_key: str | None = None) -> None:
    """m-1 recorded as sent at R1, reported delivered at R2 and read at R3."""
    received = iter((R1, R2, R3))
    with Ledger.open(url, clock=lambda: next(received), cipher_key=cipher_key) as ledger:
        ledger.record_sent("m-1", sender=SENDER, recipient=RECIPIENT, campaign="fall")
        ledger.ingest(webhook("m-1", Status.DELIVERED, 10, recipient=RECIPIENT))
        ledger.ingest(webhook("m-1", Status.READ, 20, recipient=RECIPIENT))


class TimeTravelContract:
    """Subclasses provide ``url``: a SQLAlchemy URL (a string) of an empty database."""

    @pytest.fixture
    def url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def ledger(self, url: str) -> Iterator[Ledger]:
        write(url)
        with Ledger.open(url, create=False) as reader:
            yield reader

    def test_a_message_as_of_a_moment_is_what_was_stored_by_then(self, ledger: Ledger) -> None:
        assert ledger.message("m-1", as_of=R2 - SECOND).status is Status.ACCEPTED
        delivered = ledger.message("m-1", as_of=R2)
        assert (delivered.status, delivered.read_at, delivered.version) == (Status.DELIVERED, None, 3)
        assert ledger.message("m-1", as_of=R3) == ledger.message("m-1")

    def test_a_history_until_a_moment_keeps_the_entries_received_by_then(self, ledger: Ledger) -> None:
        entries = ledger.history("m-1", until=R2 + SECOND)
        assert [(entry.event, entry.received_at) for entry in entries] == [
            ("opened", R1),
            ("send_recorded", R1),
            ("stage_reported", R2),
        ]

    def test_before_its_first_event_a_message_is_not_found(self, ledger: Ledger) -> None:
        with pytest.raises(MessageNotFoundError):
            ledger.message("m-1", as_of=R1 - SECOND)
        with pytest.raises(MessageNotFoundError):
            ledger.history("m-1", until=R1 - SECOND)

    def test_a_message_at_a_log_position_is_made_of_its_events_up_to_there(self, url: str) -> None:
        with Ledger.open(url) as ledger:
            ledger.record_sent("m-1", sender=SENDER, recipient=RECIPIENT)
            sent = ledger.recorder.max_notification_id() or 0
            ledger.ingest(webhook("m-2", Status.SENT, 5, recipient=RECIPIENT))
            other = ledger.recorder.max_notification_id() or 0
            ledger.ingest(webhook("m-1", Status.DELIVERED, 10, recipient=RECIPIENT))
        with Ledger.open(url, create=False) as reader:
            assert reader.message("m-1", at_position=other).status is Status.ACCEPTED
            assert reader.message("m-1", at_position=other).version == 2
            assert reader.message("m-1", at_position=other + 1) == reader.message("m-1")
            assert [entry.event for entry in reader.history("m-2", at_position=other)] == ["opened", "stage_reported"]
            with pytest.raises(MessageNotFoundError, match=f"at log position {sent}"):
                reader.history("m-2", at_position=sent)

    def test_an_encrypted_ledger_travels_in_time_with_its_key(self, url: str) -> None:
        write(url, cipher_key=KEY)
        with Ledger.open(url, create=False, cipher_key=KEY) as reader:
            assert reader.message("m-1", as_of=R2).status is Status.DELIVERED
            assert len(reader.history("m-1", until=R2)) == 3


class TestSQLite(TimeTravelContract):
    @pytest.fixture
    def url(self, sqlite_database: str) -> str:
        return sqlite_database


@pytest.mark.postgres
class TestPostgres(TimeTravelContract):
    @pytest.fixture
    def url(self, postgres_database: str) -> str:
        return postgres_database
