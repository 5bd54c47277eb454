"""Fuzzing the webhook endpoint: hostile bodies get 200, 400 or 413, never a server error,
and every 400 leaves its body in the rejection store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import Ledger
from ledger.http import WEBHOOK_PATH
from tests.servers import Server, serving
from tests.strategies import hostile_payloads


def as_body(payload: Any) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8", errors="surrogatepass")  # invalid UTF-8 included
    return json.dumps(payload).encode()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Ledger]]:
    """A real ``ledger serve`` (signatures checked) and a ledger reading its database."""
    folder = Path(tmp_path_factory.mktemp("http"))
    url = f"sqlite:///{folder / 'fuzz.db'}"
    with serving(url, folder / "server.log") as server, Ledger.open(url) as reader:
        yield server, reader


# Bodies of 60-70 KB (over the 64 KiB limit) are the point: they exceed Hypothesis' data
# budget (data_too_large, large_base_example); each example is a real HTTP round trip (too_slow).
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.data_too_large, HealthCheck.large_base_example, HealthCheck.too_slow],
)
@given(
    payload=hostile_payloads() | st.binary(min_size=60_000, max_size=70_000),
    content_type=st.sampled_from(["application/json", "text/plain", "application/octet-stream"]),
)
def test_hostile_bodies_never_cause_a_server_error(
    served: tuple[Server, Ledger], payload: Any, content_type: str
) -> None:
    server, reader = served
    body = as_body(payload)
    before = len(reader.rejections(limit=1_000_000))
    response = server.post(WEBHOOK_PATH, body, **{"content-type": content_type})
    assert response.status_code in (200, 400, 413), response.text
    stored = reader.rejections(limit=1_000_000)[before:]
    if response.status_code == 400:
        assert [r.raw for r in stored] == [body]
        assert response.json()["detail"]
    elif response.status_code == 200:
        assert response.json()["kind"] in ("applied", "late", "duplicate", "rejected")
