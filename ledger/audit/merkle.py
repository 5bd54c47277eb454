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


def _subtree(hashes: Sequence[bytes]) -> bytes:
    """The Merkle tree hash of leaf hashes already hashed (RFC 6962's MTH, split at a power of two)."""
    if len(hashes) == 1:
        return hashes[0]
    split = 1 << ((len(hashes) - 1).bit_length() - 1)
    return node_hash(_subtree(hashes[:split]), _subtree(hashes[split:]))


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``leaves`` (RFC 6962 §2.1.1: PATH(m, D[n]))."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf {index} is not in a tree of {len(leaves)}")
    hashes = [leaf_hash(leaf) for leaf in leaves]
    path: list[bytes] = []
    while len(hashes) > 1:
        split = 1 << ((len(hashes) - 1).bit_length() - 1)
        if index < split:
            path.append(_subtree(hashes[split:]))
            hashes = hashes[:split]
        else:
            path.append(_subtree(hashes[:split]))
            hashes, index = hashes[split:], index - split
    path.reverse()  # from the leaf up, as RFC 9162 §2.1.3.2 verifies it
    return path


def root_from_proof(leaf: bytes, index: int, tree_size: int, path: Sequence[bytes]) -> bytes | None:
    """The root that ``path`` proves ``leaf`` at ``index`` is in, or ``None`` if the path cannot be one.

    RFC 9162 §2.1.3.2; compare the result with a root you trust.
    """
    if not 0 <= index < tree_size:
        return None
    fn, sn, result = index, tree_size - 1, leaf_hash(leaf)
    for sibling in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    return result if sn == 0 else None
