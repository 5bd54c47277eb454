"""The audit trail holds: tampering with the tables directly in SQL is caught and named.

Each test changes the stored rows with SQL statements of its own (UPDATE, DELETE, INSERT,
swapped versions, an altered checkpoint), as someone with write access to the database
would, then expects ``verify`` to name what was done, on a SQLite file and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy.exc
from sqlalchemy import delete, insert, select, update

from ledger import Ledger, NotSealedError, Status, StorageError, message_uuid
from ledger import rejections as rejection_store
from ledger.audit import ProblemKind, read_checkpoints, record_checkpoint, seal, verify
from ledger.audit.checkpoints import checkpoints_table
from ledger.audit.verify import Verification
from ledger.persistence.chain import GENESIS, link
from tests.integration.contract import webhook

MESSAGES = ("m-1", "m-2", "m-3")
#: Each message's events: Opened, SendRecorded, then three reports.
EVENTS_PER_MESSAGE = 5


def write_history(ledger: Ledger, message_ids: tuple[str, ...] = MESSAGES) -> None:
    for message_id in message_ids:
        ledger.record_sent(message_id, sender="+15550000", recipient="+15551111")
    for seconds, stage in enumerate((Status.SENT, Status.DELIVERED, Status.READ)):
        ledger.ingest_many([webhook(message_id, stage, seconds) for message_id in message_ids])


def execute(ledger: Ledger, *statements: Any) -> None:
    """Run SQL on the ledger's database, outside the ledger (as a person with write access would)."""
    with ledger.engine.begin() as connection:
        for statement in statements:
            connection.execute(statement)


def where(ledger: Ledger, message_id: str, version: int) -> Any:
    table = ledger.recorder.chain_table
    return (table.c.originator_id == message_uuid(message_id)) & (table.c.originator_version == version)


def problems(result: Verification) -> list[tuple[str, UUID | None, int | None]]:
    return [(str(p.kind), p.originator_id, p.version) for p in result.problems]


class AuditContract:
    """Subclasses provide ``url``: a SQLAlchemy URL of an empty database."""

    @pytest.fixture
    def url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def ledger(self, url: str) -> Iterator[Ledger]:
        with Ledger.open(url) as ledger:
            write_history(ledger)
            yield ledger

    def test_an_untouched_ledger_verifies_every_event(self, ledger: Ledger) -> None:
        result = verify(ledger.recorder)
        assert result.ok
        assert (result.events, result.messages, result.events_before_seal) == (15, 3, 0)

    def test_each_event_is_chained_over_its_stored_bytes_from_the_one_before(self, ledger: Ledger) -> None:
        table = ledger.recorder.chain_table
        query = select(table.c.originator_version, table.c.topic, table.c.state, table.c.chain_hash).where(
            table.c.originator_id == message_uuid("m-2")
        )
        with ledger.engine.connect() as connection:
            rows = sorted(connection.execute(query))
        previous = GENESIS
        for version, topic, state, stored in rows:
            previous = link(previous, message_uuid("m-2").bytes, version, topic, bytes(state))
            assert bytes(stored) == previous
        assert len(rows) == EVENTS_PER_MESSAGE

    def test_an_edited_event_is_named(self, ledger: Ledger) -> None:
        table = ledger.recorder.chain_table
        with ledger.engine.connect() as connection:
            state = bytes(connection.execute(select(table.c.state).where(where(ledger, "m-2", 3))).scalar_one())
        edited = state.replace(b'"sent"', b'"read"') if b'"sent"' in state else state + b" "
        execute(ledger, update(table).where(where(ledger, "m-2", 3)).values(state=edited))
        assert problems(verify(ledger.recorder)) == [("edited", message_uuid("m-2"), 3)]

    def test_a_deleted_event_is_named(self, ledger: Ledger) -> None:
        execute(ledger, delete(ledger.recorder.chain_table).where(where(ledger, "m-1", 2)))
        result = verify(ledger.recorder)
        assert problems(result) == [("deleted", message_uuid("m-1"), 3)]
        assert "version 2 missing" in str(result.problems[0])

    def test_an_inserted_event_is_named(self, ledger: Ledger) -> None:
        table = ledger.recorder.chain_table
        copied = select(table.c.originator_id, table.c.topic, table.c.state).where(where(ledger, "m-3", 4))
        with ledger.engine.connect() as connection:
            originator_id, topic, state = connection.execute(copied).one()
        execute(
            ledger,
            insert(table).values(originator_id=originator_id, originator_version=6, topic=topic, state=state),
        )
        assert problems(verify(ledger.recorder)) == [("inserted", message_uuid("m-3"), 6)]

    def test_swapped_versions_are_named_reordered(self, ledger: Ledger) -> None:
        table = ledger.recorder.chain_table
        execute(
            ledger,
            update(table).where(where(ledger, "m-1", 3)).values(originator_version=-3),
            update(table).where(where(ledger, "m-1", 4)).values(originator_version=3),
            update(table).where(where(ledger, "m-1", -3)).values(originator_version=4),
        )
        result = verify(ledger.recorder)
        assert problems(result) == [("reordered", message_uuid("m-1"), 3)]
        assert "chained as version 4" in str(result.problems[0])

    def test_only_the_first_problem_of_a_message_is_reported(self, ledger: Ledger) -> None:
        table = ledger.recorder.chain_table
        execute(
            ledger,
            update(table).where(where(ledger, "m-1", 2)).values(chain_hash=bytes(32)),
            delete(table).where(where(ledger, "m-1", 4)),
            update(table).where(where(ledger, "m-3", 5)).values(chain_hash=None),
        )
        assert sorted(problems(verify(ledger.recorder)), key=str) == sorted(
            [("edited", message_uuid("m-1"), 2), ("inserted", message_uuid("m-3"), 5)], key=str
        )

    def test_a_rewritten_chain_is_caught_by_the_checkpoint(self, ledger: Ledger) -> None:
        """Edit an event and recompute its message's chain: the chain holds, the checkpoint does not."""
        record_checkpoint(ledger.recorder)
        table = ledger.recorder.chain_table
        query = select(table.c.originator_version, table.c.topic, table.c.state).where(
            table.c.originator_id == message_uuid("m-2")
        )
        with ledger.engine.connect() as connection:
            rows = sorted(connection.execute(query))
        previous, statements = GENESIS, []
        for version, topic, stored_state in rows:
            state = bytes(stored_state) + (b" " if version == 3 else b"")
            previous = link(previous, message_uuid("m-2").bytes, version, topic, state)
            statements.append(
                update(table).where(where(ledger, "m-2", version)).values(state=state, chain_hash=previous)
            )
        execute(ledger, *statements)
        result = verify(ledger.recorder)
        assert [(str(p.kind), p.checkpoint) for p in result.problems] == [("checkpoint mismatch", 1)]

    def test_a_deleted_last_event_is_caught_by_the_checkpoint(self, ledger: Ledger) -> None:
        record_checkpoint(ledger.recorder)
        execute(ledger, delete(ledger.recorder.chain_table).where(where(ledger, "m-3", 5)))
        result = verify(ledger.recorder)
        assert [(str(p.kind), p.checkpoint) for p in result.problems] == [("checkpoint mismatch", 1)]

    def test_checkpoints_are_chained_and_an_edited_one_is_named(self, ledger: Ledger) -> None:
        first = record_checkpoint(ledger.recorder)
        write_history(ledger, ("m-4",))
        second = record_checkpoint(ledger.recorder)
        assert (second.sequence, second.previous, second.position) == (2, first.hash, 20)
        assert verify(ledger.recorder).ok
        execute(ledger, update(checkpoints_table).where(checkpoints_table.c.sequence == 1).values(root=bytes(32)))
        result = verify(ledger.recorder)
        assert [(p.kind, p.checkpoint) for p in result.problems] == [(ProblemKind.CHECKPOINT_EDITED, 1)]

    def test_a_deleted_checkpoint_is_named(self, ledger: Ledger) -> None:
        for _ in range(3):
            record_checkpoint(ledger.recorder)
        execute(ledger, delete(checkpoints_table).where(checkpoints_table.c.sequence == 2))
        result = verify(ledger.recorder)
        assert [(p.kind, p.checkpoint) for p in result.problems] == [(ProblemKind.CHECKPOINT_DELETED, 2)]
        with ledger.session(commit=False) as session:
            assert [c.sequence for c in read_checkpoints(session)] == [1, 3]

    def test_since_a_checkpoint_only_later_events_are_rechained_and_its_root_is_rechecked(self, ledger: Ledger) -> None:
        first = record_checkpoint(ledger.recorder)
        write_history(ledger, ("m-4",))
        ledger.ingest(webhook("m-1", Status.FAILED))  # a contradiction, recorded on m-1 after the checkpoint
        assert (verify(ledger.recorder, since=1).ok, verify(ledger.recorder, since=1).events) == (True, 6)
        table = ledger.recorder.chain_table
        # Before the checkpoint, an edit that keeps the stored hash is seen only by a full verify.
        execute(ledger, update(table).where(where(ledger, "m-2", 2)).values(state=b"{}"))
        assert verify(ledger.recorder, since=1).ok
        assert problems(verify(ledger.recorder)) == [("edited", message_uuid("m-2"), 2)]
        # After it, every event is checked; and a head at or before it is checked by its root.
        execute(ledger, update(table).where(where(ledger, "m-4", 3)).values(state=b"{}"))
        execute(ledger, update(table).where(where(ledger, "m-3", 5)).values(chain_hash=bytes(32)))
        result = verify(ledger.recorder, since=first.sequence)
        assert [(str(p.kind), p.originator_id or p.checkpoint) for p in result.problems] == [
            ("checkpoint mismatch", 1),
            ("edited", message_uuid("m-4")),
        ]
        with pytest.raises(ValueError, match="no checkpoint 7"):
            verify(ledger.recorder, since=7)

    def test_a_rolled_back_batch_leaves_no_chain_head_behind(
        self, url: str, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def failing_insert(*args: Any) -> None:
            raise sqlalchemy.exc.OperationalError("insert", {}, Exception("disk I/O error"))

        monkeypatch.setattr(rejection_store, "insert_rejections", failing_insert)
        with pytest.raises(StorageError):
            ledger.ingest(webhook("m-1", Status.FAILED, 10))  # version 6, hashed, then rolled back
        monkeypatch.undo()
        with Ledger.open(url) as theirs:
            theirs.ingest(webhook("m-1", Status.FAILED, 20))  # another version 6
        ledger.ingest(webhook("m-1", Status.FAILED, 30))  # version 7 follows theirs, not ours
        assert (ledger.message("m-1").version, verify(ledger.recorder).ok) == (7, True)

    def test_writers_taking_turns_on_one_message_keep_one_chain(self, url: str, ledger: Ledger) -> None:
        with Ledger.open(url) as theirs:
            for seconds in range(10, 16):
                writer = ledger if seconds % 2 else theirs
                writer.ingest(webhook("m-2", Status.FAILED, seconds))
        assert (ledger.message("m-2").version, verify(ledger.recorder).ok) == (11, True)

    def test_concurrent_writers_on_the_same_messages_leave_every_chain_whole(self, url: str, ledger: Ledger) -> None:
        ids = [f"c-{n}" for n in range(40)]

        def write(stage: Status, seconds: int) -> None:
            with Ledger.open(url) as writer:
                for start in range(0, len(ids), 8):
                    writer.ingest_many([webhook(i, stage, seconds) for i in ids[start : start + 8]])

        stages = [(Status.SENT, 1), (Status.DELIVERED, 2), (Status.READ, 3), (Status.FAILED, 4)]
        with ThreadPoolExecutor(max_workers=len(stages)) as pool:
            for future in [pool.submit(write, stage, seconds) for stage, seconds in stages]:
                future.result()
        result = verify(ledger.recorder)
        assert (result.ok, result.messages) == (True, 3 + len(ids))
        assert all(ledger.message(i).version >= 4 for i in ids)

    def test_a_new_ledger_is_sealed_from_the_start(self, ledger: Ledger) -> None:
        done = seal(ledger.recorder)
        assert (done.new, done.position, done.events_before) == (False, 0, 0)


class TestAuditOnSQLiteFile(AuditContract):
    @pytest.fixture
    def url(self, sqlite_database: str) -> str:
        return sqlite_database


@pytest.mark.postgres
class TestAuditOnPostgreSQL(AuditContract):
    @pytest.fixture
    def url(self, postgres_database: str) -> str:
        return postgres_database


def test_an_encrypted_ledger_is_verified_without_its_key(sqlite_database: str) -> None:
    key = "ZNvJbrDjcyIn4ZRhrsB9zKaq9PPX2RzNTTLfm5j8MC8="
    with Ledger.open(sqlite_database, cipher_key=key) as ledger:
        write_history(ledger)
    with Ledger.open(sqlite_database, create=False) as reader:
        assert verify(reader.recorder).ok


def test_a_checkpoint_needs_a_sealed_ledger(sqlite_database: str) -> None:
    with Ledger.open(sqlite_database) as ledger:
        write_history(ledger)
        execute(ledger, update(ledger.recorder.chain_table).values(chain_hash=None))
        with pytest.raises(NotSealedError):
            record_checkpoint(ledger.recorder)
