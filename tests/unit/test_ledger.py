"""The Ledger's use cases on the in-memory message store: no database involved."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ledger import (
    DeliveryError,
    IdentityMismatchError,
    Ledger,
    MessageNotFoundError,
    Outcome,
    Payload,
    Status,
    StorageBusyError,
    StorageUnavailableError,
    TransactionConflictError,
    VersionConflictError,
    retry,
)
from ledger.connectly import delivery_status_payload, parse_delivery_status
from ledger.memory import InMemoryMessageStore
from ledger.message import Message
from ledger.views import NewRejection

T0 = datetime(2022, 1, 6, 23, 0, tzinfo=UTC)
SENDER, RECIPIENT = "+16044441111", "+16044551234"
OPTED_OUT = DeliveryError(code="ERROR_CODE_MESSAGE_CUSTOMER_OPTED_OUT", type="ERROR_TYPE_UNSPECIFIED")


def webhook(message_id: str, stage: Status, seconds: int = 0, **fields: Any) -> dict[str, Any]:
    return delivery_status_payload(message_id, stage, timestamp=T0 + timedelta(seconds=seconds), **fields)


def ticking() -> Callable[[], datetime]:
    """A clock that moves a minute at each reading."""
    ticks = iter(T0 + timedelta(minutes=m) for m in range(1000))
    return lambda: next(ticks)


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    with Ledger.in_memory(clock=ticking()) as in_memory:
        yield in_memory


def failing_commits(store: InMemoryMessageStore, failures: list[Exception]) -> list[int]:
    """Make ``store``'s next commits raise ``failures`` in turn; the list counts every commit."""
    commits: list[int] = []
    commit = store.commit

    def failing_then_committing(messages: Sequence[Message], rejections: Sequence[NewRejection]) -> None:
        commits.append(len(messages))
        if failures:
            raise failures.pop(0)
        commit(messages, rejections)

    store.commit = failing_then_committing  # type: ignore[method-assign]
    return commits


def test_a_batch_has_one_outcome_per_report_in_order(ledger: Ledger) -> None:
    outcomes = ledger.ingest_many(
        [
            webhook("a", Status.DELIVERED, 2),
            webhook("a", Status.SENT, 1),
            webhook("a", Status.SENT, 1),
            webhook("a", Status.FAILED, 3, error=OPTED_OUT),
            webhook("b", Status.READ, 4),
        ]
    )
    assert [(o.kind, o.message_id, o.status) for o in outcomes] == [
        (Outcome.APPLIED, "a", Status.DELIVERED),
        (Outcome.LATE, "a", Status.DELIVERED),
        (Outcome.DUPLICATE, "a", Status.DELIVERED),
        (Outcome.REJECTED, "a", Status.DELIVERED),
        (Outcome.APPLIED, "b", Status.READ),
    ]
    assert outcomes[3].reason == "message 'a' is delivered; a failed report contradicts it"
    assert not any(o.malformed for o in outcomes)
    view = ledger.message("a")
    assert (view.status, view.sent_at, view.delivered_at, view.conflicts) == (
        Status.DELIVERED,
        T0 + timedelta(seconds=1),
        T0 + timedelta(seconds=2),
        1,
    )
    [contradiction] = ledger.rejections()
    assert (contradiction.kind, contradiction.message_id, contradiction.reason) == (
        "contradiction",
        "a",
        outcomes[3].reason,
    )


def test_a_malformed_body_is_rejected_and_kept_with_its_reason_and_bytes(ledger: Ledger) -> None:
    body = b'{"topic": "delivery_status", "statusUpdate": {"id": "m-7", "status": "lost"}}'
    outcome, junk = ledger.ingest_many([body, b"\xff\x00 not json"])
    assert (outcome.kind, outcome.message_id, outcome.status, outcome.malformed) == (
        Outcome.REJECTED,
        "m-7",
        None,
        True,
    )
    assert outcome.reason is not None
    assert outcome.reason.startswith("invalid payload: ")
    assert (junk.kind, junk.message_id, junk.malformed) == (Outcome.REJECTED, None, True)
    first, second = ledger.rejections()
    assert (first.kind, first.message_id, first.reason, first.raw) == ("malformed", "m-7", outcome.reason, body)
    assert (second.kind, second.raw, second.received_at) == ("malformed", b"\xff\x00 not json", T0)
    with pytest.raises(MessageNotFoundError):
        ledger.message("m-7")


def test_a_send_then_its_webhooks_tell_the_whole_story(ledger: Ledger) -> None:
    sent = ledger.record_sent("m-1", sender=SENDER, recipient=RECIPIENT, template="welcome", sent_at=T0)
    assert (sent.status, sent.accepted_at, sent.template, sent.version) == (Status.ACCEPTED, T0, "welcome", 2)
    assert ledger.record_sent("m-1", sender=SENDER, recipient=RECIPIENT, template="welcome", sent_at=T0) == sent
    ledger.ingest(webhook("m-1", Status.SENT, 10))
    ledger.ingest(webhook("m-1", Status.READ, 30))
    history = ledger.history("m-1")
    assert [(h.event, h.stage) for h in history] == [
        ("opened", None),
        ("send_recorded", Status.ACCEPTED),
        ("stage_reported", Status.SENT),
        ("stage_reported", Status.READ),
    ]
    assert [h.version for h in history] == [1, 2, 3, 4]
    assert ledger.message("m-1").status is Status.READ


def test_a_report_naming_another_recipient_is_rejected_and_a_send_naming_one_raises(ledger: Ledger) -> None:
    ledger.record_sent("m-1", sender=SENDER, recipient=RECIPIENT)
    outcome = ledger.ingest(webhook("m-1", Status.DELIVERED, recipient="+4400000"))
    assert (outcome.kind, outcome.status, outcome.malformed) == (Outcome.REJECTED, Status.ACCEPTED, False)
    assert outcome.reason is not None
    assert "recipient" in outcome.reason
    ledger.ingest(webhook("m-2", Status.SENT, sender="+15550000"))
    with pytest.raises(IdentityMismatchError) as raised:
        ledger.record_sent("m-2", sender=SENDER, recipient=RECIPIENT)
    assert (raised.value.field, raised.value.recorded, raised.value.reported) == ("sender", "+15550000", SENDER)
    assert [r.kind for r in ledger.rejections()] == ["contradiction"]
    assert ledger.message("m-2").accepted_at is None


def test_a_version_conflict_with_another_ledger_is_retried_on_the_reloaded_message() -> None:
    store = InMemoryMessageStore()
    ours, theirs = Ledger(store=store), Ledger(store=store)
    ours.ingest(webhook("m-1", Status.SENT, 1))
    load = store.load
    interleaved: list[str] = []

    def load_then_let_the_other_writer_win(message_ids: Iterable[str]) -> dict[str, Message]:
        loaded = load(message_ids)
        if not interleaved:
            interleaved.append("theirs")
            theirs.ingest(webhook("m-1", Status.DELIVERED, 2))
        return loaded

    store.load = load_then_let_the_other_writer_win  # type: ignore[method-assign]
    outcome = ours.ingest(webhook("m-1", Status.READ, 3))
    assert interleaved == ["theirs"]
    assert (outcome.kind, ours.conflicts_retried, theirs.conflicts_retried) == (Outcome.APPLIED, 1, 0)
    view = ours.message("m-1")
    assert (view.status, view.version) == (Status.READ, 4)
    assert [h.stage for h in ours.history("m-1")][1:] == [Status.SENT, Status.DELIVERED, Status.READ]


def test_a_batch_that_conflicts_on_one_message_stores_none_of_it() -> None:
    store = InMemoryMessageStore()
    ours, theirs = Ledger(store=store), Ledger(store=store)
    ours.ingest(webhook("a", Status.SENT))
    stale = store.load(["a"])["a"]
    theirs.ingest(webhook("a", Status.DELIVERED, 1))
    stale.report(parse_delivery_status(webhook("a", Status.READ, 2)), at=T0)
    new = Message.open("b", sender=None, recipient=None, channel=None, at=T0)
    refused = NewRejection(T0, "malformed", None, "invalid payload", b"junk")
    with pytest.raises(VersionConflictError):
        store.commit([new, stale], [refused])
    assert (store.events_of("b"), ours.rejections()) == ([], [])
    assert ours.message("a").status is Status.DELIVERED


def test_a_busy_database_is_retried_and_counted(ledger: Ledger) -> None:
    assert isinstance(ledger.store, InMemoryMessageStore)
    commits = failing_commits(ledger.store, [StorageBusyError("could not save: database is locked")])
    outcome = ledger.ingest(webhook("m-1", Status.SENT))
    assert (outcome.kind, ledger.locks_retried, ledger.conflicts_retried, len(commits)) == (Outcome.APPLIED, 1, 0, 2)
    assert ledger.message("m-1").version == 2


def test_a_database_busy_past_its_timeout_is_an_outage_not_retried(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(ledger.store, InMemoryMessageStore)
    monkeypatch.setattr(retry, "BUSY_IS_CONTENTION_WITHIN", -1.0)  # every refusal took "too long"
    failing_commits(ledger.store, [StorageBusyError("could not save: database is locked")])
    with pytest.raises(StorageBusyError):
        ledger.ingest(webhook("m-1", Status.SENT))
    assert ledger.locks_retried == 0
    with pytest.raises(MessageNotFoundError):
        ledger.message("m-1")


def test_a_transaction_postgresql_ended_is_retried_however_long_it_waited(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(ledger.store, InMemoryMessageStore)
    monkeypatch.setattr(retry, "BUSY_IS_CONTENTION_WITHIN", -1.0)  # every refusal took "too long"
    commits = failing_commits(ledger.store, [TransactionConflictError("could not save: deadlock detected")])
    assert ledger.ingest(webhook("m-1", Status.SENT)).kind is Outcome.APPLIED
    assert (ledger.locks_retried, len(commits)) == (1, 2)


def test_endless_transaction_conflicts_give_up_as_transaction_conflicts(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(ledger.store, InMemoryMessageStore)
    monkeypatch.setattr(retry, "MAX_CONFLICT_RETRIES", 3)
    failing_commits(ledger.store, [TransactionConflictError("could not save: deadlock detected") for _ in range(3)])
    with pytest.raises(TransactionConflictError, match="gave up after 3 conflicts"):
        ledger.ingest(webhook("m-1", Status.SENT))
    assert ledger.locks_retried == 3


def test_other_storage_failures_are_not_retried(ledger: Ledger) -> None:
    assert isinstance(ledger.store, InMemoryMessageStore)
    commits = failing_commits(ledger.store, [StorageUnavailableError("could not save: disk I/O error")])
    with pytest.raises(StorageUnavailableError, match="disk I/O error"):
        ledger.ingest_many([webhook("m-1", Status.SENT), b"junk"])
    assert (len(commits), ledger.conflicts_retried, ledger.locks_retried) == (1, 0, 0)
    assert ledger.rejections() == []


def test_endless_conflicts_give_up_with_a_version_conflict(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(ledger.store, InMemoryMessageStore)
    monkeypatch.setattr(retry, "MAX_CONFLICT_RETRIES", 3)
    commits = failing_commits(ledger.store, [VersionConflictError("could not save") for _ in range(3)])
    with pytest.raises(VersionConflictError, match="gave up after 3 conflicts"):
        ledger.record_sent("m-1", sender=SENDER, recipient=RECIPIENT)
    assert (len(commits), ledger.conflicts_retried) == (3, 3)


def test_a_dry_run_decides_every_outcome_and_stores_nothing(ledger: Ledger) -> None:
    ledger.ingest(webhook("m-1", Status.SENT, 1))
    trial: list[Payload] = [webhook("m-1", Status.DELIVERED, 2), b"junk", webhook("m-2", Status.READ, 3)]
    with ledger.dry_run():
        first = ledger.ingest_many(trial)
        assert [o.kind for o in ledger.ingest_many([webhook("m-1", Status.DELIVERED, 2)])] == [Outcome.DUPLICATE]
        assert ledger.message("m-1").status is Status.DELIVERED
        assert [r.raw for r in ledger.rejections()] == [b"junk"]
    assert [o.kind for o in first] == [Outcome.APPLIED, Outcome.REJECTED, Outcome.APPLIED]
    assert (ledger.message("m-1").status, ledger.message("m-1").version) == (Status.SENT, 2)
    assert ledger.rejections() == []
    with pytest.raises(MessageNotFoundError):
        ledger.history("m-2")
    assert [o.kind for o in ledger.ingest_many(trial)] == [o.kind for o in first]


def test_a_conflict_in_a_dry_run_is_raised_not_retried(ledger: Ledger) -> None:
    assert isinstance(ledger.store, InMemoryMessageStore)
    failing_commits(ledger.store, [VersionConflictError("could not save")])
    with pytest.raises(VersionConflictError, match="during the block \\(a dry run"), ledger.dry_run():
        ledger.ingest(webhook("m-1", Status.SENT))
    assert ledger.conflicts_retried == 0


def test_rejections_are_read_oldest_first_filtered_and_limited(ledger: Ledger) -> None:
    for n in range(4):
        ledger.ingest(f"bad {n}")
    ledger.ingest(webhook("m-1", Status.READ, 1))
    ledger.ingest(webhook("m-1", Status.FAILED, 2))
    assert [r.raw for r in ledger.rejections(since=T0 + timedelta(minutes=2))][:2] == [b"bad 2", b"bad 3"]
    assert [r.raw for r in ledger.rejections(limit=1)] == [b"bad 0"]
    assert [r.kind for r in ledger.rejections(message_id="m-1")] == ["contradiction"]
    assert [r.id for r in ledger.rejections()] == [1, 2, 3, 4, 5]


def test_unknown_messages_are_not_found(ledger: Ledger) -> None:
    with pytest.raises(MessageNotFoundError, match="nope"):
        ledger.message("nope")
    with pytest.raises(MessageNotFoundError):
        ledger.history("nope")


def test_an_in_memory_ledger_has_no_database_to_share(ledger: Ledger) -> None:
    for name in ("engine", "url", "recorder", "mapper", "events"):
        with pytest.raises(AttributeError, match=f"an in-memory ledger has no database, so no {name}"):
            getattr(ledger, name)
    with pytest.raises(AttributeError, match="no session"):
        ledger.session()


def test_a_ledger_takes_a_store_or_database_settings_not_both() -> None:
    with pytest.raises(ValueError, match="not both"):
        Ledger({"SQLALCHEMY_URL": "sqlite://"}, store=InMemoryMessageStore())


def test_a_send_names_no_sender_unless_given_and_reports_naming_one_still_apply() -> None:
    ledger = Ledger.in_memory()
    assert ledger.record_sent("m-1", recipient=RECIPIENT).sender is None
    payload = delivery_status_payload("m-1", Status.SENT, timestamp=T0, sender=SENDER, recipient=RECIPIENT)
    assert ledger.ingest(payload).kind is Outcome.APPLIED
    assert (ledger.message("m-1").sender, ledger.message("m-1").status) == (None, Status.SENT)
