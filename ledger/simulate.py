"""Seeded synthetic traffic: sends and the webhooks a provider would post for them.

Used by ``ledger demo``, the tests and the benchmarks.  The shares are realistic for
WhatsApp template campaigns: most messages are delivered, many are read, a few percent
fail with the provider's error codes; reports are interleaved over time, some arrive
out of order, some are retried, and a few bodies are malformed.

Traffic is generated lazily, in windows of ``window`` messages, so a stream of a
million reports needs memory for one window only.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from ledger.connectly import delivery_status_payload
from ledger.reports import DeliveryError
from ledger.status import Status

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CAMPAIGNS = ("black-friday", "cyber-monday", "welcome-series", "cart-reminder")
TEMPLATES = ("promo_v3", "reminder_v1", "welcome_v2")
SENDERS = ("+16044441111", "+16044442222")

#: Failure reasons, weighted.  The first is the provider's documented example.
FAILURES: tuple[tuple[DeliveryError, int], ...] = (
    (
        DeliveryError(
            code="ERROR_CODE_MESSAGE_TEMPLATE_INPUT_INVALID",
            type="ERROR_TYPE_INVALID_REQUEST",
            message="Message template inputs invalid",
            user_title="Message template inputs invalid",
            user_message="Pass along the connectly trace id 'cnct_trace_id' to the team for more information.",
        ),
        3,
    ),
    (
        DeliveryError(
            code="ERROR_CODE_MESSAGE_CUSTOMER_OPTED_OUT",
            type="ERROR_TYPE_UNSPECIFIED",
            message="Customer opted out of marketing messages",
            user_title="Customer opted out",
            user_message="The customer has opted out; do not retry.",
        ),
        5,
    ),
    (
        DeliveryError(
            code="ERROR_CODE_UNSPECIFIED",
            type="ERROR_TYPE_UNSPECIFIED",
            message="Message could not be delivered",
            user_title="Delivery failed",
            user_message="Pass along the connectly trace id 'cnct_trace_id' to the team for more information.",
        ),
        2,
    ),
)

_ULID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class RecordsSends(Protocol):
    """Anything with the Ledger's ``record_sent`` (kept abstract: this module stores nothing)."""

    def record_sent(
        self,
        message_id: str,
        *,
        sender: str | None,
        recipient: str,
        template: str | None = ...,
        campaign: str | None = ...,
        sent_at: datetime | None = ...,
    ) -> object: ...


@dataclass(frozen=True, slots=True)
class Send:
    """What the send API answered for one message (the arguments of ``record_sent``)."""

    message_id: str
    sender: str
    recipient: str
    template: str
    campaign: str
    sent_at: datetime

    def record_in(self, ledger: RecordsSends) -> None:
        """Tell ``ledger`` about this send (``record_sent`` with every field)."""
        ledger.record_sent(
            self.message_id,
            sender=self.sender,
            recipient=self.recipient,
            template=self.template,
            campaign=self.campaign,
            sent_at=self.sent_at,
        )


@dataclass(frozen=True, slots=True)
class TrafficShape:
    """The shares of a traffic stream (all fractions of messages or of reports)."""

    delivered: float = 0.95
    read: float = 0.60
    failed: float = 0.04
    out_of_order: float = 0.10  # of messages: one later stage arrives before an earlier one
    duplicated: float = 0.03
    malformed: float = 0.002
    contradictory: float = 0.002  # of messages: a failure reported after delivery


class Traffic:
    """A reproducible stream of sends and webhooks for ``messages`` messages."""

    def __init__(
        self,
        messages: int,
        *,
        seed: int = 0,
        shape: TrafficShape | None = None,
        start: datetime = START,
        window: int = 1000,
    ) -> None:
        if messages < 0:
            raise ValueError("messages must be >= 0")
        self.messages = messages
        self.seed = seed
        self.shape = shape or TrafficShape()
        self.start = start
        self.window = max(1, window)

    def sends(self) -> Iterator[Send]:
        """Every message's send, in send order (one every ~50 ms)."""
        rng = random.Random(f"{self.seed}/sends")
        moment = self.start
        for _ in range(self.messages):
            moment += timedelta(milliseconds=rng.randint(0, 100))
            yield Send(
                message_id="".join(rng.choice(_ULID_ALPHABET) for _ in range(26)),
                sender=rng.choice(SENDERS),
                recipient=f"+1604{rng.randint(0, 9_999_999):07d}",
                template=rng.choice(TEMPLATES),
                campaign=rng.choice(CAMPAIGNS),
                sent_at=moment,
            )

    def webhooks(self) -> Iterator[dict[str, Any] | str]:
        """Webhook bodies in arrival order: dicts, and a few malformed strings."""
        rng = random.Random(f"{self.seed}/webhooks")
        window: list[Send] = []
        for send in self.sends():
            window.append(send)
            if len(window) == self.window:
                yield from self._window(window, rng)
                window = []
        yield from self._window(window, rng)

    def _window(self, sends: list[Send], rng: random.Random) -> Iterator[dict[str, Any] | str]:
        shape = self.shape
        arrivals: list[tuple[float, dict[str, Any]]] = []
        for send in sends:
            lifecycle = self._lifecycle(send, rng)
            arrive_at = [moment.timestamp() + rng.random() for _, moment in lifecycle]
            # Out of order: a later stage of this message overtakes an earlier one.
            if len(lifecycle) > 1 and rng.random() < shape.out_of_order:
                i = rng.randrange(len(lifecycle) - 1)
                arrive_at[i], arrive_at[i + 1] = arrive_at[i + 1], arrive_at[i]
            for (stage, moment), arrival in zip(lifecycle, arrive_at, strict=True):
                error = None
                if stage is Status.FAILED:
                    error = _failure(rng)
                payload = delivery_status_payload(
                    send.message_id,
                    stage,
                    timestamp=moment,
                    sender=send.sender,
                    recipient=send.recipient,
                    error=error,
                    campaign=send.campaign if rng.random() < 0.5 else None,
                )
                arrivals.append((arrival, payload))
        arrivals.sort(key=lambda item: item[0])
        payloads = [payload for _, payload in arrivals]
        # Retries arrive a little later than the original.
        for i in range(len(payloads) - 1, -1, -1):
            if rng.random() < shape.duplicated:
                payloads.insert(min(len(payloads), i + rng.randint(1, 50)), payloads[i])
        for payload in payloads:
            if rng.random() < shape.malformed:
                yield _malformed(payload, rng)
            else:
                yield payload

    def _lifecycle(self, send: Send, rng: random.Random) -> list[tuple[Status, datetime]]:
        """The stages one message goes through, with provider times (whole seconds)."""
        moment = send.sent_at + timedelta(seconds=rng.randint(1, 5))
        stages = [(Status.SENT, moment)]
        if rng.random() < self.shape.failed:
            return [*stages, (Status.FAILED, moment + timedelta(seconds=rng.randint(1, 30)))]
        if rng.random() < self.shape.delivered:
            moment += timedelta(seconds=rng.randint(1, 120))
            stages.append((Status.DELIVERED, moment))
            if rng.random() < self.shape.read / self.shape.delivered:
                stages.append((Status.READ, moment + timedelta(seconds=int(rng.expovariate(1 / 900)))))
            if rng.random() < self.shape.contradictory:
                stages.append((Status.FAILED, moment + timedelta(hours=1)))
        return stages


def _failure(rng: random.Random) -> DeliveryError:
    errors, weights = zip(*FAILURES, strict=True)
    error: DeliveryError = rng.choices(errors, weights)[0]
    return DeliveryError(
        code=error.code,
        type=error.type,
        message=error.message,
        user_title=error.user_title,
        user_message=error.user_message,
        trace_id=str(rng.getrandbits(64)),
        details={},
    )


def _malformed(payload: dict[str, Any], rng: random.Random) -> str:
    """A body broken the ways real proxies and buggy senders break them."""
    text = json.dumps(payload)
    damage = rng.randrange(4)
    if damage == 0:
        return text[: len(text) // 2]  # truncated
    if damage == 1:
        return text.replace('"delivery_status"', '"message_status"')  # wrong topic
    if damage == 2:
        return text.replace(f'"{payload["timestamp"]}"', '"yesterday"')  # bad timestamp
    return text.replace('"statusUpdate"', '"status_update"')  # renamed field
