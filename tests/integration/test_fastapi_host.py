"""examples/fastapi_host.py runs: a host FastAPI application records its sends in its own
transaction, receives the webhooks through the included router (whose lifespan runs with
the host's), and reads the ledger; in at most 15 ledger-specific lines.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from ledger import Ledger, Status
from ledger.http import SIGNATURE_HEADER, WEBHOOK_PATH, sign
from tests.asgi import running
from tests.integration.contract import webhook

EXAMPLE = Path(__file__).parents[2] / "examples" / "fastapi_host.py"
SECRET, TOKEN = "shop-webhook-secret", "shop-api-token"
PHONE = "+16045550100"

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The example, imported afresh on a new database."""
    monkeypatch.setenv("SHOP_DATABASE_URL", f"sqlite:///{tmp_path / 'shop.db'}")
    monkeypatch.setenv("LEDGER_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("LEDGER_API_TOKEN", TOKEN)
    spec = importlib.util.spec_from_file_location("fastapi_host_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    module.engine.dispose()


def test_the_example_has_at_most_15_ledger_specific_lines() -> None:
    code = EXAMPLE.read_text(encoding="utf-8").splitlines()
    marked = [line for line in code if re.search(r"  # ledger(:|$)", line)]
    assert 5 <= len(marked) <= 15
    # Every line that names the ledger's API is marked.
    assert all(line in marked for line in code if re.search(r"\b(ledger|receiver)\.|Receiver\(", line))


async def test_the_host_records_its_send_with_its_order_and_receives_the_webhooks(host: ModuleType) -> None:
    async with running(host.app) as client:
        confirmed = await client.post("/orders/1/confirm", params={"phone": PHONE})
        assert confirmed.status_code == 200
        message_id = confirmed.json()["message_id"]
        assert (await client.get("/orders/1/delivery")).json()["status"] == "accepted"
        body = json.dumps(webhook(message_id, Status.DELIVERED, 5, recipient=PHONE)).encode()
        signed = {SIGNATURE_HEADER: sign(SECRET, body)}
        received = await client.post(f"/ledger{WEBHOOK_PATH}", content=body, headers=signed)
        assert (received.status_code, received.json()["kind"]) == (200, "applied")
        assert (await client.get("/orders/1/delivery")).json()["status"] == "delivered"
        read = await client.get(f"/ledger/messages/{message_id}", headers={"Authorization": f"Bearer {TOKEN}"})
        assert read.json()["campaign"] == "order-confirmations"
        assert (await client.get("/ledger/readyz")).json()["status"] == "ready"
        assert (await client.get(f"/ledger/messages/{message_id}")).status_code == 401  # the token guards reads
        # The order's id is taken: the host's insert, after the send record, fails: neither is kept.
        with pytest.raises(Exception, match="UNIQUE constraint failed"):
            await client.post("/orders/1/confirm", params={"phone": "+16045550199"})
    with Ledger.open(host.engine, create=False) as ledger:
        assert [row.message_id for row in ledger.messages().rows] == [message_id]
        assert ledger.summary()[0].total == 1


async def test_a_forged_webhook_is_refused_by_the_included_router_with_a_problem(host: ModuleType) -> None:
    async with running(host.app) as client:
        refused = await client.post(f"/ledger{WEBHOOK_PATH}", content=b"{}", headers={SIGNATURE_HEADER: "forged"})
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["error"] == "bad_signature"
