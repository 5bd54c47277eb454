"""The transition table, cell by cell, through decide() and through the aggregate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger import (
    FAILURE_AFTER_DELIVERY,
    STRICT,
    InvalidTransitionError,
    Message,
    MessageState,
    Outcome,
    Status,
    decide,
)
from ledger.reports import StatusReport
from ledger.status import STAGES, make_table, render_table, status_of

A, L, D, R = Outcome.APPLIED, Outcome.LATE, Outcome.DUPLICATE, Outcome.REJECTED
S, DL, RD, F = Status.SENT, Status.DELIVERED, Status.READ, Status.FAILED

# DESIGN §3, copied by hand so the test fails if the table in the code drifts.
DESIGN_TABLE = {
    None: {S: A, DL: A, RD: A, F: A},
    Status.ACCEPTED: {S: A, DL: A, RD: A, F: A},
    S: {S: D, DL: A, RD: A, F: A},
    DL: {S: L, DL: D, RD: A, F: R},
    RD: {S: L, DL: L, RD: D, F: R},
    F: {S: L, DL: R, RD: R, F: D},
}
CELLS = [(current, stage, outcome) for current, row in DESIGN_TABLE.items() for stage, outcome in row.items()]
T0 = datetime(2022, 1, 6, 23, 0, tzinfo=UTC)


def reached(status: Status | None) -> MessageState | None:
    """The state a message is in after reaching ``status`` the direct way."""
    if status is None:
        return None
    return MessageState(status, frozenset() if status is Status.ACCEPTED else {status})


@pytest.mark.parametrize(("current", "stage", "expected"), CELLS)
def test_decide_answers_every_cell_of_the_design_table(
    current: Status | None, stage: Status, expected: Outcome
) -> None:
    assert decide(reached(current), stage) is expected


@pytest.mark.parametrize(("current", "stage"), [(c, s) for c, s, o in CELLS if o is L])
def test_a_late_stage_already_reported_is_a_duplicate(current: Status, stage: Status) -> None:
    assert decide(MessageState(current, {current, stage}), stage) is D


def test_the_strict_table_is_the_design_table() -> None:
    assert {c: dict(row) for c, row in STRICT.items()} == DESIGN_TABLE


def test_accepted_is_not_a_reportable_stage() -> None:
    with pytest.raises(ValueError, match="accepted"):
        decide(None, Status.ACCEPTED)


def test_make_table_refuses_a_table_with_a_missing_row() -> None:
    with pytest.raises(ValueError, match="missing"):
        make_table({None: (A, A, A, A)})


def test_failure_after_delivery_policy_applies_failed_after_delivered() -> None:
    assert decide(reached(DL), F, FAILURE_AFTER_DELIVERY) is A
    assert decide(reached(F), RD, FAILURE_AFTER_DELIVERY) is R


def test_render_table_prints_every_row_and_column() -> None:
    text = render_table()
    assert text.splitlines()[0].split() == ["current", "\\", "report", *(str(s) for s in STAGES)]
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines()[1:]}
    assert rows["delivered"] == ["late", "duplicate", "applied", "rejected"]
    assert len(text.splitlines()) == 7


def test_ranks_order_the_happy_path() -> None:
    assert [s.rank for s in (Status.ACCEPTED, S, DL, RD)] == [0, 1, 2, 3]
    assert F.is_terminal
    assert RD.is_terminal
    assert not DL.is_terminal


def message_in(status: Status | None) -> Message:
    """A message that reached ``status`` through reports (``None``: opened by a webhook)."""
    message = Message.open("m-1", sender="+1", recipient="+2", channel="whatsapp", at=T0)
    if status is None:
        return message
    message.record_send(
        sender="+1", recipient="+2", channel="whatsapp", template=None, campaign=None, accepted_at=T0, at=T0
    )
    if status is not Status.ACCEPTED:
        message.report(StatusReport("m-1", status, T0 + timedelta(seconds=5)), at=T0)
    return message


@pytest.mark.parametrize(("current", "stage", "expected"), CELLS)
def test_the_aggregate_follows_every_cell(current: Status | None, stage: Status, expected: Outcome) -> None:
    message = message_in(current)
    before_status, before_times, before_version = message.status, dict(message.stage_times), message.version
    report = StatusReport("m-1", stage, T0 + timedelta(seconds=60))

    if expected is R:
        with pytest.raises(InvalidTransitionError) as caught:
            message.report(report, at=T0)
        assert (caught.value.status, caught.value.stage) == (current, stage)
        assert (message.status, message.stage_times, message.version) == (before_status, before_times, before_version)
        return

    assert message.report(report, at=T0) is expected
    if expected is A:
        assert message.status is stage
        assert message.stage_times[stage] == report.occurred_at
        assert message.version == before_version + 1
    elif expected is L:
        assert message.status is before_status
        assert message.stage_times[stage] == report.occurred_at
        assert message.version == before_version + 1
    else:
        assert (message.status, message.stage_times, message.version) == (
            before_status,
            before_times,
            before_version,
        )


def test_status_of_is_the_enums_lookup() -> None:
    for status in Status:
        assert status_of(status.value) is Status(status.value) is status
    with pytest.raises(ValueError, match="'opened' is not a valid Status"):
        status_of("opened")
