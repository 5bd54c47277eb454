"""Every value the public API returns has a ``to_dict()`` that ``json.dumps`` takes, field for field."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ledger import HistoryEntry, IngestOutcome, MessageView, Outcome, Rejection, Status
from ledger.reports import DeliveryError
from projections import (
    ActivityBucket,
    Failure,
    FailureGroup,
    FunnelRow,
    Latency,
    Progress,
    StatusPage,
    StatusRow,
)

T0 = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
ERROR = DeliveryError(
    code="ERROR_CODE_MESSAGE_CUSTOMER_OPTED_OUT",
    type="ERROR_TYPE_UNSPECIFIED",
    message="opted out",
    trace_id="99",
    details={"retry": False, "hops": [1, 2]},
)
STATUS_ROW = StatusRow(
    message_id="m-1",
    status=Status.FAILED,
    sender="+16044441111",
    recipient="+16044551234",
    channel="whatsapp",
    template="welcome",
    campaign="black-friday",
    accepted_at=T0,
    sent_at=T0 + timedelta(seconds=1),
    delivered_at=None,
    read_at=None,
    failed_at=T0 + timedelta(seconds=2),
    error_code=ERROR.code,
    error_type=ERROR.type,
    trace_id="99",
    conflicts=1,
    last_event_at=T0 + timedelta(seconds=3),
    version=4,
)

#: One representative value of each class, every optional field set (times, enums, errors, bytes).
VALUES: list[Any] = [
    IngestOutcome(Outcome.REJECTED, "m-1", Status.READ, reason="failed after read", malformed=False),
    IngestOutcome(Outcome.REJECTED, None, None, reason="not JSON", malformed=True),
    MessageView(
        message_id="m-1",
        status=Status.FAILED,
        sender=None,
        recipient="+16044551234",
        channel="whatsapp",
        template="welcome",
        campaign="black-friday",
        accepted_at=T0,
        sent_at=T0,
        delivered_at=None,
        read_at=None,
        failed_at=T0 + timedelta(seconds=2),
        error=ERROR,
        conflicts=1,
        version=4,
    ),
    HistoryEntry(4, "stage_reported", Status.FAILED, Outcome.APPLIED, T0, T0, None, ERROR, '{"a": 1}'),
    HistoryEntry(1, "opened", None, None, None, T0, None, None, None),
    Rejection(7, T0, "malformed", None, "not JSON", b"\xff{not json"),
    STATUS_ROW,
    StatusPage([STATUS_ROW], next_cursor="b64cursor"),
    Failure("m-1", "+16044551234", None, T0, True, "C", "T", "msg", "title", "text", "99", "after read"),
    FailureGroup("ERROR_CODE_MESSAGE_CUSTOMER_OPTED_OUT", 3, 0.75, 1, T0, T0, ("99", "100")),
    FunnelRow(
        key="black-friday",
        total=4,
        reached=2,
        counts={Status.DELIVERED: 1, Status.READ: 1, Status.FAILED: 2},
        delivery_rate=0.5,
        read_rate=0.25,
        failure_rate=0.5,
        sent_to_delivered=Latency(2, 1.0, 3.5, 3.5),
        delivered_to_read=Latency(0, None, None, None),
    ),
    Progress(processed=10, position=10, head=12),
    ActivityBucket(T0, {Status.SENT: 3, Status.FAILED: 1}, {"ERROR_CODE_MESSAGE_CUSTOMER_OPTED_OUT": 1}),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda value: type(value).__name__)
def test_to_dict_is_json_that_reads_back_equal_with_one_key_per_field(value: Any) -> None:
    data = value.to_dict()
    assert json.loads(json.dumps(data, allow_nan=False)) == data  # no tuple, datetime, enum or bytes left
    assert list(data) == [field.name for field in dataclasses.fields(value)]


def test_times_are_iso_8601_utc_strings_and_enums_their_values() -> None:
    data = STATUS_ROW.to_dict()
    assert (data["accepted_at"], data["delivered_at"], data["status"]) == ("2026-11-27T09:30:00+00:00", None, "failed")
    assert json.loads(json.dumps(VALUES[-3].to_dict()))["counts"] == {"delivered": 1, "read": 1, "failed": 2}


def test_a_rejections_raw_bytes_become_text_and_a_messages_error_a_dict() -> None:
    assert Rejection(7, T0, "malformed", None, "not JSON", b"\xff{").to_dict()["raw"] == "\ufffd{"
    error = VALUES[2].to_dict()["error"]
    assert (error["code"], error["details"]) == (ERROR.code, {"retry": False, "hops": [1, 2]})


def test_every_public_value_class_is_covered() -> None:
    import ledger.views
    import projections

    public = [getattr(projections, name) for name in projections.__all__]
    public += [getattr(ledger.views, name) for name in ("IngestOutcome", "MessageView", "HistoryEntry", "Rejection")]
    value_classes = {cls for cls in public if dataclasses.is_dataclass(cls)}
    assert value_classes - {Latency} <= {type(value) for value in VALUES}
