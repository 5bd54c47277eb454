"""Ingesting any provider's webhook bodies: one outcome per status report a body holds.

>>> ledger.ingest_body(meta_body, provider="meta").outcomes   # doctest: +SKIP
(IngestOutcome(kind=<Outcome.APPLIED: 'applied'>, message_id='meta:wamid.HBg...', ...), ...)

:class:`LedgerBodies` is a mixin of :class:`~ledger.Ledger` (as
:class:`~ledger.queries.LedgerQueries` is): a body is parsed by its provider's parser
(:func:`ledger.providers.parse_body`), then every report of every body of a call is
decided and committed in one transaction, as ``ingest_many`` does.  ``ingest(payload)``
stays Connectly's one-payload call.

What each status becomes:

- a report the mapping table maps to a stage: decided by the state machine as usual
  (``applied``, ``late``, ``duplicate``, or ``rejected`` as a contradiction, kept);
- a status the table does not know: ``rejected`` with the reason, kept in the rejection
  store as kind ``unmapped`` with the status as received; the body's other statuses apply;
- a status that maps to ``accepted`` (Twilio's ``queued``, say): ``duplicate``, with the
  reason; the send record holds that stage;
- a malformed status (in a body whose others are fine): ``rejected`` and ``malformed``,
  kept with the whole body; a malformed body: one such outcome.

Inbound messages (and other notifications) in a body are counted in
:attr:`BodyOutcome.inbound`, never refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from ledger.connectly import message_id_hint, raw_bytes
from ledger.decisions import decide_report
from ledger.errors import InvalidPayloadError
from ledger.gcpause import gc_paused
from ledger.message import Message
from ledger.providers import Body, Provider, check_provider, parse_body
from ledger.reports import BodyReports, SkippedReport, StatusReport
from ledger.status import Outcome, TransitionTable
from ledger.store import MessageStore, uncommitted
from ledger.views import IngestOutcome, NewRejection

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BodyOutcome:
    """What one webhook body did: one outcome per status report, in the body's order.

    ``inbound`` counts what the body carried besides status reports (inbound messages,
    other notifications).  A malformed body has one ``malformed`` outcome.
    """

    provider: Provider
    outcomes: tuple[IngestOutcome, ...]
    inbound: int = 0

    @property
    def malformed(self) -> bool:
        """True when the body as a whole was not one of the provider's webhooks."""
        return len(self.outcomes) == 1 and self.outcomes[0].malformed and self.inbound == 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "provider": self.provider,
            "outcomes": [outcome.to_dict() for outcome in self.outcomes],
            "inbound": self.inbound,
        }


#: A body as parsed: its reports, or why it holds none.
Parsed = BodyReports | InvalidPayloadError


def parse(body: Body, provider: Provider, at: datetime) -> Parsed:
    """The reports ``body`` holds, or why it holds none (never raises on bad input)."""
    try:
        return parse_body(body, provider, received_at=at)
    except InvalidPayloadError as error:
        return error


def decide_bodies(
    messages: dict[str, Message],
    provider: Provider,
    bodies: Sequence[tuple[Body, Parsed]],
    at: datetime,
    table: TransitionTable,
) -> tuple[list[BodyOutcome], list[NewRejection]]:
    """Apply each body's reports to ``messages`` (opening unknown ones, in place), in order.

    One :class:`BodyOutcome` per body, and what the rejection store is to keep.
    """
    results: list[BodyOutcome] = []
    refused: list[NewRejection] = []
    for body, parsed in bodies:
        if isinstance(parsed, InvalidPayloadError):
            outcome, rejection = _malformed(body, parsed, provider, at)
            results.append(BodyOutcome(provider, (outcome,)))
            refused.append(rejection)
            continue
        outcomes: list[IngestOutcome] = []
        for item in parsed.items:
            if isinstance(item, StatusReport):
                outcome, maybe = decide_report(messages, item, at, table)
                if maybe is not None:
                    refused.append(maybe)
            elif isinstance(item, SkippedReport):
                outcome, maybe = _skipped(messages, item, at)
                if maybe is not None:
                    refused.append(maybe)
            else:
                outcome, rejection = _malformed(body, item, provider, at)
                refused.append(rejection)
            outcomes.append(outcome)
        results.append(BodyOutcome(provider, tuple(outcomes), parsed.inbound))
    return results, refused


def _malformed(
    body: Body, error: InvalidPayloadError, provider: Provider, at: datetime
) -> tuple[IngestOutcome, NewRejection]:
    reason = f"invalid payload: {error}"
    hint = message_id_hint(body) if provider == "connectly" else None
    rejection = NewRejection(at, "malformed", hint, reason, raw_bytes(body))
    return IngestOutcome(Outcome.REJECTED, hint, None, reason, malformed=True), rejection


def _skipped(
    messages: dict[str, Message], item: SkippedReport, at: datetime
) -> tuple[IngestOutcome, NewRejection | None]:
    message = messages.get(item.message_id)
    status = None if message is None else message.status
    if item.stage is None:
        rejection = NewRejection(at, "unmapped", item.message_id, item.reason, item.raw.encode())
        return IngestOutcome(Outcome.REJECTED, item.message_id, status, item.reason), rejection
    return IngestOutcome(Outcome.DUPLICATE, item.message_id, status, item.reason), None


class LedgerBodies:
    """The ledger's calls that take any provider's webhook bodies (a mixin of :class:`~ledger.Ledger`)."""

    pause_gc_during_batches: ClassVar[bool]
    transitions: TransitionTable
    store: MessageStore
    _clock: Callable[[], datetime]

    if TYPE_CHECKING:

        def _retried(self, attempt: Callable[[], T]) -> T: ...

    def ingest_body(self, body: Body, *, provider: str = "connectly") -> BodyOutcome:
        """Apply one webhook body of ``provider`` in its own transaction; never raises on bad input.

        ``provider`` is ``connectly``, ``meta`` or ``twilio`` (``ValueError`` otherwise).
        A Connectly body gives the outcome :meth:`~ledger.Ledger.ingest` gives.
        """
        return self.ingest_bodies([body], provider=provider)[0]

    def ingest_bodies(self, bodies: Iterable[Body], *, provider: str = "connectly") -> list[BodyOutcome]:
        """Apply bodies of one provider in order, in one transaction; one :class:`BodyOutcome` per body.

        As ``ingest_many``: each touched message is loaded once; an infrastructure
        failure raises :class:`~ledger.errors.StorageError` and stores nothing.
        """
        checked = check_provider(provider)
        with gc_paused(self.pause_gc_during_batches):
            at = self._clock()
            parsed = [(body, parse(body, checked, at)) for body in bodies]
            return self._retried(lambda: self._apply_bodies(checked, parsed, at))

    def _apply_bodies(self, provider: Provider, parsed: list[tuple[Body, Parsed]], at: datetime) -> list[BodyOutcome]:
        """Decide the bodies on their messages as stored now, then commit (one attempt)."""
        ids = {
            item.message_id
            for _, reports in parsed
            if isinstance(reports, BodyReports)
            for item in reports.items
            if isinstance(item, StatusReport | SkippedReport)
        }
        messages = self.store.load(ids)
        with uncommitted(self.store, messages.values()):
            results, refused = decide_bodies(messages, provider, parsed, at, self.transitions)
            self.store.commit(list(messages.values()), refused)
        return results
