"""Verifiable audit: the per-message hash chain checked, the seal, Merkle checkpoints.

The chain itself is written by the recorders (:mod:`ledger.persistence.chain`);
this package reads it back:

- :mod:`~ledger.audit.verify`: :func:`verify` recomputes every chain and checkpoint;
- :mod:`~ledger.audit.diagnose`: names a broken chain's first :class:`Problem`;
- :mod:`~ledger.audit.seal`: :func:`seal` chains a ledger that predates the chain, once;
- :mod:`~ledger.audit.checkpoints`: :func:`record_checkpoint`, RFC 6962 roots over the chain heads;
- :mod:`~ledger.audit.merkle`: the RFC 6962 tree hash and inclusion proofs;
- :mod:`~ledger.audit.bundle`: one message's audit bundle, exported and checked offline.

See ``docs/audit.md`` for the exact definitions and how to check them by hand.
"""

from __future__ import annotations

from ledger.audit.checkpoints import Checkpoint, read_checkpoints, record_checkpoint
from ledger.audit.diagnose import Problem, ProblemKind
from ledger.audit.merkle import merkle_root
from ledger.audit.seal import Seal, seal
from ledger.audit.verify import Verification, verify

__all__ = [
    "Checkpoint",
    "Problem",
    "ProblemKind",
    "Seal",
    "Verification",
    "merkle_root",
    "read_checkpoints",
    "record_checkpoint",
    "seal",
    "verify",
]
