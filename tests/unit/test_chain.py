"""The recorder's batch chaining (``chain_batch``) gives exactly the hashes of ``link``, the definition."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.persistence import StoredEvent
from hypothesis import given
from hypothesis import strategies as st

from ledger.persistence.chain import GENESIS, ChainedRow, Head, chain_batch, link

IDS = [UUID(int=n * 0x1F2E3D4C5B6A79881726354453627181) for n in range(1, 6)]
TOPICS = ["ledger.message:Message.StageReported", "ledger.message:Message.Créé"]


@st.composite
def histories(draw: st.DrawFn) -> list[list[StoredEvent]]:
    """Batches of events of a few messages, each message's versions consecutive from 1."""
    versions = dict.fromkeys(IDS, 0)
    batches: list[list[StoredEvent]] = []
    for _ in range(draw(st.integers(1, 4))):
        batch = []
        for originator_id in draw(st.lists(st.sampled_from(IDS), max_size=12)):
            versions[originator_id] += 1
            topic = draw(st.sampled_from(TOPICS))
            state = draw(st.binary(max_size=64))
            # Stored events name their originator as a UUID or (some recorders) its string.
            names: list[UUID | str] = [originator_id, str(originator_id)]
            named = draw(st.sampled_from(names))
            batch.append(StoredEvent(named, versions[originator_id], topic, state))
        batches.append(batch)
    return batches


def by_link(batches: list[list[StoredEvent]]) -> list[list[bytes]]:
    """Each event's hash by the definition, one event at a time."""
    heads: dict[UUID, bytes] = {}
    hashes: list[list[bytes]] = []
    for batch in batches:
        hashes.append([])
        for event in batch:
            originator_id = UUID(str(event.originator_id))
            previous = heads.get(originator_id, GENESIS) if event.originator_version > 1 else GENESIS
            heads[originator_id] = link(
                previous, originator_id.bytes, event.originator_version, event.topic, event.state
            )
            hashes[-1].append(heads[originator_id])
    return hashes


def rows_of(batch: list[StoredEvent], committed: dict[int, Head]) -> list[ChainedRow]:
    chained = chain_batch(batch, committed, None)
    assert chained is not None
    rows, heads = chained
    committed.update(heads)
    return rows


@given(histories())
def test_batches_chain_as_the_definition_does(batches: list[list[StoredEvent]]) -> None:
    committed: dict[int, Head] = {}
    rows = [rows_of(batch, committed) for batch in batches]
    assert [[row[4] for row in batch] for batch in rows] == by_link(batches)
    for batch, batch_rows in zip(batches, rows, strict=True):
        assert [row[:4] for row in batch_rows] == [
            (UUID(str(e.originator_id)).bytes, e.originator_version, e.topic, e.state) for e in batch
        ]


@given(histories())
def test_previous_hashes_read_from_the_table_chain_the_same(batches: list[list[StoredEvent]]) -> None:
    """A recorder that knows no head (another process wrote the earlier batches) asks the table."""
    expected = by_link(batches)
    stored: dict[tuple[UUID, int], bytes | None] = {}
    for batch, hashes in zip(batches, expected, strict=True):
        chained = chain_batch(batch, {}, stored)
        assert chained is not None
        assert [row[4] for row in chained[0]] == hashes
        for event, chained_hash in zip(batch, hashes, strict=True):
            stored[UUID(str(event.originator_id)), event.originator_version] = chained_hash


def test_an_unknown_previous_hash_is_asked_for() -> None:
    event = StoredEvent(IDS[0], 3, TOPICS[0], b"{}")
    assert chain_batch([event], {}, None) is None
    assert chain_batch([event], {IDS[0].int: (1, b"\1" * 32)}, None) is None  # a head, but not version 2
    rows, heads = chain_batch([event], {IDS[0].int: (2, b"\1" * 32)}, None) or ([], {})
    assert rows[0][4] == link(b"\1" * 32, IDS[0].bytes, 3, TOPICS[0], b"{}")
    assert heads == {IDS[0].int: (3, rows[0][4])}


def test_after_an_unchained_event_the_chain_waits_for_the_seal() -> None:
    """A ledger that predates the chain: its next events stay unchained until ``ledger seal``."""
    first, second = StoredEvent(IDS[1], 5, TOPICS[0], b"a"), StoredEvent(IDS[1], 6, TOPICS[0], b"b")
    chained = chain_batch([first, second], {}, {(IDS[1], 4): None})
    assert chained is not None
    assert [row[4] for row in chained[0]] == [None, None]
    new = StoredEvent(IDS[2], 1, TOPICS[0], b"c")
    assert chain_batch([new], {}, None) == (
        [(IDS[2].bytes, 1, TOPICS[0], b"c", link(GENESIS, IDS[2].bytes, 1, TOPICS[0], b"c"))],
        {IDS[2].int: (1, link(GENESIS, IDS[2].bytes, 1, TOPICS[0], b"c"))},
    )


def test_long_histories_chain_as_the_definition_does() -> None:
    """Versions past the ones made in advance (and any other) hash as ``link`` spells them."""
    for version in (255, 256, 1000, 2**40):
        event = StoredEvent(IDS[3], version, TOPICS[1], b"x")
        chained = chain_batch([event], {IDS[3].int: (version - 1, b"\2" * 32)}, None)
        assert chained is not None
        assert chained[0][0][4] == link(b"\2" * 32, IDS[3].bytes, version, TOPICS[1], b"x")
