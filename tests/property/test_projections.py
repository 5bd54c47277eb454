"""Projections: incremental (any page size) == rebuild == a pure fold == the domain."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ledger import Ledger, Outcome, Status
from projections import Projections
from projections import current_status as current_status_view
from projections import funnel as funnel_view
from projections.base import aggregate_key
from tests.integration.test_projections import dump
from tests.strategies import report_streams


def folded(ledger: Ledger, fold: Any) -> list[dict[str, Any]]:
    """The rows a pure fold over the whole log gives, in key order."""
    rows: dict[str, dict[str, Any]] = {}
    for notification in ledger.recorder.select_notifications(start=None, limit=1_000_000):
        event = ledger.mapper.to_domain_event(notification)
        key = aggregate_key(event.originator_id)
        rows[key] = fold(rows.get(key), event)
    return [rows[key] for key in sorted(rows)]


def table_rows(ledger: Ledger, table: Any) -> list[dict[str, Any]]:
    with ledger.engine.connect() as connection:
        return [dict(r) for r in connection.execute(select(table).order_by(table.c.aggregate_id)).mappings()]


@settings(max_examples=25, deadline=None)
@given(st.data(), report_streams(max_messages=5))
def test_incremental_views_equal_a_rebuild_and_a_pure_fold(data: st.DataObject, payloads: list[dict[str, Any]]) -> None:
    with Ledger.open("sqlite://") as ledger:
        # A tiny row cache: rows are evicted and read back between pages.
        views = Projections(ledger, row_cache_size=data.draw(st.integers(0, 3)))
        # Ingest in random batches, catching up in random page sizes in between.
        while payloads:
            size = data.draw(st.integers(1, 6))
            batch, payloads = payloads[:size], payloads[size:]
            ledger.ingest_many(batch)
            if data.draw(st.booleans()):
                views.catch_up(page_size=data.draw(st.integers(1, 7)))
        views.catch_up(page_size=data.draw(st.integers(1, 7)))
        incremental = dump(views)

        views.rebuild(page_size=data.draw(st.integers(1, 50)))
        assert dump(views) == incremental

        assert table_rows(ledger, current_status_view.current_status_table) == folded(ledger, current_status_view.fold)
        assert table_rows(ledger, funnel_view.funnel_table) == folded(ledger, funnel_view.fold)


@settings(max_examples=25, deadline=None)
@given(report_streams(max_messages=5))
def test_the_views_agree_with_the_domain(payloads: list[dict[str, Any]]) -> None:
    with Ledger.open("sqlite://") as ledger:
        ledger.ingest_many(payloads)
        views = Projections(ledger)
        views.catch_up(page_size=3)
        failures = views.failure_report.failures(limit=10_000)
        for message_id in {p["statusUpdate"]["id"] for p in payloads}:
            message = ledger.message(message_id)
            row = views.current_status.get(message_id)
            assert row is not None
            assert (row.status, row.sent_at, row.delivered_at, row.read_at, row.failed_at) == (
                message.status,
                message.sent_at,
                message.delivered_at,
                message.read_at,
                message.failed_at,
            )
            assert (row.conflicts, row.version) == (message.conflicts, message.version)
            expected_failures = sorted(
                (h.occurred_at, h.outcome is Outcome.REJECTED, h.error.trace_id if h.error else None)
                for h in ledger.history(message_id)
                if h.stage is Status.FAILED
            )
            assert expected_failures == sorted(
                (f.failed_at, f.conflict, f.trace_id) for f in failures if f.message_id == message_id
            )
