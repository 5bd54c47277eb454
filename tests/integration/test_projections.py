"""The projections' contract on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from eventsourcing.persistence import Notification
from sqlalchemy import insert, select

from ledger import Ledger, Status
from ledger.simulate import Traffic
from projections import Progress, ProjectionConflictError, Projections
from projections.base import metadata
from tests.integration.contract import OPTED_OUT, RECIPIENT, SENDER, T0, webhook


def dump(projections: Projections) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every view, in primary-key order."""
    with projections.ledger.engine.connect() as connection:
        return {
            table.name: [tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key.columns))]
            for table in metadata.sorted_tables
            if table.name != "view_tracking"
        }


def fill(ledger: Ledger, messages: int, seed: int = 7) -> int:
    traffic = Traffic(messages, seed=seed)
    for send in traffic.sends():
        send.record_in(ledger)
    payloads = list(traffic.webhooks())
    for start in range(0, len(payloads), 300):
        ledger.ingest_many(payloads[start : start + 300])
    return len(payloads)


class ProjectionsContract:
    @pytest.fixture
    def url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def ledger(self, url: str) -> Iterator[Ledger]:
        with Ledger.open(url) as ledger:
            yield ledger

    @pytest.fixture
    def views(self, ledger: Ledger) -> Projections:
        return Projections(ledger)

    def test_catch_up_processes_everything_new_once(self, ledger: Ledger, views: Projections) -> None:
        ledger.record_sent("m-1", sender=SENDER, recipient=RECIPIENT)
        ledger.ingest(webhook("m-1", Status.DELIVERED, 5))
        assert views.catch_up() == 3
        assert views.catch_up() == 0
        ledger.ingest(webhook("m-1", Status.READ, 9))
        assert views.catch_up() == 1
        assert views.positions() == dict.fromkeys(views.names, views.head())

    def test_view_rows_are_stored_as_sqlalchemy_stores_them(self, ledger: Ledger, views: Projections) -> None:
        # The views write rows through the driver on SQLite: the stored values (times as
        # text, booleans as integers) must be exactly what SQLAlchemy's own insert stores.
        fill(ledger, 40)
        views.catch_up()
        for table in metadata.sorted_tables:
            with ledger.engine.begin() as connection:
                order = ", ".join(column.name for column in table.primary_key.columns)
                raw = f"SELECT * FROM {table.name} ORDER BY {order}"
                written = connection.exec_driver_sql(raw).all()
                rows = [dict(row) for row in connection.execute(select(table)).mappings()]
                connection.execute(table.delete())
                if rows:
                    connection.execute(insert(table), rows)
                assert connection.exec_driver_sql(raw).all() == written, table.name
                assert written or table.name == "view_tracking"

    def test_current_status_agrees_with_the_ledger(self, ledger: Ledger, views: Projections) -> None:
        fill(ledger, 60)
        views.catch_up()
        page = views.current_status.list(limit=1000)
        assert len(page.rows) == 60
        for row in page.rows:
            message = ledger.message(row.message_id)
            assert (row.status, row.sent_at, row.delivered_at, row.read_at, row.failed_at, row.version) == (
                message.status,
                message.sent_at,
                message.delivered_at,
                message.read_at,
                message.failed_at,
                message.version,
            )
            assert (row.recipient, row.campaign, row.conflicts) == (message.recipient, message.campaign, 0)
            assert row.error_code == (message.error.code if message.error else None)
        counts = views.current_status.count_by_status()
        assert sum(counts.values()) == 60
        assert counts == {s: sum(1 for r in page.rows if r.status is s) for s in Status}

    def test_listing_pages_by_keyset_without_gaps_or_repeats(self, ledger: Ledger, views: Projections) -> None:
        fill(ledger, 45)
        views.catch_up()
        seen: list[str] = []
        page = views.current_status.list(limit=10)
        while True:
            seen += [row.message_id for row in page.rows]
            if page.next_cursor is None:
                break
            page = views.current_status.list(limit=10, after=page.next_cursor)
        assert len(seen) == len(set(seen)) == 45
        read = views.current_status.list(status=Status.READ, limit=1000).rows
        assert read
        assert all(r.status is Status.READ for r in read)

    def test_failure_report_groups_failures_and_counts_conflicts(self, ledger: Ledger, views: Projections) -> None:
        for n in range(7):
            ledger.ingest(webhook(f"f-{n}", Status.FAILED, n, error=OPTED_OUT))
        ledger.ingest(webhook("r-1", Status.READ, 1))
        ledger.ingest(webhook("r-1", Status.FAILED, 2, error=OPTED_OUT))  # a contradiction
        views.catch_up()
        [group] = views.failure_report.summary(by="code")
        assert (group.key, group.count, group.share, group.conflicts) == (OPTED_OUT.code, 7, 1.0, 1)
        assert (group.first_at, group.last_at) == (T0, T0 + timedelta(seconds=6))
        assert len(group.trace_ids) == 5
        failures = views.failure_report.failures(code=OPTED_OUT.code)
        assert [f.conflict for f in failures].count(True) == 1
        assert {f.trace_id for f in failures} == {OPTED_OUT.trace_id}
        assert views.failure_report.failures(conflicts=False, since=T0 + timedelta(seconds=5)) == failures[-2:]

    def test_a_campaign_learned_after_the_failure_describes_it(self, ledger: Ledger, views: Projections) -> None:
        ledger.ingest(webhook("m-1", Status.FAILED, 1, error=OPTED_OUT))
        views.catch_up()
        ledger.record_sent("m-1", sender=SENDER, recipient=RECIPIENT, campaign="spring")
        views.catch_up()
        assert [g.key for g in views.failure_report.summary(by="campaign")] == ["spring"]

    def test_funnel_counts_rates_and_latencies(self, ledger: Ledger, views: Projections) -> None:
        for n, (delivered_after, read_after) in enumerate([(10, 100), (20, None), (30, 300), (None, None)]):
            ledger.record_sent(f"m-{n}", sender=SENDER, recipient=RECIPIENT, campaign="c", sent_at=T0)
            ledger.ingest(webhook(f"m-{n}", Status.SENT, 0))
            if delivered_after is not None:
                ledger.ingest(webhook(f"m-{n}", Status.DELIVERED, delivered_after))
            if read_after is not None:
                ledger.ingest(webhook(f"m-{n}", Status.READ, read_after))
        ledger.ingest(webhook("m-x", Status.FAILED, 0))
        views.catch_up()
        [overall] = views.funnel.summary()
        assert overall.total == 5
        assert overall.counts[Status.READ] == 2
        assert overall.counts[Status.FAILED] == 1
        assert (overall.delivery_rate, overall.read_rate, overall.failure_rate) == (3 / 5, 2 / 3, 1 / 5)
        assert (overall.sent_to_delivered.p50, overall.sent_to_delivered.p99) == (20.0, 30.0)
        assert (overall.delivered_to_read.count, overall.delivered_to_read.p50) == (2, 90.0)
        assert [(r.key, r.total) for r in views.funnel.summary(by="campaign")] == [(None, 1), ("c", 4)]
        assert [(r.key, r.total) for r in views.funnel.summary(by="day")] == [(T0.date().isoformat(), 5)]

    def test_a_rebuild_equals_the_incremental_views_row_for_row(self, ledger: Ledger, views: Projections) -> None:
        fill(ledger, 80)
        ledger.ingest(webhook("zz", Status.READ, 1))
        ledger.ingest(webhook("zz", Status.FAILED, 2, error=OPTED_OUT))
        views.catch_up(page_size=37)
        incremental = dump(views)
        progress: list[Progress] = []
        assert views.rebuild(on_progress=progress.append) == views.head()
        assert dump(views) == incremental
        assert [p.position for p in progress] == sorted(p.position for p in progress)
        assert progress[-1].position == progress[-1].head == views.head()

    def test_rebuilding_one_view_leaves_the_others(self, ledger: Ledger, views: Projections) -> None:
        fill(ledger, 10)
        views.catch_up()
        before = dump(views)
        assert views.rebuild("funnel") == views.head()
        assert dump(views) == before
        with pytest.raises(ValueError, match="no projection named"):
            views.rebuild("nope")

    def test_views_at_different_positions_catch_up_without_replaying_the_one_ahead(
        self, ledger: Ledger, views: Projections
    ) -> None:
        ledger.ingest(webhook("m-x", Status.READ, 1))  # opened at the start of the log
        fill(ledger, 30)
        ledger.ingest(webhook("m-x", Status.FAILED, 2, error=OPTED_OUT))  # a contradiction at its end: counted once
        views.catch_up()
        expected = dump(views)

        def interrupt(progress: Progress) -> None:
            raise KeyboardInterrupt

        # A rebuild of one view interrupted after its first page leaves it behind the others.
        with pytest.raises(KeyboardInterrupt):
            views.rebuild("failure_report", page_size=7, on_progress=interrupt)
        assert views.positions()["failure_report"] == 7 < views.positions()["current_status"]
        views.catch_up(page_size=3)
        assert views.positions() == dict.fromkeys(views.names, views.head())
        assert dump(views) == expected
        assert views.current_status.get("m-x").conflicts == 1  # type: ignore[union-attr]

    def test_a_page_processed_by_another_runner_is_refused(self, ledger: Ledger, views: Projections) -> None:
        ledger.ingest(webhook("m-1", Status.FAILED, 1, error=OPTED_OUT))
        other = Projections(ledger)
        read_log = ledger.recorder.read_log
        raced: list[int] = []

        def read_then_let_the_other_runner_win(after: int, limit: int) -> list[Notification]:
            page = read_log(after, limit)
            if not raced:
                raced.append(0)  # first, so the other runner's own reads pass straight through
                raced[0] = other.catch_up()
            return page

        ledger.recorder.read_log = read_then_let_the_other_runner_win  # type: ignore[method-assign]
        with pytest.raises(ProjectionConflictError, match="another runner"):
            views.catch_up()
        del ledger.recorder.read_log
        assert raced == [2]
        assert len(views.failure_report.failures()) == 1  # not counted twice
        assert views.catch_up() == 0

    def test_follow_keeps_the_views_current_until_stopped(self, ledger: Ledger, views: Projections) -> None:
        stop, progressed = threading.Event(), threading.Condition()
        reached = {"position": 0}

        def on_progress(progress: Progress) -> None:
            with progressed:
                reached["position"] = max(reached["position"], progress.position)
                progressed.notify_all()

        follower = threading.Thread(target=views.follow, kwargs={"stop": stop, "on_progress": on_progress})
        follower.start()
        try:
            ledger.ingest(webhook("m-1", Status.SENT, 1))
            ledger.ingest(webhook("m-1", Status.DELIVERED, 2))
            target = views.head()
            with progressed:
                done = progressed.wait_for(lambda: reached["position"] >= target, timeout=30)
            assert done, "follow() did not process the new events"
        finally:
            stop.set()
            follower.join(timeout=30)
        assert not follower.is_alive()
        row = views.current_status.get("m-1")
        assert row is not None
        assert row.status is Status.DELIVERED


class TestProjectionsOnSQLiteFile(ProjectionsContract):
    @pytest.fixture
    def url(self, sqlite_database: str) -> str:
        return sqlite_database


@pytest.mark.postgres
class TestProjectionsOnPostgreSQL(ProjectionsContract):
    @pytest.fixture
    def url(self, postgres_database: str) -> str:
        return postgres_database


def test_projections_open_their_own_ledger(sqlite_database: str) -> None:
    with Ledger.open(sqlite_database) as ledger:
        ledger.ingest(webhook("m-1", Status.SENT, 1))
    with Projections.open(sqlite_database) as views:
        assert views.catch_up() == 2
        assert views.current_status.get("m-1") is not None
        assert views.current_status.get("nope") is None
