"""AsyncLedger under anyio (on asyncio): concurrent awaits lose nothing, commit in groups,
and never block the event loop; on every backend.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import anyio
import pytest

from ledger import Ledger, MessageNotFoundError, Outcome, Status
from ledger.aio import AsyncLedger
from ledger.ingestion import BodyOutcome
from ledger.meta.payloads import status_body
from ledger.providers import Body
from ledger.simulate import Traffic
from ledger.twilio.payloads import callback_body
from tests.integration.contract import OPTED_OUT, RECIPIENT, SENDER, webhook

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # AsyncLedger runs on asyncio, as FastAPI and uvicorn do.


class AsyncContract:
    """Subclasses provide ``url``: a SQLAlchemy URL (a string) of an empty database."""

    @pytest.fixture
    def url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    async def ledger(self, url: str) -> AsyncIterator[AsyncLedger]:
        async with AsyncLedger.open(url, max_wait=0.01) as opened:
            yield opened

    async def test_concurrent_ingests_are_all_stored_in_fewer_commits(self, ledger: AsyncLedger, url: str) -> None:
        payloads = [payload for payload, _ in zip(Traffic(60, seed=3).webhooks(), range(300), strict=False)]
        outcomes: dict[int, object] = {}

        async def ingest(index: int) -> None:
            outcomes[index] = await ledger.ingest(payloads[index])

        async with anyio.create_task_group() as tasks:
            for index in range(len(payloads)):
                tasks.start_soon(ingest, index)
        assert sorted(outcomes) == list(range(len(payloads)))
        assert ledger.writer.reports == len(payloads)
        assert ledger.writer.batches < len(payloads)  # grouped: concurrent awaits shared commits
        # The log holds what a sequential ingest of the same reports stores.
        with Ledger.in_memory() as reference, Ledger.open(url, create=False) as stored:
            for outcome in reference.ingest_many(payloads):
                if outcome.message_id is not None and not outcome.malformed:
                    assert stored.message(outcome.message_id) == reference.message(outcome.message_id)

    async def test_concurrent_bodies_of_each_provider_are_stored_in_fewer_commits(
        self, ledger: AsyncLedger, url: str
    ) -> None:
        stages = (Status.SENT, Status.DELIVERED, Status.READ)
        bodies: list[tuple[Body, str]] = [
            (status_body(f"w-{n}", stage, timestamp=1_767_000_000 + s), "meta")
            for n in range(20)
            for s, stage in enumerate(stages)
        ]
        bodies += [(callback_body(f"SM{n}", Status.DELIVERED), "twilio") for n in range(20)]
        outcomes: dict[int, BodyOutcome] = {}

        async def ingest(index: int) -> None:
            body, provider = bodies[index]
            outcomes[index] = await ledger.ingest_body(body, provider=provider)

        async with anyio.create_task_group() as tasks:
            for index in range(len(bodies)):
                tasks.start_soon(ingest, index)
        assert sorted(outcomes) == list(range(len(bodies)))
        assert ledger.writer.reports == len(bodies)
        assert ledger.writer.batches < len(bodies)  # grouped per provider
        assert {o.provider for o in outcomes.values()} == {"meta", "twilio"}
        with Ledger.open(url, create=False) as stored:
            assert {stored.message(f"meta:w-{n}").status for n in range(20)} == {Status.READ}
            assert {stored.message(f"twilio:SM{n}").status for n in range(20)} == {Status.DELIVERED}

    async def test_commands_and_queries_are_awaited_and_see_each_others_writes(self, ledger: AsyncLedger) -> None:
        view = await ledger.record_sent("m-1", sender=SENDER, recipient=RECIPIENT, campaign="fall")
        assert view.status is Status.ACCEPTED
        outcomes = await ledger.ingest_many(
            [webhook("m-1", Status.FAILED, 30, recipient=RECIPIENT, error=OPTED_OUT), b"not json"]
        )
        assert [outcome.kind for outcome in outcomes] == [Outcome.APPLIED, Outcome.REJECTED]
        assert (await ledger.message("m-1")).status is Status.FAILED
        assert [entry.event for entry in await ledger.history("m-1")][-1] == "stage_reported"
        assert [r.raw for r in await ledger.rejections()] == [b"not json"]
        assert [row.message_id for row in (await ledger.messages(status=Status.FAILED)).rows] == ["m-1"]
        assert [f.trace_id for f in await ledger.failures()] == [OPTED_OUT.trace_id]
        assert (await ledger.failure_summary(by="campaign"))[0].key == "fall"
        assert (await ledger.summary())[0].counts[Status.FAILED] == 1
        with pytest.raises(MessageNotFoundError):
            await ledger.message("unknown")

    async def test_the_event_loop_keeps_running_while_the_database_is_busy(self, ledger: AsyncLedger) -> None:
        # The writer is held inside a write: awaits wait, the loop does not.
        entered, release = threading.Event(), threading.Event()

        def hold(_: Ledger) -> None:
            entered.set()
            release.wait(30)

        held = asyncio.ensure_future(ledger._write(hold))
        await anyio.to_thread.run_sync(entered.wait)
        waiting = asyncio.ensure_future(ledger.ingest(webhook("m-1", Status.SENT)))
        ticks = 0
        for _ in range(20):
            await anyio.sleep(0)  # the loop turns: nothing blocks it
            ticks += 1
        assert ticks == 20
        assert not waiting.done()
        release.set()
        await held
        assert (await waiting).kind is Outcome.APPLIED

    async def test_a_cancelled_await_still_has_its_report_stored(self, ledger: AsyncLedger) -> None:
        with anyio.CancelScope() as scope:
            scope.cancel()
            await ledger.ingest(webhook("m-1", Status.DELIVERED))
        assert scope.cancelled_caught
        await ledger.ingest(webhook("m-2", Status.SENT))  # after m-1's, in the writer's order
        assert (await ledger.message("m-1")).status is Status.DELIVERED


class TestSQLite(AsyncContract):
    @pytest.fixture
    def url(self, sqlite_database: str) -> str:
        return sqlite_database


@pytest.mark.postgres
class TestPostgres(AsyncContract):
    @pytest.fixture
    def url(self, postgres_database: str) -> str:
        return postgres_database
