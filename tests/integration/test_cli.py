"""The ``ledger`` command end to end: Typer's runner for most, a real subprocess once."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ledger import Status
from ledger.cli import app
from ledger.connectly import delivery_status_payload
from tests.integration.contract import OPTED_OUT, T0

runner = CliRunner()


def run(*args: str, input: str | None = None) -> Any:
    return runner.invoke(app, list(args), input=input, catch_exceptions=False)


@pytest.fixture
def db(sqlite_database: str) -> str:
    return sqlite_database


def payloads() -> list[dict[str, Any]]:
    return [
        delivery_status_payload("m-1", Status.SENT, timestamp=T0),
        delivery_status_payload("m-1", Status.READ, timestamp=1641513200),
        delivery_status_payload("m-1", Status.DELIVERED, timestamp=1641513100),
        delivery_status_payload("m-1", Status.DELIVERED, timestamp=1641513100),
        delivery_status_payload("m-2", Status.FAILED, timestamp=T0, error=OPTED_OUT),
    ]


def test_ingest_reads_json_lines_and_keeps_bad_lines(db: str, tmp_path: Path) -> None:
    lines = [json.dumps(p) for p in payloads()] + ["{not json", ""]
    (tmp_path / "w.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run("ingest", str(tmp_path / "w.jsonl"), "--db", db)
    assert result.exit_code == 0, result.output
    counts = {row.split()[1]: row.split()[3] for row in result.stdout.splitlines() if row.startswith("│ ")}
    assert counts == {"applied": "3", "late": "1", "duplicate": "1", "rejected": "1", "total": "6"}
    rejections = json.loads(run("rejections", "--json", "--db", db).stdout)
    assert [(r["kind"], r["raw"]) for r in rejections] == [("malformed", "{not json")]


def test_ingest_reads_a_json_array_from_stdin(db: str) -> None:
    result = run("ingest", "-", "--db", db, input=json.dumps(payloads()))
    assert result.exit_code == 0, result.output
    status = json.loads(run("status", "m-1", "--json", "--db", db).stdout)
    assert status["status"] == "read"
    assert status["delivered_at"] == "2022-01-06T23:51:40+00:00"


def test_status_and_history_as_json(db: str) -> None:
    run("record-sent", "m-2", "--recipient", "+16044551234", "--campaign", "fall", "--db", db)
    run("ingest", "-", "--db", db, input=json.dumps(payloads()))
    status = json.loads(run("status", "m-2", "--json", "--db", db).stdout)
    assert (status["status"], status["campaign"]) == ("failed", "fall")
    assert status["error"]["code"] == OPTED_OUT.code
    assert status["error"]["trace_id"] == OPTED_OUT.trace_id
    history = json.loads(run("history", "m-1", "--json", "--db", db).stdout)
    assert [h["event"] for h in history] == ["opened", "stage_reported", "stage_reported", "stage_reported_late"]
    assert history[1]["occurred_at"] == T0.isoformat()
    assert json.loads(history[1]["raw"])["statusUpdate"]["id"] == "m-1"


def test_failures_as_json_and_csv(db: str) -> None:
    run("ingest", "-", "--db", db, input=json.dumps(payloads()))
    [group] = json.loads(run("failures", "--json", "--db", db).stdout)
    assert (group["key"], group["count"], group["share"], group["trace_ids"]) == (OPTED_OUT.code, 1, 1.0, ["99"])
    rows = list(csv.DictReader(io.StringIO(run("failures", "--by", "type", "--csv", "--db", db).stdout)))
    assert [(r["key"], r["count"]) for r in rows] == [(OPTED_OUT.type, "1")]
    details = json.loads(run("failures", "--details", "--json", "--db", db).stdout)
    assert [(d["message_id"], d["trace_id"]) for d in details] == [("m-2", "99")]
    assert json.loads(run("failures", "--since", "2030-01-01", "--json", "--db", db).stdout) == []


def test_summary_as_json_and_as_a_chart(db: str) -> None:
    run("ingest", "-", "--db", db, input=json.dumps(payloads()))
    [overall] = json.loads(run("summary", "--json", "--db", db).stdout)
    assert overall["counts"] == {"accepted": 0, "sent": 0, "delivered": 0, "read": 1, "failed": 1}
    assert overall["delivery_rate"] == 0.5
    chart = run("summary", "--db", db).stdout
    assert "█" in chart
    assert "delivery rate" in chart


def test_demo_then_rebuild_and_project(db: str) -> None:
    result = run("demo", "--messages", "150", "--db", db)
    assert result.exit_code == 0, result.output
    assert "Delivery funnel" in result.stdout
    assert "Failures by code" in result.stdout
    before = run("summary", "--json", "--db", db).stdout
    assert run("rebuild", "--db", db).exit_code == 0
    assert run("summary", "--json", "--db", db).stdout == before
    assert "processed 0 events" in run("project", "--db", db).stdout


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["status", "nope"], 1, "no message with id 'nope'"),
        (["history", "nope"], 1, "no message with id 'nope'"),
        (["ingest", "/no/such/file.jsonl"], 2, "No such file"),
        (["record-sent", "", "--recipient", "+1"], 2, "message_id"),
        (["rebuild", "nope"], 2, "no projection named 'nope'"),
    ],
)
def test_errors_are_one_line_on_stderr(db: str, args: list[str], code: int, words: str) -> None:
    result = run(*args, "--db", db)
    assert result.exit_code == code
    assert words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_an_unreachable_database_is_one_line_and_exit_3() -> None:
    result = run("status", "m-1", "--db", "postgresql://postgres@127.0.0.1:1/none")
    assert result.exit_code == 3
    assert result.stderr.startswith("error: could not open the ledger")


def test_bad_times_are_usage_errors(db: str) -> None:
    result = run("failures", "--since", "yesterday", "--db", db)
    assert result.exit_code == 2
    assert "not an ISO-8601 time" in result.output


def test_the_installed_console_script_runs(db: str, tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("ledger")
    assert script.exists(), "the console script is not installed; run `pip install -e .`"
    env = {**os.environ, "LEDGER_DATABASE_URL": db}
    body = json.dumps(payloads()[0])
    ingest = subprocess.run(
        [str(script), "ingest", "-"], input=body, capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert ingest.returncode == 0, ingest.stderr
    status = subprocess.run(
        [str(script), "status", "m-1", "--json"], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["status"] == "sent"
