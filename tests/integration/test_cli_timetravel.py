"""``ledger status ID --as-of T``, ``ledger history ID --until T``, ``ledger summary --as-of T`` and
``ledger failures --as-of T``: what the ledger knew at T."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from ledger.cli import app, console
from tests.integration import test_past_views as past_views
from tests.integration.test_timetravel import write

runner = CliRunner()


def run(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def db(sqlite_database: str) -> str:
    """m-1 recorded as sent at 01:00 on 2022-01-07, reported delivered at 02:00 and read at 03:00."""
    write(sqlite_database)
    return sqlite_database


def test_status_as_of_a_time_shows_the_message_as_it_stood_then(db: str) -> None:
    then = json.loads(run("status", "m-1", "--as-of", "2022-01-07T02:30:00Z", "--json", "--db", db).stdout)
    assert (then["status"], then["read_at"], then["version"]) == ("delivered", None, 3)
    now = json.loads(run("status", "m-1", "--json", "--db", db).stdout)
    assert now["status"] == "read"


def test_a_time_without_a_zone_is_utc_and_one_with_an_offset_is_converted(db: str) -> None:
    naive = json.loads(run("status", "m-1", "--as-of", "2022-01-07T01:59:59", "--json", "--db", db).stdout)
    assert naive["status"] == "accepted"
    # 03:00+01:00 is 02:00 UTC: the delivery had just arrived.
    shifted = json.loads(run("status", "m-1", "--as-of", "2022-01-07T03:00+01:00", "--json", "--db", db).stdout)
    assert shifted["status"] == "delivered"


def test_history_until_a_time_lists_what_had_arrived_by_then(db: str) -> None:
    entries = json.loads(run("history", "m-1", "--until", "2022-01-07T02:00:00Z", "--json", "--db", db).stdout)
    assert [entry["event"] for entry in entries] == ["opened", "send_recorded", "stage_reported"]
    table = run("history", "m-1", "--until", "2022-01-07T02:00:00Z", "--db", db)
    assert table.exit_code == 0
    rows = [line for line in table.stdout.splitlines() if line.startswith("│ ")]
    assert [row.split()[3] for row in rows] == ["opened", "send_recorded", "stage_reported"]
    assert "delivered" in rows[-1]


@pytest.mark.parametrize("command", [["status", "m-1", "--as-of"], ["history", "m-1", "--until"]])
def test_before_the_message_arrived_it_is_unknown_and_a_bad_time_is_a_usage_error(db: str, command: list[str]) -> None:
    early = run(*command, "2022-01-07T00:59:59Z", "--db", db)
    assert early.exit_code == 1
    assert "no message with id 'm-1' as of 2022-01-07T00:59:59+00:00" in early.stderr
    bad = run(*command, "yesterday", "--db", db)
    assert bad.exit_code == 2
    assert "not an ISO-8601 time" in bad.stderr


@pytest.fixture
def campaign_db(sqlite_database: str) -> str:
    """m-1 and m-2 sent at 01:00; m-1 delivered and m-2 failed at 02:00; m-1 read and m-3 sent at 03:00."""
    past_views.write(sqlite_database)
    return sqlite_database


def test_summary_as_of_a_time_is_the_funnel_of_what_had_arrived_by_then(campaign_db: str) -> None:
    args = ("summary", "--json", "--db", campaign_db)
    [then] = json.loads(run(*args, "--as-of", "2022-01-07T02:00:00Z").stdout)
    assert (then["total"], then["counts"]["delivered"], then["counts"]["failed"]) == (2, 1, 1)
    [now] = json.loads(run(*args).stdout)
    assert (now["total"], now["counts"]["read"]) == (3, 1)
    # The live views were caught up by the second call; a moment in the past still rebuilds apart.
    [again] = json.loads(run(*args, "--as-of", "2022-01-07T01:59:59Z").stdout)
    assert (again["total"], again["counts"]["accepted"]) == (2, 2)


def test_failures_as_of_a_time_lists_only_the_failures_received_by_then(campaign_db: str) -> None:
    args = ("failures", "--details", "--json", "--db", campaign_db)
    assert json.loads(run(*args, "--as-of", "2022-01-07T01:59:59Z").stdout) == []
    [failure] = json.loads(run(*args, "--as-of", "2022-01-07T02:00:00Z").stdout)
    assert failure["message_id"] == "m-2"
    [group] = json.loads(run("failures", "--json", "--db", campaign_db, "--as-of", "2022-01-07T02:00:00Z").stdout)
    assert group["count"] == 1
    assert run("failures", "--as-of", "soon", "--db", campaign_db).exit_code == 2


def test_activity_as_of_a_time_counts_only_the_reports_received_by_then(campaign_db: str) -> None:
    def totals(*args: str) -> dict[str, int]:
        buckets = json.loads(run("activity", "--json", "--db", campaign_db, *args).stdout)
        return {status: sum(bucket["reports"][status] for bucket in buckets) for status in ("delivered", "read")}

    assert totals("--as-of", "2022-01-07T01:59:59Z") == {"delivered": 0, "read": 0}
    assert totals("--as-of", "2022-01-07T02:00:00Z") == {"delivered": 1, "read": 0}
    assert totals() == {"delivered": 1, "read": 1}
    assert run("activity", "--as-of", "soon", "--db", campaign_db).exit_code == 2


def test_status_and_history_at_a_log_position_show_the_events_up_to_there(db: str) -> None:
    # m-1's events are the whole log: opened and send_recorded (1, 2), delivered (3), read (4).
    then = json.loads(run("status", "m-1", "--at-position", "3", "--json", "--db", db).stdout)
    assert (then["status"], then["version"]) == ("delivered", 3)
    entries = json.loads(run("history", "m-1", "--at-position", "2", "--json", "--db", db).stdout)
    assert [entry["event"] for entry in entries] == ["opened", "send_recorded"]
    assert run("status", "m-1", "--at-position", "0", "--db", db).exit_code == 1
    both = run("status", "m-1", "--at-position", "3", "--as-of", "2022-01-07T02:00:00Z", "--db", db)
    assert both.exit_code == 2
    assert "cannot be used together" in both.stderr
    assert run("history", "m-1", "--at-position", "-1", "--db", db).exit_code == 2


def test_the_rebuild_as_of_a_time_shows_its_progress_on_a_terminal(
    campaign_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = io.StringIO()
    monkeypatch.setattr(console, "err", Console(file=terminal, force_terminal=True, width=120))
    result = run("summary", "--as-of", "2022-01-07T02:00:00Z", "--json", "--db", campaign_db)
    assert result.exit_code == 0, result.output
    assert "rebuilding as of 2022-01-07T02:00:00+00:00" in terminal.getvalue()
