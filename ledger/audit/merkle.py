"""RFC 6962 Merkle tree hashes (Certificate Transparency), over byte strings.

A leaf is hashed as ``SHA-256(0x00 || leaf)``, an inner node as ``SHA-256(0x01 || left ||
right)``, and a tree of n > 1 leaves splits at the largest power of two below n
(RFC 6962 §2.1).  The empty tree's hash is ``SHA-256()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import sha256


def leaf_hash(leaf: bytes) -> bytes:
    """``SHA-256(0x00 || leaf)``."""
    return sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return sha256(b"\x01" + left + right).digest()


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """The RFC 6962 Merkle tree hash of ``leaves``, in order.

    Computed level by level, an odd last node carried up unhashed: that gives the same
    hash as RFC 6962's split at the largest power of two (a unit test compares both).
    """
    if not leaves:
        return sha256(b"").digest()
    level = [leaf_hash(leaf) for leaf in leaves]
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]
