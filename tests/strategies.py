"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from hypothesis import strategies as st

from ledger import DeliveryError, Status
from ledger.connectly import delivery_status_payload

T0 = datetime(2022, 1, 6, 23, 0, tzinfo=UTC)
SUCCESS_PATH = (Status.SENT, Status.DELIVERED, Status.READ)
FAILURE_PATH = (Status.SENT, Status.FAILED)

Report = tuple[Status, datetime]

error_codes = st.sampled_from(
    [
        "ERROR_CODE_MESSAGE_TEMPLATE_INPUT_INVALID",
        "ERROR_CODE_MESSAGE_CUSTOMER_OPTED_OUT",
        "ERROR_CODE_UNSPECIFIED",
    ]
)
delivery_errors = st.builds(
    DeliveryError,
    code=error_codes,
    type=st.sampled_from(["ERROR_TYPE_INVALID_REQUEST", "ERROR_TYPE_UNSPECIFIED"]),
    trace_id=st.integers(min_value=0, max_value=2**64).map(str),
)


@st.composite
def consistent_histories(draw: st.DrawFn) -> list[Report]:
    """The distinct stages one message really went through, each with its provider time.

    Either a non-empty part of sent → delivered → read, or of sent → failed; times
    never go backwards along the path, and ties (whole seconds) are common.
    """
    path = draw(st.sampled_from([SUCCESS_PATH, FAILURE_PATH]))
    stages = draw(st.lists(st.sampled_from(path), min_size=1, max_size=len(path), unique=True))
    stages.sort(key=lambda s: s.rank)
    moment, history = T0, []
    for stage in stages:
        moment += timedelta(seconds=draw(st.integers(min_value=0, max_value=3600)))
        history.append((stage, moment))
    return history


@st.composite
def arrivals(draw: st.DrawFn, history: list[Report]) -> list[Report]:
    """``history`` as a provider delivers it: every report at least once, retried, in any order."""
    retries = draw(st.lists(st.sampled_from(history), max_size=2 * len(history)))
    return draw(st.permutations(history + retries))


@st.composite
def report_streams(draw: st.DrawFn, max_messages: int = 4) -> list[dict[str, Any]]:
    """Payloads for a few messages, shuffled, with retries and occasional contradictions."""
    payloads: list[dict[str, Any]] = []
    for n in range(draw(st.integers(min_value=1, max_value=max_messages))):
        history = draw(consistent_histories())
        if draw(st.booleans()):  # sometimes the provider contradicts itself
            history.append((draw(st.sampled_from([Status.FAILED, Status.READ])), T0 + timedelta(days=1)))
        for stage, moment in draw(arrivals(history)):
            error = draw(delivery_errors) if stage is Status.FAILED else None
            payloads.append(delivery_status_payload(f"m-{n}", stage, timestamp=moment, error=error))
    return draw(st.permutations(payloads))


@st.composite
def logical_histories(draw: st.DrawFn) -> list[tuple[Status, datetime, DeliveryError | None]]:
    """One message's reports as they arrive (retries, any order, at times a contradiction), with errors.

    Provider-neutral: the tests write it in each provider's format.
    """
    history = draw(consistent_histories())
    if draw(st.booleans()):  # sometimes the provider contradicts itself
        history.append((draw(st.sampled_from([Status.FAILED, Status.READ])), T0 + timedelta(days=1)))
    return [
        (stage, moment, draw(delivery_errors) if stage is Status.FAILED else None)
        for stage, moment in draw(arrivals(history))
    ]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@st.composite
def hostile_payloads(draw: st.DrawFn) -> Any:
    """Input an attacker or a broken proxy could send: bytes, text, wrong shapes, odd values."""
    base = delivery_status_payload("m-hostile", Status.FAILED, timestamp=1641513098)
    choice = draw(st.integers(min_value=0, max_value=4))
    if choice == 0:
        return draw(st.binary(max_size=300))
    if choice == 1:
        return draw(st.text(max_size=300))
    if choice == 2:
        return draw(json_values)
    if choice == 3:  # a real payload with one field replaced by anything
        section = draw(st.sampled_from(["top", "statusUpdate", "error"]))
        key = draw(st.sampled_from(["id", "status", "timestamp", "topic", "code", "details", "cntTraceId", "x"]))
        target = {"top": base, "statusUpdate": base["statusUpdate"], "error": base["statusUpdate"]["error"]}[section]
        target[key] = draw(json_values)
        return base
    # Values that look like the event store's own encodings, NUL bytes and long strings.
    base["statusUpdate"]["id"] = draw(st.text(min_size=1, max_size=40))
    base["statusUpdate"]["error"]["details"] = {"_type_": "uuid_hex", "_data_": draw(st.text(max_size=10))}
    base["statusUpdate"]["error"]["message"] = "\x00" + "x" * draw(st.integers(min_value=0, max_value=5000))
    return base


#: Fragments that would steer a terminal or Rich if printed as they are: markup and its
#: escapes, ANSI (7-bit and C1 CSI) and OSC sequences, bidirectional overrides, line
#: breaks, NUL, lone surrogates (undecodable bytes), emoji codes and format strings.
NASTY_FRAGMENTS = [
    "[/bold]",
    "[red]",
    "\\[red]",
    "[link=file:///etc/passwd]x[/link]",
    "\x1b[31m",
    "\x1b[2J",
    "\x1b]8;;https://example.com\x07",
    "\x9b31m",
    "\x85",
    "\u202e",
    "\u2066",
    "\u200f",
    "\u2028",
    "\r",
    "\n",
    "\t",
    "\x00",
    "\x7f",
    "\ud800",
    "\udcff",
    ":smile:",
    "%s{0}",
]

hostile_texts = st.one_of(
    st.lists(st.sampled_from(NASTY_FRAGMENTS) | st.text(max_size=6), min_size=1, max_size=6).map("".join),
    st.text(min_size=1, max_size=40),
    st.builds(lambda fragment, n: fragment * n, st.sampled_from(NASTY_FRAGMENTS), st.integers(300, 3000)),
)


@st.composite
def hostile_reports(draw: st.DrawFn) -> dict[str, Any]:
    """Well-formed reports whose stored text (id, campaign, error fields) is hostile."""
    stage = draw(st.sampled_from([Status.SENT, Status.DELIVERED, Status.FAILED]))
    error = DeliveryError(
        code=draw(hostile_texts),
        type=draw(hostile_texts),
        message=draw(hostile_texts),
        trace_id=draw(hostile_texts),
    )
    return delivery_status_payload(
        draw(hostile_texts),
        stage,
        timestamp=draw(st.integers(min_value=0, max_value=2**33)),
        error=error if stage is Status.FAILED else None,
        campaign=draw(hostile_texts),
    )


@st.composite
def hostile_meta_bodies(draw: st.DrawFn) -> Any:
    """Meta bodies an attacker or a broken proxy could send: anything, or a real body with a hole in it."""
    from ledger.meta import status_body

    if draw(st.booleans()):
        return draw(hostile_payloads())
    body = status_body("wamid.hostile", draw(st.sampled_from(list(Status)[1:])), timestamp=1641513098)
    value = body["entry"][0]["changes"][0]["value"]
    status = value["statuses"][0]
    status["pricing"] = {"billable": True, "category": "marketing"}
    target = draw(st.sampled_from([body, body["entry"][0], value, status, status["pricing"], value["metadata"]]))
    key = draw(
        st.sampled_from(
            [
                "object",
                "entry",
                "changes",
                "field",
                "statuses",
                "id",
                "status",
                "timestamp",
                "recipient_id",
                "errors",
                "category",
                "billable",
                "display_phone_number",
                "x",
            ]
        )
    )
    target[key] = draw(json_values | hostile_texts)
    if draw(st.booleans()):
        value["statuses"] = value["statuses"] * draw(st.integers(min_value=0, max_value=3))
    return body


@st.composite
def hostile_twilio_bodies(draw: st.DrawFn) -> Any:
    """Twilio callbacks with hostile fields, or anything at all."""
    from ledger.twilio import callback_body

    if draw(st.booleans()):
        return draw(hostile_payloads())
    body = callback_body("SMhostile", draw(st.sampled_from(list(Status)[1:])))
    name = draw(st.sampled_from(["MessageSid", "MessageStatus", "To", "From", "ErrorCode", "ErrorMessage", "X"]))
    fields = dict(parse_qsl(body)) | {name: draw(hostile_texts)}
    return urlencode(fields, errors="surrogatepass") if draw(st.booleans()) else fields
