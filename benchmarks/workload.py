"""The benchmark workload: a seeded ``ledger.simulate.Traffic`` stream, as the ledger receives it.

Webhooks are handed over as JSON text (how an HTTP receiver gets them), never as dicts
built in advance: a list of 300,000 nested dicts would also make Python's garbage
collector walk a few million objects that no real server holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from ledger import Ledger
from ledger.simulate import Send, Traffic

#: Reports per message in the default traffic shape (sent, most delivered, many read,
#: a few retries): 300,000 reports need about 115,000 messages.
REPORTS_PER_MESSAGE = 2.6


def traffic_for(reports: int, seed: int = 1) -> Traffic:
    """Traffic of about ``reports`` webhooks."""
    return Traffic(max(1, round(reports / REPORTS_PER_MESSAGE)), seed=seed)


def as_text(payload: dict[str, Any] | str) -> str:
    """A webhook body as the provider posts it."""
    return payload if isinstance(payload, str) else json.dumps(payload)


def webhook_texts(traffic: Traffic) -> Iterator[str]:
    """Every webhook body, in arrival order, lazily."""
    for payload in traffic.webhooks():
        yield as_text(payload)


@dataclass(frozen=True, slots=True)
class SendStep:
    """Our send API answered: call ``record_sent``."""

    send: Send


@dataclass(frozen=True, slots=True)
class WebhookStep:
    """A webhook arrived: ingest ``body``."""

    body: str


def timeline(traffic: Traffic) -> Iterator[SendStep | WebhookStep]:
    """Sends and webhooks in the order production sees them: each send before its webhooks.

    ``Traffic`` yields the webhooks of one window of messages before those of the next,
    so the sends of a window are due when its first webhook appears.
    """
    sends = iter(traffic.sends())
    window: set[str] = set()
    for payload in traffic.webhooks():
        message_id = _message_id(payload)
        if message_id is not None and message_id not in window:
            due = list(islice(sends, traffic.window))
            window = {send.message_id for send in due}
            yield from (SendStep(send) for send in due)
        yield WebhookStep(as_text(payload))
    yield from (SendStep(send) for send in sends)


def record(ledger: Ledger, send: Send) -> None:
    """``record_sent`` with the send's fields."""
    send.record_in(ledger)


def batches(bodies: Iterator[str], size: int) -> Iterator[list[str]]:
    """``bodies`` in lists of ``size`` (the last one shorter)."""
    while batch := list(islice(bodies, size)):
        yield batch


def _message_id(payload: dict[str, Any] | str) -> str | None:
    if isinstance(payload, str):
        return None  # malformed on purpose; it names no message reliably
    update = payload.get("statusUpdate")
    return update.get("id") if isinstance(update, dict) else None
