"""``GET /messages/{id}?as_of=T``, ``GET /messages/{id}/history?until=T`` and the reports' ``as_of=T``
against a real ``ledger serve``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_past_views import write
from tests.problems import assert_problem
from tests.servers import Server, serving


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Serving m-1 and m-2, sent at 01:00 on 2022-01-07; m-1 delivered and m-2 failed at 02:00; m-1 read and
    m-3 sent at 03:00."""
    tmp: Path = tmp_path_factory.mktemp("timetravel")
    url = f"sqlite:///{tmp / 'ledger.db'}"
    write(url)
    with serving(url, tmp / "serve.log") as running:
        yield running


def test_a_message_as_of_a_time_is_the_message_as_it_stood_then(server: Server) -> None:
    then = server.get("/messages/m-1", as_of="2022-01-07T02:30:00Z")
    assert then.status_code == 200, then.text
    assert (then.json()["status"], then.json()["read_at"], then.json()["version"]) == ("delivered", None, 3)
    assert server.get("/messages/m-1", as_of="2022-01-07T01:59:59").json()["status"] == "accepted"
    assert server.get("/messages/m-1").json()["status"] == "read"


def test_a_history_until_a_time_lists_what_had_arrived_by_then(server: Server) -> None:
    answer = server.get("/messages/m-1/history", until="2022-01-07T03:00:00+01:00")
    assert answer.status_code == 200, answer.text
    assert [entry["event"] for entry in answer.json()] == ["opened", "send_recorded", "stage_reported"]
    assert len(server.get("/messages/m-1/history").json()) == 4


def test_before_the_message_arrived_it_is_not_found(server: Server) -> None:
    assert_problem(server.get("/messages/m-1", as_of="2022-01-07T00:59:59Z"), 404, "not_found")
    assert_problem(server.get("/messages/m-1/history", until="2022-01-07T00:59:59Z"), 404, "not_found")


def test_a_time_that_does_not_parse_is_refused(server: Server) -> None:
    assert_problem(server.get("/messages/m-1", as_of="yesterday"), 400, "invalid_request")
    assert_problem(server.get("/messages/m-1/history", until="yesterday"), 400, "invalid_request")


def test_the_reports_as_of_a_time_count_what_had_arrived_by_then(server: Server) -> None:
    [funnel] = server.get("/reports/summary", as_of="2022-01-07T02:00:00Z").json()
    assert (funnel["total"], funnel["counts"]["delivered"], funnel["counts"]["failed"]) == (2, 1, 1)
    assert server.get("/reports/summary").json()[0]["total"] == 3
    assert server.get("/reports/failures", as_of="2022-01-07T01:59:59Z", details="true").json() == []
    [failure] = server.get("/reports/failures", as_of="2022-01-07T02:00:00Z", details="true").json()
    assert failure["message_id"] == "m-2"
    [group] = server.get("/reports/failures", as_of="2022-01-07T02:00:00Z", by="campaign").json()
    assert (group["key"], group["count"]) == ("fall", 1)
    assert_problem(server.get("/reports/summary", as_of="soon"), 400, "invalid_request")


def test_the_activity_as_of_a_time_counts_what_had_arrived_by_then(server: Server) -> None:
    def failures(**params: str) -> list[dict[str, int]]:
        return [bucket["failures"] for bucket in server.get("/reports/activity", **params).json() if bucket["failures"]]

    assert failures(as_of="2022-01-07T01:59:59Z") == []
    [then] = failures(as_of="2022-01-07T02:00:00Z")
    assert sum(then.values()) == 1
    now = server.get("/reports/activity").json()
    assert sum(bucket["reports"]["read"] for bucket in now) == 1
    assert (
        sum(
            bucket["reports"]["read"] for bucket in server.get("/reports/activity", as_of="2022-01-07T02:00:00Z").json()
        )
        == 0
    )
    assert_problem(server.get("/reports/activity", as_of="soon"), 400, "invalid_request")


def test_a_message_at_a_log_position_is_made_of_its_events_up_to_there(server: Server) -> None:
    # The log begins with m-1's opened and send_recorded (1, 2), then m-2's (3, 4).
    assert server.get("/messages/m-1", at_position=2).json()["version"] == 2
    assert_problem(server.get("/messages/m-2", at_position=2), 404, "not_found")
    assert [entry["event"] for entry in server.get("/messages/m-2/history", at_position=4).json()] == [
        "opened",
        "send_recorded",
    ]
    assert_problem(server.get("/messages/m-1", at_position=-1), 400, "invalid_request")
    both = server.get("/messages/m-1/history", at_position=2, until="2022-01-07T02:00:00Z")
    assert_problem(both, 400, "invalid_request")
