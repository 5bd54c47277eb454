"""The Ledger's contract, written once and run against every backend (see test_backends.py)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy

from ledger import (
    FAILURE_AFTER_DELIVERY,
    DeliveryError,
    IdentityMismatchError,
    InvalidPayloadError,
    Ledger,
    LedgerNotFoundError,
    Message,
    MessageNotFoundError,
    Outcome,
    Payload,
    Status,
    StorageError,
)
from ledger import rejections as rejection_store
from ledger.connectly import delivery_status_payload
from ledger.sqlstore import SQLMessageStore
from projections import Projections

T0 = datetime(2022, 1, 6, 23, 0, tzinfo=UTC)
SENDER, RECIPIENT = "+16044441111", "+16044551234"
OPTED_OUT = DeliveryError(
    code="ERROR_CODE_MESSAGE_CUSTOMER_OPTED_OUT", type="ERROR_TYPE_UNSPECIFIED", message="opted out", trace_id="99"
)


def webhook(message_id: str, stage: Status, seconds: int = 0, **fields: Any) -> dict[str, Any]:
    return delivery_status_payload(message_id, stage, timestamp=T0 + timedelta(seconds=seconds), **fields)


class LedgerContract:
    """Subclasses provide ``url``: a SQLAlchemy URL of an empty database."""

    @pytest.fixture
    def url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def ledger(self, url: str) -> Iterator[Ledger]:
        with Ledger.open(url) as ledger:
            yield ledger

    def test_record_sent_starts_a_message_accepted(self, ledger: Ledger) -> None:
        view = ledger.record_sent("m-1", sender=SENDER, recipient=RECIPIENT, campaign="spring", sent_at=T0)
        assert (view.status, view.accepted_at, view.campaign, view.version) == (Status.ACCEPTED, T0, "spring", 2)
        assert ledger.message("m-1") == view

    def test_recording_the_same_send_twice_changes_nothing(self, ledger: Ledger) -> None:
        first = ledger.record_sent("m-1", sender=SENDER, recipient=RECIPIENT, sent_at=T0)
        assert ledger.record_sent("m-1", sender=SENDER, recipient=RECIPIENT, sent_at=T0) == first

    def test_a_report_moves_the_status_and_a_retry_is_a_duplicate(self, ledger: Ledger) -> None:
        ledger.record_sent("m-1", sender=SENDER, recipient=RECIPIENT)
        outcome = ledger.ingest(webhook("m-1", Status.DELIVERED, 10))
        assert (outcome.kind, outcome.message_id, outcome.status) == (Outcome.APPLIED, "m-1", Status.DELIVERED)
        assert ledger.ingest(webhook("m-1", Status.DELIVERED, 10)).kind is Outcome.DUPLICATE
        view = ledger.message("m-1")
        assert (view.status, view.delivered_at, view.version) == (Status.DELIVERED, T0 + timedelta(seconds=10), 3)

    def test_read_before_delivered_converges(self, ledger: Ledger) -> None:
        kinds = [ledger.ingest(webhook("m-1", s, t)).kind for s, t in [(Status.READ, 30), (Status.DELIVERED, 20)]]
        assert kinds == [Outcome.APPLIED, Outcome.LATE]
        view = ledger.message("m-1")
        assert view.status is Status.READ
        assert (view.sent_at, view.delivered_at, view.read_at) == (
            None,
            T0 + timedelta(seconds=20),
            T0 + timedelta(seconds=30),
        )

    def test_a_webhook_for_an_unknown_id_opens_the_message_and_the_send_fills_it_in(self, ledger: Ledger) -> None:
        ledger.ingest(webhook("m-1", Status.SENT, campaign="winter"))
        view = ledger.record_sent("m-1", sender=SENDER, recipient=RECIPIENT, template="promo", sent_at=T0)
        assert (view.status, view.template, view.campaign, view.accepted_at) == (Status.SENT, "promo", "winter", T0)

    def test_the_send_cannot_contradict_the_webhook(self, ledger: Ledger) -> None:
        ledger.ingest(webhook("m-1", Status.SENT))
        with pytest.raises(IdentityMismatchError, match="recipient"):
            ledger.record_sent("m-1", sender=SENDER, recipient="+0000")

    def test_a_failure_keeps_the_error_object(self, ledger: Ledger) -> None:
        ledger.ingest(webhook("m-1", Status.FAILED, error=OPTED_OUT))
        view = ledger.message("m-1")
        assert (view.status, view.error) == (Status.FAILED, OPTED_OUT)

    def test_a_contradiction_is_rejected_kept_in_history_and_in_the_rejection_store(self, ledger: Ledger) -> None:
        ledger.ingest(webhook("m-1", Status.READ, 30))
        outcome = ledger.ingest(webhook("m-1", Status.FAILED, 40, error=OPTED_OUT))
        assert (outcome.kind, outcome.status, outcome.malformed) == (Outcome.REJECTED, Status.READ, False)
        assert outcome.reason is not None
        assert "is read; a failed report contradicts it" in outcome.reason
        assert ledger.message("m-1").status is Status.READ
        entry = ledger.history("m-1")[-1]
        assert (entry.event, entry.outcome, entry.stage, entry.error) == (
            "report_rejected",
            Outcome.REJECTED,
            Status.FAILED,
            OPTED_OUT,
        )
        [stored] = ledger.rejections()
        assert (stored.kind, stored.message_id, stored.reason) == ("contradiction", "m-1", outcome.reason)
        assert json.loads(stored.raw)["statusUpdate"]["status"] == "delivery_failed"

    def test_a_report_for_another_recipient_is_rejected(self, ledger: Ledger) -> None:
        ledger.record_sent("m-1", sender=SENDER, recipient=RECIPIENT)
        outcome = ledger.ingest(webhook("m-1", Status.DELIVERED, recipient="+4400000"))
        assert outcome.kind is Outcome.REJECTED
        assert outcome.reason is not None
        assert "recipient" in outcome.reason
        assert ledger.message("m-1").status is Status.ACCEPTED
        assert [r.kind for r in ledger.rejections()] == ["contradiction"]

    def test_malformed_input_is_rejected_and_kept_byte_for_byte(self, ledger: Ledger) -> None:
        body = b'{"topic": "delivery_status", "statusUpdate": {"id": "m-7", "status": "lost"}}'
        for payload in (body, b"\xff\x00 not json", "[]", {"topic": "delivery_status"}):
            outcome = ledger.ingest(payload)
            assert (outcome.kind, outcome.malformed) == (Outcome.REJECTED, True)
            assert outcome.reason is not None
            assert outcome.reason.startswith("invalid payload: ")
            assert outcome.to_dict()["malformed"] is True
        stored = ledger.rejections()
        assert [r.kind for r in stored] == ["malformed"] * 4
        assert stored[0].raw == body
        assert stored[0].message_id == "m-7"
        assert stored[1].raw == b"\xff\x00 not json"
        assert "timestamp" in stored[0].reason

    def test_text_no_database_can_store_is_rejected_and_kept(self, ledger: Ledger) -> None:
        body = json.dumps(webhook("m\u0000x", Status.SENT)).encode()
        surrogate = json.dumps(webhook("m\ud800x", Status.SENT)).encode()
        for payload in (body, surrogate, {"statusUpdate": {"id": "m\ud800"}}):
            assert ledger.ingest(payload).kind is Outcome.REJECTED
        stored = ledger.rejections()
        assert [r.raw for r in stored[:2]] == [body, surrogate]
        assert [r.message_id for r in stored] == [None, None, None]
        with pytest.raises(InvalidPayloadError, match="NUL"):
            ledger.record_sent("m\u0000", sender=None, recipient=RECIPIENT)

    def test_history_is_the_audit_trail_oldest_first(self, url: str) -> None:
        received = iter(T0 + timedelta(minutes=m) for m in range(100))
        with Ledger.open(url, clock=lambda: next(received)) as ledger:
            ledger.record_sent("m-1", sender=SENDER, recipient=RECIPIENT, sent_at=T0)
            ledger.ingest(webhook("m-1", Status.DELIVERED, 20))
            ledger.ingest(webhook("m-1", Status.SENT, 10))
            ledger.ingest(webhook("m-1", Status.SENT, 10))
            history = ledger.history("m-1")
        assert [(h.event, h.stage, h.outcome) for h in history] == [
            ("opened", None, None),
            ("send_recorded", Status.ACCEPTED, Outcome.APPLIED),
            ("stage_reported", Status.DELIVERED, Outcome.APPLIED),
            ("stage_reported_late", Status.SENT, Outcome.LATE),
        ]
        assert [h.received_at for h in history] == [T0, T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]
        assert history[2].occurred_at == T0 + timedelta(seconds=20)
        assert history[2].raw is not None
        assert json.loads(history[2].raw)["statusUpdate"]["status"] == "delivered"

    def test_a_batch_is_received_at_one_moment(self, url: str) -> None:
        ticks = iter(T0 + timedelta(minutes=m) for m in range(100))
        with Ledger.open(url, clock=lambda: next(ticks)) as ledger:
            ledger.ingest_many([webhook("m-1", Status.SENT, 10), webhook("m-1", Status.DELIVERED, 20), b"junk"])
            ledger.ingest(webhook("m-1", Status.READ, 30))
            assert [h.received_at for h in ledger.history("m-1")] == [T0, T0, T0, T0 + timedelta(minutes=1)]
            assert [r.received_at for r in ledger.rejections()] == [T0]

    def test_unknown_ids_are_not_found(self, ledger: Ledger) -> None:
        with pytest.raises(MessageNotFoundError, match="nope"):
            ledger.message("nope")
        with pytest.raises(MessageNotFoundError):
            ledger.history("nope")

    def test_ingest_many_applies_in_order_with_one_save(self, ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
        saves: list[int] = []
        original = SQLMessageStore.save

        def counting_save(self: SQLMessageStore, *objs: Any, **kwargs: Any) -> Any:
            saves.append(len(objs))
            return original(self, *objs, **kwargs)

        monkeypatch.setattr(SQLMessageStore, "save", counting_save)
        outcomes = ledger.ingest_many(
            [
                webhook("a", Status.SENT, 1),
                webhook("b", Status.DELIVERED, 2),
                b"garbage",
                webhook("a", Status.DELIVERED, 3),
                webhook("a", Status.DELIVERED, 3),
                webhook("b", Status.FAILED, 4),
            ]
        )
        assert [o.kind for o in outcomes] == [
            Outcome.APPLIED,
            Outcome.APPLIED,
            Outcome.REJECTED,
            Outcome.APPLIED,
            Outcome.DUPLICATE,
            Outcome.REJECTED,
        ]
        assert saves == [2]
        assert (ledger.message("a").status, ledger.message("b").status) == (Status.DELIVERED, Status.DELIVERED)
        assert [r.kind for r in ledger.rejections()] == ["malformed", "contradiction"]

    def test_a_batch_is_all_or_nothing_on_infrastructure_failure(
        self, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        ledger.ingest(webhook("a", Status.SENT, 1))

        def failing_insert(*args: Any) -> None:
            raise sqlalchemy.exc.OperationalError("insert", {}, Exception("disk I/O error"))

        monkeypatch.setattr(rejection_store, "insert_rejections", failing_insert)
        with pytest.raises(StorageError, match="disk I/O error"):
            ledger.ingest_many([webhook("a", Status.DELIVERED, 2), webhook("b", Status.SENT, 3), b"bad"])
        monkeypatch.undo()
        assert ledger.message("a").version == 2
        with pytest.raises(MessageNotFoundError):
            ledger.message("b")
        assert ledger.rejections() == []

    def test_a_version_conflict_with_another_writer_is_retried(self, url: str) -> None:
        with Ledger.open(url) as ours, Ledger.open(url) as theirs:
            ours.ingest(webhook("m-1", Status.SENT, 1))
            original_load = ours.store.load
            interleaved: list[str] = []

            def load_then_let_the_other_writer_win(message_ids: Iterable[str]) -> dict[str, Message]:
                loaded = original_load(message_ids)
                if not interleaved:
                    interleaved.append("theirs")
                    theirs.ingest(webhook("m-1", Status.DELIVERED, 2))
                return loaded

            ours.store.load = load_then_let_the_other_writer_win  # type: ignore[method-assign]
            outcome = ours.ingest(webhook("m-1", Status.READ, 3))
            assert interleaved == ["theirs"]
            assert outcome.kind is Outcome.APPLIED
            view = ours.message("m-1")
            assert (view.status, view.version) == (Status.READ, 4)
            assert [h.stage for h in ours.history("m-1")][1:] == [Status.SENT, Status.DELIVERED, Status.READ]

    def test_everything_survives_a_reopen(self, url: str) -> None:
        with Ledger.open(url) as ledger:
            ledger.record_sent("m-1", sender=SENDER, recipient=RECIPIENT)
            ledger.ingest(webhook("m-1", Status.READ))
            ledger.ingest(b"junk")
        with Ledger.open(url) as reopened:
            assert reopened.message("m-1").status is Status.READ
            assert len(reopened.rejections()) == 1

    def test_rejections_can_be_filtered_by_time_and_limited(self, url: str) -> None:
        received = iter(T0 + timedelta(hours=h) for h in range(10))
        with Ledger.open(url, clock=lambda: next(received)) as ledger:
            for n in range(4):
                ledger.ingest(f"bad {n}")
            assert [r.raw for r in ledger.rejections(since=T0 + timedelta(hours=2))] == [b"bad 2", b"bad 3"]
            assert [r.raw for r in ledger.rejections(limit=1)] == [b"bad 0"]
            assert ledger.rejections()[0].received_at == T0

    def test_a_custom_transition_policy_is_honoured(self, url: str) -> None:
        with Ledger.open(url, transitions=FAILURE_AFTER_DELIVERY) as ledger:
            ledger.ingest(webhook("m-1", Status.DELIVERED, 1))
            assert ledger.ingest(webhook("m-1", Status.FAILED, 2)).kind is Outcome.APPLIED
            assert ledger.message("m-1").status is Status.FAILED

    def test_a_dry_run_decides_every_outcome_and_stores_nothing(self, ledger: Ledger, url: str) -> None:
        ledger.ingest(webhook("m-1", Status.SENT, 1))  # m-1 is now in the ledger's cache
        trial: list[Payload] = [webhook("m-1", Status.DELIVERED, 2), b"junk", webhook("m-2", Status.READ, 3)]
        with ledger.dry_run():
            first = ledger.ingest_many(trial)
            # Later calls in the block see the earlier ones, as a real run's batches would.
            second = ledger.ingest_many([webhook("m-1", Status.DELIVERED, 2)])
            assert ledger.message("m-1").status is Status.DELIVERED
            assert [r.raw for r in ledger.rejections()] == [b"junk"]
        assert [o.kind for o in first] == [Outcome.APPLIED, Outcome.REJECTED, Outcome.APPLIED]
        assert [o.kind for o in second] == [Outcome.DUPLICATE]
        view = ledger.message("m-1")
        assert (view.status, view.version) == (Status.SENT, 2)
        assert len(ledger.history("m-1")) == 2
        assert ledger.rejections() == []
        with pytest.raises(MessageNotFoundError):
            ledger.message("m-2")
        with Ledger.open(url) as other:
            assert other.message("m-1").status is Status.SENT
        # Done for real, the same reports have the outcomes the dry run foretold.
        assert [o.kind for o in ledger.ingest_many(trial)] == [o.kind for o in first]
        assert ledger.message("m-1").status is Status.DELIVERED

    def test_a_dry_run_that_fails_is_rolled_back_too(self, ledger: Ledger) -> None:
        def record_then_fail() -> None:
            with ledger.dry_run():
                ledger.record_sent("m-1", sender=SENDER, recipient=RECIPIENT)
                raise KeyError("stop")

        with pytest.raises(KeyError):
            record_then_fail()
        with pytest.raises(MessageNotFoundError):
            ledger.message("m-1")
        assert ledger.record_sent("m-1", sender=SENDER, recipient=RECIPIENT).version == 2

    def test_a_dry_run_cannot_be_nested_in_a_transaction(self, ledger: Ledger) -> None:
        with ledger.session(), pytest.raises(RuntimeError, match="inside another transaction"), ledger.dry_run():
            pass
        with ledger.session(commit=False), pytest.raises(RuntimeError), ledger.dry_run():
            pass

    def test_opening_without_create_needs_a_ledger_and_creates_none(self, url: str) -> None:
        with pytest.raises(LedgerNotFoundError, match="no ledger at") as caught:
            Ledger.open(url, create=False)
        assert caught.value.url == url
        with pytest.raises(LedgerNotFoundError):
            Projections.open(url, create=False)
        with pytest.raises(LedgerNotFoundError):  # still nothing there
            Ledger.open(url, create=False)
        with Ledger.open(url) as ledger:
            ledger.ingest(webhook("m-1", Status.SENT))
        with Ledger.open(url, create=False) as ledger:
            assert ledger.message("m-1").status is Status.SENT
        with Projections.open(url, create=False) as views:
            assert views.catch_up() == 2
