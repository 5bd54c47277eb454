"""Audit bundles: one message's history with the evidence that it is the ledger's, checked offline.

:func:`export_bundle` writes a message's events as stored (bytes, base64) and decoded
(the stored JSON, when it is not encrypted), their chain hashes, the newest checkpoint
that covers them, and an RFC 6962 inclusion proof of the message's chain head in that
checkpoint's Merkle tree.  :func:`check_bundle` needs no database and no key: it
recomputes the chain from the stored bytes, compares the decoded form with them, walks
the proof up to the checkpoint's root, recomputes the checkpoint's hash, and compares the
root with the one the auditor trusts (published when the checkpoint was taken).
Events recorded after the checkpoint are in the bundle, chained, but not proven by it.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from uuid import UUID

from ledger.audit.checkpoints import Checkpoint, checkpoint_hash, heads_at, read_checkpoints
from ledger.audit.merkle import inclusion_proof, root_from_proof
from ledger.errors import MessageNotFoundError
from ledger.message import message_uuid
from ledger.persistence.chain import GENESIS, link
from ledger.persistence.recorders import LedgerRecorder

#: The bundle format this module writes and reads.
FORMAT = "delivery-ledger-audit-bundle/1"


def export_bundle(recorder: LedgerRecorder, message_id: str) -> dict[str, Any]:
    """The audit bundle of ``message_id`` (JSON values), proven against the newest checkpoint.

    :class:`~ledger.errors.MessageNotFoundError` for an unknown message; ``ValueError``
    when no checkpoint covers its first event yet (record one: ``ledger checkpoint``).
    """
    originator = message_uuid(message_id)
    with recorder.transaction(commit=False) as session:
        rows = recorder.select_chain_of(session, originator)
        if not rows:
            raise MessageNotFoundError(message_id=message_id)
        checkpoints = read_checkpoints(session)
        checkpoint = checkpoints[-1] if checkpoints else None
        if checkpoint is None or checkpoint.position < rows[0][0]:
            raise ValueError(f"no checkpoint covers message {message_id!r} yet: record one (ledger checkpoint)")
        heads = heads_at(session, recorder, checkpoint.position)
    index = next(i for i, (originator_id, _, _) in enumerate(heads) if originator_id == originator.bytes)
    leaves = [head or b"" for _, _, head in heads]
    return {
        "format": FORMAT,
        "message_id": message_id,
        "originator_id": str(originator),
        "events": [
            {
                "position": position,
                "version": version,
                "topic": topic,
                "stored": base64.b64encode(state).decode("ascii"),
                "decoded": _decoded(state),
                "chain_hash": None if chained is None else chained.hex(),
                "after_checkpoint": position > checkpoint.position,
            }
            for position, version, topic, state, chained in rows
        ],
        "checkpoint": checkpoint.to_dict(),
        "proof": {
            "leaf_index": index,
            "tree_size": len(leaves),
            "path": [node.hex() for node in inclusion_proof(leaves, index)],
        },
    }


def check_bundle(bundle: dict[str, Any], *, root: str) -> list[str]:
    """What does not hold in ``bundle`` against the trusted ``root`` (hex); empty when it all holds."""
    if bundle.get("format") != FORMAT:
        return [f"not an audit bundle of this format ({FORMAT})"]
    try:
        return _check(bundle, root.strip().lower())
    except (KeyError, TypeError, ValueError, binascii.Error) as error:  # ValueError: bad hex or base64
        return [f"malformed bundle: {type(error).__name__}: {error}"]


def _check(bundle: dict[str, Any], root: str) -> list[str]:
    problems: list[str] = []
    originator = UUID(bundle["originator_id"])
    if originator != message_uuid(bundle["message_id"]):
        problems.append("the message id does not give the bundle's originator id")
    previous, head = GENESIS, None
    for expected, event in enumerate(bundle["events"], start=1):
        state = base64.b64decode(event["stored"], validate=True)
        if event["version"] != expected:
            problems.append(f"event {expected}: version {event['version']} is out of order")
        previous = link(previous, originator.bytes, event["version"], event["topic"], state)
        if event["chain_hash"] != previous.hex():
            problems.append(f"event version {event['version']}: its stored bytes do not give its chain hash")
        if event["decoded"] is not None and event["decoded"] != _decoded(state):
            problems.append(f"event version {event['version']}: the decoded form is not what is stored")
        if not event["after_checkpoint"]:
            head = previous
    checkpoint = _checkpoint(bundle["checkpoint"])
    if checkpoint.hash != checkpoint_hash(
        checkpoint.previous,
        checkpoint.sequence,
        checkpoint.position,
        checkpoint.tree_size,
        checkpoint.root,
        checkpoint.recorded_at,
    ):
        problems.append(f"checkpoint {checkpoint.sequence}: its fields do not give its hash")
    proof = bundle["proof"]
    path = [bytes.fromhex(node) for node in proof["path"]]
    proven = None if head is None else root_from_proof(head, proof["leaf_index"], checkpoint.tree_size, path)
    if proven != checkpoint.root:
        problems.append("the inclusion proof does not lead from the message's chain head to the checkpoint's root")
    if checkpoint.root.hex() != root:
        problems.append(f"checkpoint {checkpoint.sequence}'s root {checkpoint.root.hex()} is not the trusted root")
    return problems


def _checkpoint(fields: dict[str, Any]) -> Checkpoint:
    return Checkpoint(
        sequence=int(fields["sequence"]),
        position=int(fields["position"]),
        tree_size=int(fields["tree_size"]),
        root=bytes.fromhex(fields["root"]),
        recorded_at=str(fields["recorded_at"]),
        previous=bytes.fromhex(fields["previous"]),
        hash=bytes.fromhex(fields["hash"]),
    )


def _decoded(state: bytes) -> Any:
    """The stored state as JSON values, or ``None`` when it is not JSON (encrypted, compressed)."""
    try:
        return json.loads(state)
    except (UnicodeDecodeError, ValueError):
        return None
