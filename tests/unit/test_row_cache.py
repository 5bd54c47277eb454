"""The projections' per-run row cache: bounded, least recently used out first."""

from __future__ import annotations

import pytest

from projections.base import RowCache


def test_the_least_recently_used_rows_go_first() -> None:
    cache = RowCache(2)
    cache.update([{"aggregate_id": "a", "n": 1}, {"aggregate_id": "b", "n": 1}])
    assert cache.get("a") == {"aggregate_id": "a", "n": 1}  # now the most recently used
    cache.update([{"aggregate_id": "c", "n": 1}])
    assert cache.get("b") is None
    assert cache.get("a") is not None
    assert cache.get("c") is not None
    cache.update([{"aggregate_id": "a", "n": 2}])
    assert cache.get("a") == {"aggregate_id": "a", "n": 2}


def test_size_zero_keeps_nothing_and_a_negative_size_is_refused() -> None:
    cache = RowCache(0)
    cache.update([{"aggregate_id": "a"}])
    assert cache.get("a") is None
    with pytest.raises(ValueError, match=">= 0"):
        RowCache(-1)
