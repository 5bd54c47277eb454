"""The audit's definitions, without a database: the chain link, the RFC 6962 tree hash, the diagnosis."""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import sha256
from uuid import UUID

import pytest

from ledger.audit import ProblemKind, merkle_root
from ledger.audit.checkpoints import checkpoint_hash
from ledger.audit.diagnose import EventRow, diagnose
from ledger.audit.merkle import inclusion_proof, leaf_hash, node_hash, root_from_proof
from ledger.persistence.chain import GENESIS, link

MESSAGE = UUID("5d5f0236-52b0-5fe6-9043-9e83d96b0a4d")
TOPIC = "ledger.message:Message.StageReported"


def reference_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 as written: split at the largest power of two smaller than n."""
    if not leaves:
        return sha256(b"").digest()
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 100])
def test_the_merkle_root_is_rfc_6962s(size: int) -> None:
    leaves = [bytes([i % 256]) * 32 for i in range(size)]
    assert merkle_root(leaves) == reference_root(leaves)


def test_a_link_is_sha256_over_the_documented_bytes() -> None:
    """The definition docs/audit.md gives, spelled out byte by byte."""
    topic = TOPIC.encode()
    expected = sha256(
        GENESIS + MESSAGE.bytes + (3).to_bytes(8, "big") + len(topic).to_bytes(4, "big") + topic + b'{"a":1}'
    ).digest()
    assert link(GENESIS, MESSAGE.bytes, 3, TOPIC, b'{"a":1}') == expected


def test_a_checkpoint_hash_covers_every_field() -> None:
    base = (GENESIS, 1, 10, 3, bytes(32), "2026-01-01T00:00:00.000000+00:00")
    digests = {checkpoint_hash(*base)}
    for index, changed in enumerate([b"\x01" * 32, 2, 11, 4, b"\x02" * 32, "2026-01-01T00:00:01.000000+00:00"]):
        fields = list(base)
        fields[index] = changed
        digests.add(checkpoint_hash(*fields))  # type: ignore[arg-type]
    assert len(digests) == 7


def chain(states: list[bytes]) -> list[EventRow]:
    rows: list[EventRow] = []
    previous = GENESIS
    for version, state in enumerate(states, start=1):
        previous = link(previous, MESSAGE.bytes, version, TOPIC, state)
        rows.append((version, version, TOPIC, state, previous))
    return rows


def kind_at(rows: Sequence[EventRow]) -> tuple[ProblemKind, int | None] | None:
    problem = diagnose(MESSAGE.bytes, rows, sealed=True)
    return None if problem is None else (problem.kind, problem.version)


def test_an_intact_chain_has_no_problem() -> None:
    assert kind_at(chain([b"a", b"b", b"c"])) is None


def test_each_kind_of_tampering_is_named() -> None:
    rows = chain([b"a", b"b", b"c", b"d"])
    edited = [rows[0], (2, 2, TOPIC, b"B", rows[1][4]), rows[2], rows[3]]
    deleted = [rows[0], rows[2], rows[3]]
    swapped = [rows[0], (3, 2, *rows[2][2:]), (2, 3, *rows[1][2:]), rows[3]]
    inserted_at_end = [*rows, (5, 5, TOPIC, b"e", None)]
    inserted_renumbered = [
        rows[0],
        (9, 2, TOPIC, b"x", bytes(32)),
        *[(n, v + 1, t, s, h) for n, v, t, s, h in rows[1:]],
    ]
    assert kind_at(edited) == (ProblemKind.EDITED, 2)
    assert kind_at(deleted) == (ProblemKind.DELETED, 3)
    assert kind_at(swapped) == (ProblemKind.REORDERED, 2)
    assert kind_at(inserted_at_end) == (ProblemKind.INSERTED, 5)
    assert kind_at(inserted_renumbered) == (ProblemKind.INSERTED, 2)
    assert kind_at([*rows, (5, 9, TOPIC, b"e", None)]) == (ProblemKind.INSERTED, 9)


def test_before_the_seal_unchained_events_are_no_problem() -> None:
    rows = [(n, v, t, s, None) for n, v, t, s, _ in chain([b"a", b"b"])]
    assert diagnose(MESSAGE.bytes, rows, sealed=False) is None
    assert kind_at(rows) == (ProblemKind.INSERTED, 1)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9, 31, 33])
def test_an_inclusion_proof_leads_each_leaf_and_only_it_to_the_root(size: int) -> None:
    leaves = [sha256(bytes([n])).digest() for n in range(size)]
    root = merkle_root(leaves)
    for index, leaf in enumerate(leaves):
        path = inclusion_proof(leaves, index)
        assert len(path) <= (size - 1).bit_length()  # at most log2(n) nodes
        assert root_from_proof(leaf, index, size, path) == root
        assert root_from_proof(b"another leaf", index, size, path) != root
        if size > 1:
            assert root_from_proof(leaf, (index + 1) % size, size, path) != root


def test_a_proof_for_a_leaf_outside_the_tree_is_refused() -> None:
    with pytest.raises(ValueError, match="leaf 3 is not in a tree of 3"):
        inclusion_proof([b"a", b"b", b"c"], 3)
    assert root_from_proof(b"a", 3, 3, []) is None
