"""A stateful test: the Message aggregate against a tiny, independently written model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ledger import ContradictionError, Message, Outcome, Status
from ledger.reports import StatusReport

T0 = datetime(2022, 1, 6, 23, 0, tzinfo=UTC)
stages = st.sampled_from([Status.SENT, Status.DELIVERED, Status.READ, Status.FAILED])
moments = st.integers(min_value=0, max_value=5).map(lambda s: T0 + timedelta(seconds=s))


class MessageLifecycle(RuleBasedStateMachine):
    """The model knows only ranks and the two contradictions of DESIGN §3."""

    def __init__(self) -> None:
        super().__init__()
        self.message = Message.open("m", sender="+1", recipient="+2", channel="whatsapp", at=T0)
        self.events = list(self.message.collect_events())
        self.status = Status.ACCEPTED
        self.times: dict[Status, datetime] = {}
        self.conflicts: set[tuple[Status, datetime]] = set()
        self.sent_recorded = False

    def model_outcome(self, stage: Status) -> Outcome:
        success_after_failure = self.status is Status.FAILED and stage in (Status.DELIVERED, Status.READ)
        failure_after_success = self.status in (Status.DELIVERED, Status.READ) and stage is Status.FAILED
        if success_after_failure or failure_after_success:
            return Outcome.REJECTED
        if stage in self.times:
            return Outcome.DUPLICATE
        return Outcome.APPLIED if stage.rank > self.status.rank else Outcome.LATE

    @rule(stage=stages, moment=moments)
    def report(self, stage: Status, moment: datetime) -> None:
        expected = self.model_outcome(stage)
        report = StatusReport("m", stage, moment)
        try:
            outcome = self.message.report(report, at=T0)
        except ContradictionError:
            outcome = Outcome.REJECTED
            if self.message.reject(report, reason="contradiction", at=T0):
                self.conflicts.add((stage, moment))
        assert outcome is expected
        if outcome in (Outcome.APPLIED, Outcome.LATE):
            self.times[stage] = moment
        if outcome is Outcome.APPLIED:
            self.status = stage
        self.events.extend(self.message.collect_events())

    @rule()
    def record_send(self) -> None:
        outcome = self.message.record_send(
            sender="+1", recipient="+2", channel="whatsapp", template=None, campaign=None, accepted_at=T0, at=T0
        )
        assert outcome is (Outcome.DUPLICATE if self.sent_recorded else Outcome.APPLIED)
        self.sent_recorded = True
        self.events.extend(self.message.collect_events())

    @invariant()
    def agrees_with_the_model(self) -> None:
        assert self.message.status is self.status
        assert self.message.stage_times == self.times
        assert self.message.conflicts == self.conflicts
        assert self.message.version == len(self.events)

    @invariant()
    def replaying_the_events_rebuilds_the_same_message(self) -> None:
        replayed: Message | None = None
        for event in self.events:
            replayed = event.mutate(replayed)
        assert replayed is not None
        assert vars(replayed) | {"_pending_events": []} == vars(self.message) | {"_pending_events": []}


TestMessageLifecycle = MessageLifecycle.TestCase
