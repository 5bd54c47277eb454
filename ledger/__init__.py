"""An event-sourced ledger of message delivery statuses.

Open a :class:`Ledger`, record what you sent, ingest the provider's webhooks (Connectly's,
Meta's or Twilio's: :meth:`Ledger.ingest_body`), and ask for a message's status or its
full history.  See the README for a quickstart.
"""

from ledger.application import Ledger, Payload
from ledger.connectly import parse_delivery_status
from ledger.errors import (
    ContradictionError,
    DataRefusedError,
    IdentityMismatchError,
    InvalidPayloadError,
    InvalidTransitionError,
    LedgerError,
    LedgerNotFoundError,
    MessageNotFoundError,
    NotSealedError,
    StorageBusyError,
    StorageError,
    StorageUnavailableError,
    TransactionConflictError,
    UnreadableDataError,
    VersionConflictError,
    WriterUnavailableError,
)
from ledger.ingestion import BodyOutcome
from ledger.message import Message, message_uuid
from ledger.reports import DeliveryError, StatusReport
from ledger.status import FAILURE_AFTER_DELIVERY, STRICT, MessageState, Outcome, Status, TransitionTable, decide
from ledger.views import HistoryEntry, IngestOutcome, MessageView, Rejection

__all__ = [
    "FAILURE_AFTER_DELIVERY",
    "STRICT",
    "BodyOutcome",
    "ContradictionError",
    "DataRefusedError",
    "DeliveryError",
    "HistoryEntry",
    "IdentityMismatchError",
    "IngestOutcome",
    "InvalidPayloadError",
    "InvalidTransitionError",
    "Ledger",
    "LedgerError",
    "LedgerNotFoundError",
    "Message",
    "MessageNotFoundError",
    "MessageState",
    "MessageView",
    "NotSealedError",
    "Outcome",
    "Payload",
    "Rejection",
    "Status",
    "StatusReport",
    "StorageBusyError",
    "StorageError",
    "StorageUnavailableError",
    "TransactionConflictError",
    "TransitionTable",
    "UnreadableDataError",
    "VersionConflictError",
    "WriterUnavailableError",
    "decide",
    "message_uuid",
    "parse_delivery_status",
]
