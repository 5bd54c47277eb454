"""``ledger verify``, ``seal`` and ``checkpoint`` end to end (Typer's runner, a SQLite file)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from ledger import Ledger, message_uuid
from ledger.audit.checkpoints import CheckpointSchedule
from ledger.cli import ExitStatus, app
from tests.integration.test_audit import write_history

runner = CliRunner()


def run(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def db(sqlite_database: str) -> str:
    with Ledger.open(sqlite_database) as ledger:
        write_history(ledger)
    return sqlite_database


def test_verify_exits_0_when_every_chain_holds(db: str) -> None:
    result = run("verify", "--db", db)
    assert result.exit_code == ExitStatus.OK, result.output
    assert result.stdout.splitlines() == ["verified: 15 events of 3 messages, 0 checkpoints; 0 events predate the seal"]


def test_verify_prints_one_line_per_problem_and_exits_5(db: str) -> None:
    with Ledger.open(db) as ledger:
        table = ledger.recorder.chain_table
        with ledger.engine.begin() as connection:
            connection.execute(
                update(table)
                .where(table.c.originator_id == message_uuid("m-2"), table.c.originator_version == 4)
                .values(state=b"{}")
            )
    result = run("verify", "--db", db)
    assert result.exit_code == ExitStatus.NOT_VERIFIED.value == 5
    lines = result.stdout.splitlines()
    assert (
        lines[0]
        == f"problem: edited: message {message_uuid('m-2')} version 4: its stored bytes no longer give its chain hash"
    )
    assert lines[1].startswith("NOT verified: 1 problems")
    as_json = json.loads(run("verify", "--json", "--db", db).stdout)
    assert (as_json["ok"], [p["kind"] for p in as_json["problems"]]) == (False, ["edited"])


def test_checkpoint_prints_position_root_and_time_and_seal_says_it_is_done(db: str) -> None:
    printed = run("checkpoint", "--db", db)
    assert printed.exit_code == 0, printed.output
    words = printed.stdout.split()
    assert words[:4] == ["checkpoint", "1", "position", "15"]
    assert (words[4], len(words[5]), words[6]) == ("root", 64, "at")
    recorded = json.loads(run("checkpoint", "--json", "--db", db).stdout)
    assert (recorded["sequence"], recorded["position"], recorded["root"]) == (2, 15, words[5])
    sealed = run("seal", "--db", db)
    assert sealed.stdout.strip() == "already sealed at position 0 (0 events predate the seal)"
    assert "2 checkpoints" in run("verify", "--db", db).stdout


def test_the_audit_commands_create_no_ledger(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    for command in ("verify", "seal", "checkpoint"):
        assert run(command, "--db", url).exit_code == ExitStatus.DATABASE
    assert not (tmp_path / "none.db").exists()


def test_verify_since_a_checkpoint_counts_the_events_after_it(db: str) -> None:
    run("checkpoint", "--db", db)
    with Ledger.open(db) as ledger:
        write_history(ledger, ("m-4",))
    result = run("verify", "--since", "1", "--db", db)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("verified: 5 events after position 15 of 4 messages, 1 checkpoints")
    unknown = run("verify", "--since", "2", "--db", db)
    assert (unknown.exit_code, unknown.stderr.strip()) == (ExitStatus.USAGE, "error: no checkpoint 2 is recorded")


def test_project_records_a_checkpoint_once_enough_events_were_added(db: str) -> None:
    first = run("project", "--checkpoint-every", "10", "--db", db)
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[1].startswith("checkpoint 1 position 15 root ")
    assert "checkpoint" not in run("project", "--checkpoint-every", "10", "--db", db).stdout
    with Ledger.open(db) as ledger:
        write_history(ledger, ("m-4",))
    assert "checkpoint" not in run("project", "--checkpoint-every", "10", "--db", db).stdout
    with Ledger.open(db) as ledger:
        write_history(ledger, ("m-5",))
    assert "checkpoint 2 position 25 root " in run("project", "--checkpoint-every", "10", "--db", db).stdout
    assert run("verify", "--db", db).exit_code == 0


def test_a_schedule_by_time_records_a_checkpoint_when_due_and_something_was_added(db: str) -> None:
    now = [0.0]
    with Ledger.open(db) as ledger:
        schedule = CheckpointSchedule(ledger.recorder, every_seconds=60, clock=lambda: now[0])
        assert schedule.after(15) is None  # not yet a minute
        now[0] = 61.0
        first = schedule.after(15)
        assert first is not None
        assert (first.sequence, first.position) == (1, 15)
        now[0] = 200.0
        assert schedule.after(15) is None  # due, but nothing was added
        write_history(ledger, ("m-4",))
        assert schedule.after(20) is not None
    with pytest.raises(ValueError, match="a number of events, a time, or both"):
        CheckpointSchedule(ledger.recorder)


def test_project_takes_a_checkpoint_every_few_minutes_or_events(db: str) -> None:
    result = run("project", "--checkpoint-minutes", "60", "--db", db)
    assert result.exit_code == 0, result.output
    assert "checkpoint" not in result.stdout  # the hour starts with the run (the schedule above shows it due)
    both = run("project", "--checkpoint-minutes", "60", "--checkpoint-every", "10", "--db", db)
    assert both.stdout.splitlines()[1].startswith("checkpoint 1 position 15 root ")
    usage = run("project", "--checkpoint-minutes", "0", "--db", db)
    assert usage.exit_code == ExitStatus.USAGE
