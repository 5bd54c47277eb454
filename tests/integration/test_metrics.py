"""GET /metrics: each receiver's own Prometheus registry, guarded like the reads, whose counters
move by exactly the traffic sent (driven in process, as a host would, with the lifespan running).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from ledger import Status
from ledger.http import SIGNATURE_HEADER, WEBHOOK_PATH, ServerSettings, create_app, sign
from ledger.http.metrics import OUTCOMES, PROVIDERS
from ledger.meta import sign as meta_sign
from ledger.meta.payloads import status_body
from tests.asgi import running
from tests.integration.contract import RECIPIENT, webhook

SECRET, TOKEN = "metrics-secret", "metrics-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

pytestmark = pytest.mark.anyio

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def receiver_app(tmp_path: Path, name: str = "metrics.db") -> FastAPI:
    return create_app(ServerSettings(url=f"sqlite:///{tmp_path / name}", secret=SECRET, api_token=TOKEN))


async def scrape(client: httpx.AsyncClient) -> Samples:
    """Every sample of ``GET /metrics``, by name and labels."""
    answer = await client.get("/metrics", headers=AUTH)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def moved(before: Samples, after: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    """How each series of ``name`` moved between two scrapes (series that did not move left out)."""
    series = {labels for sample, labels in after if sample == name}
    changes = {labels: after[name, labels] - before.get((name, labels), 0.0) for labels in series}
    return {labels: change for labels, change in changes.items() if change}


def labels(**values: str) -> frozenset[tuple[str, str]]:
    return frozenset(values.items())


async def post_webhook(client: httpx.AsyncClient, body: bytes, *, secret: str = SECRET) -> int:
    answer = await client.post(WEBHOOK_PATH, content=body, headers={SIGNATURE_HEADER: sign(secret, body)})
    return answer.status_code


async def send_traffic(client: httpx.AsyncClient) -> None:
    """One report of each outcome, a refused signature and two reads of one route template."""
    sent = {"id": "m-1", "recipient": RECIPIENT}
    assert (await client.post("/messages/sent", json=sent, headers=AUTH)).status_code == 200
    delivered = json.dumps(webhook("m-1", Status.DELIVERED, 5, recipient=RECIPIENT)).encode()
    earlier = json.dumps(webhook("m-1", Status.SENT, 1, recipient=RECIPIENT)).encode()
    assert await post_webhook(client, delivered) == 200  # applied
    assert await post_webhook(client, delivered) == 200  # duplicate
    assert await post_webhook(client, earlier) == 200  # late
    assert await post_webhook(client, b'{"not": "a report"}') == 400  # malformed
    assert await post_webhook(client, delivered, secret="wrong") == 401  # never ingested
    for message_id in ("m-1", "m-2"):
        await client.get(f"/messages/{message_id}", headers=AUTH)


async def test_the_counters_move_by_exactly_the_traffic_sent(tmp_path: Path) -> None:
    async with running(receiver_app(tmp_path)) as client:
        before = await scrape(client)
        await send_traffic(client)
        after = await scrape(client)

    connectly = {"provider": "connectly"}
    assert moved(before, after, "ledger_reports_ingested_total") == {
        labels(**connectly, outcome=outcome): 1.0 for outcome in ("applied", "duplicate", "late", "malformed")
    }
    assert moved(before, after, "ledger_rejections_stored_total") == {labels(**connectly): 1.0}
    # Four reports went through the writer, one batch each (each was answered before the next).
    assert moved(before, after, "ledger_writer_batch_reports_sum") == {labels(): 4.0}
    assert moved(before, after, "ledger_writer_batch_reports_count") == {labels(): 4.0}
    assert moved(before, after, "ledger_writer_commit_duration_seconds_count") == {labels(): 4.0}
    assert moved(before, after, "ledger_http_requests_total") == {
        labels(route="/messages/sent", method="POST", status="200"): 1.0,
        labels(route=WEBHOOK_PATH, method="POST", status="200"): 3.0,
        labels(route=WEBHOOK_PATH, method="POST", status="400"): 1.0,
        labels(route=WEBHOOK_PATH, method="POST", status="401"): 1.0,
        labels(route="/messages/{message_id}", method="GET", status="200"): 1.0,
        labels(route="/messages/{message_id}", method="GET", status="404"): 1.0,
        # The first scrape's own answer, counted once it was sent.
        labels(route="/metrics", method="GET", status="200"): 1.0,
    }
    assert after["ledger_writer_queue_depth", labels()] == 0.0
    assert moved(before, after, "ledger_storage_errors_total") == {}


async def test_each_view_lags_by_the_events_it_has_not_read_until_a_read_catches_it_up(tmp_path: Path) -> None:
    async with running(receiver_app(tmp_path)) as client:
        await send_traffic(client)
        behind = await scrape(client)
        assert (await client.get("/reports/summary", headers=AUTH)).status_code == 200
        caught_up = await scrape(client)

    lags = {dict(key)["view"]: value for (name, key), value in behind.items() if name == "ledger_projection_lag_events"}
    assert set(lags) == {"current_status", "failure_report", "funnel"}
    assert all(lag > 0 for lag in lags.values())
    assert {value for (name, _), value in caught_up.items() if name == "ledger_projection_lag_events"} == {0.0}


async def test_the_label_values_are_bounded(tmp_path: Path) -> None:
    app = receiver_app(tmp_path)
    templates = set(app.openapi()["paths"])
    async with running(app) as client:
        await send_traffic(client)
        for message_id in ("a", "b", "c/history"):
            await client.get(f"/messages/{message_id}", headers=AUTH)
        samples = await scrape(client)

    seen: dict[str, set[str]] = {}
    for _, key in samples:
        for label, value in key:
            seen.setdefault(label, set()).add(value)
    assert seen["provider"] == set(PROVIDERS)
    assert seen["outcome"] == set(OUTCOMES)
    assert seen["route"] <= templates
    assert seen["view"] == {"current_status", "failure_report", "funnel"}


async def test_metrics_need_the_api_token(tmp_path: Path) -> None:
    async with running(receiver_app(tmp_path)) as client:
        refused = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert (refused.status_code, refused.json()["error"]) == (401, "unauthorized")
    assert wrong.status_code == 401


async def test_each_receiver_counts_only_its_own_traffic(tmp_path: Path) -> None:
    busy, idle = receiver_app(tmp_path, "busy.db"), receiver_app(tmp_path, "idle.db")
    async with running(busy) as busy_client, running(idle) as idle_client:
        idle_before = await scrape(idle_client)
        await send_traffic(busy_client)
        idle_after = await scrape(idle_client)
        busy_after = await scrape(busy_client)
    assert moved(idle_before, idle_after, "ledger_reports_ingested_total") == {}
    assert sum(v for (name, _), v in busy_after.items() if name == "ledger_reports_ingested_total") == 4.0


async def test_a_storage_error_answer_is_counted_by_its_class(tmp_path: Path) -> None:
    app = receiver_app(tmp_path)
    body = json.dumps(webhook("m-1", Status.DELIVERED, 5, recipient=RECIPIENT)).encode()
    async with running(app) as client:
        before = await scrape(client)
        app.state.receiver.runtime.writer.close()  # As at shutdown: the writer refuses new work.
        assert await post_webhook(client, body) == 503
        after = await scrape(client)
    assert moved(before, after, "ledger_storage_errors_total") == {labels(error="WriterUnavailableError"): 1.0}
    assert moved(before, after, "ledger_reports_ingested_total") == {}
    assert labels(route=WEBHOOK_PATH, method="POST", status="503") in moved(before, after, "ledger_http_requests_total")


async def test_the_readme_table_names_every_metric_served(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(ledger_\w+)` \|", readme, flags=re.MULTILINE))
    async with running(receiver_app(tmp_path)) as client:
        answer = await client.get("/metrics", headers=AUTH)
    served = set()
    for family in text_string_to_metric_families(answer.text):
        if family.name.endswith("_created"):
            continue  # prometheus-client's creation times of the counters and histograms.
        served.add(f"{family.name}_total" if family.type == "counter" else family.name)
    assert served == documented


async def test_a_meta_body_counts_each_of_its_statuses_under_meta(tmp_path: Path) -> None:
    settings = ServerSettings(url=f"sqlite:///{tmp_path / 'meta.db'}", api_token=TOKEN, meta_app_secret=SECRET)
    body = status_body("w-1", Status.SENT, timestamp=1_767_000_000)
    template = body["entry"][0]["changes"][0]["value"]["statuses"][0]
    statuses = [("w-1", "sent"), ("w-2", "delivered"), ("w-1", "deleted")]
    body["entry"][0]["changes"][0]["value"]["statuses"] = [template | {"id": i, "status": s} for i, s in statuses]
    raw = json.dumps(body).encode()
    async with running(create_app(settings)) as client:
        before = await scrape(client)
        signed = {"X-Hub-Signature-256": meta_sign(SECRET, raw), "content-type": "application/json"}
        assert (await client.post("/webhooks/meta", content=raw, headers=signed)).status_code == 200
        after = await scrape(client)
    assert moved(before, after, "ledger_reports_ingested_total") == {
        labels(provider="meta", outcome="applied"): 2.0,
        labels(provider="meta", outcome="rejected"): 1.0,
    }
    assert moved(before, after, "ledger_rejections_stored_total") == {labels(provider="meta"): 1.0}


async def test_with_metrics_off_nothing_is_served_at_metrics_and_webhooks_still_answer(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'off.db'}"
    app = create_app(ServerSettings(url=url, secret=SECRET, api_token=TOKEN, metrics=False))
    body = json.dumps(webhook("m-1", Status.DELIVERED, 5, recipient=RECIPIENT)).encode()
    async with running(app) as client:
        assert await post_webhook(client, body) == 200
        assert (await client.get("/metrics", headers=AUTH)).status_code == 404
    assert app.state.receiver.metrics is None
