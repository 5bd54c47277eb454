"""The ``ledger`` command end to end: Typer's runner for most, a real subprocess once."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
import typer
from typer.testing import CliRunner

from ledger import Ledger, Status
from ledger.cli import app
from ledger.cli.errors import fail
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


def test_rejections_page_newest_first_and_by_message(db: str, tmp_path: Path) -> None:
    lines = [json.dumps(p) for p in payloads()] + ["{one", "{two", "{three"]
    (tmp_path / "w.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert run("ingest", str(tmp_path / "w.jsonl"), "--db", db).exit_code == 0

    def page(*options: str) -> list[tuple[int, str]]:
        result = run("rejections", "--json", "--db", db, *options)
        assert result.exit_code == 0, result.output
        return [(r["id"], r["raw"]) for r in json.loads(result.stdout)]

    everything = page()
    assert [raw for _, raw in everything] == ["{one", "{two", "{three"]
    first = page("--newest-first", "--limit", "2")
    assert first == everything[::-1][:2]
    assert page("--newest-first", "--before", str(first[-1][0])) == everything[:1]
    assert page("--message", "m-1") == []  # every rejection here is a body that named no message


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
    Ledger.open(db).close()
    assert_one_line_error(run(*args, "--db", db), code, words)


def assert_one_line_error(result: Any, code: int, words: str) -> None:
    assert (result.exit_code, result.stdout) == (code, "")
    assert words in result.stderr
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["simulate", "--messages", "-5"], "Invalid value for '--messages'"),
        (["demo", "--messages", "0"], "Invalid value for '--messages'"),
        (["rejections", "--limit", "-1"], "Invalid value for '--limit'"),
        (["rejections", "--limit", "[/bold]\x1b[31m"], "'--limit'"),
        (["failures", "--json", "--csv"], "--json and --csv cannot be used together"),
        (["failures", "--since", "2024-02-01", "--until", "2024-01-01"], "--since is later than --until"),
        (["failures", "--since", "0001-01-01T00:00:00+01:00"], "not an ISO-8601 time"),
        (["failures", "--by", "[red]x"], "--by"),
        (["no-such-command"], "No such command"),
        (["status", "m-1", "--db", "mysql://user@host/db"], "unsupported database 'mysql'"),
        (["status", "m-1", "--db", "postgresql://user:secret@host:port/db"], "not a database URL"),
        (["ingest", "-", "--db", "sqlite+pysqlcipher:///x.db"], "driver 'pysqlcipher' is not installed"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(db: str, args: list[str], words: str) -> None:
    result = run(*args)
    assert_one_line_error(result, 2, words)
    assert "secret" not in result.stderr
    assert "\x1b" not in result.stderr


def test_an_unreachable_database_is_one_line_and_exit_3() -> None:
    result = run("status", "m-1", "--db", "postgresql://postgres@127.0.0.1:1/none")
    assert_one_line_error(result, 3, "could not open the ledger")


READS = [["status", "m-1"], ["history", "m-1"], ["failures"], ["summary"], ["activity"], ["rejections"], ["rebuild"]]


@pytest.mark.parametrize("args", READS)
def test_a_read_never_creates_a_sqlite_file(tmp_path: Path, args: list[str]) -> None:
    result = run(*args, "--db", f"sqlite:///{tmp_path / 'typo.db'}")
    assert_one_line_error(result, 3, f"no ledger at sqlite:///{tmp_path / 'typo.db'}")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.postgres
@pytest.mark.parametrize("args", READS)
def test_a_read_of_a_postgresql_database_without_a_ledger_creates_none(postgres_database: str, args: list[str]) -> None:
    assert_one_line_error(run(*args, "--db", postgres_database), 3, "no ledger at")
    engine = sqlalchemy.create_engine(postgres_database)
    try:
        assert sqlalchemy.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_the_database_can_come_before_the_command_or_from_the_environment(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("--db", db, "ingest", "-", input=json.dumps(payloads())).exit_code == 0
    assert json.loads(run("--db", db, "status", "m-1", "--json").stdout)["status"] == "read"
    monkeypatch.setenv("LEDGER_DATABASE_URL", db)
    assert json.loads(run("status", "m-1", "--json").stdout)["status"] == "read"
    elsewhere = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    # The nearest says where: after the command, then before it, then the environment.
    assert run("--db", elsewhere, "status", "m-1", "--db", db).exit_code == 0
    assert run("--db", elsewhere, "status", "m-1").exit_code == 3
    monkeypatch.setenv("LEDGER_DATABASE_URL", elsewhere)
    assert run("--db", db, "status", "m-1").exit_code == 0


def test_version() -> None:
    result = run("--version")
    assert (result.exit_code, result.stdout) == (0, f"ledger {version('delivery-ledger')}\n")


def test_markup_in_ids_and_stored_text_is_shown_literally(db: str) -> None:
    assert run("record-sent", "[/bold]x", "--recipient", "+1", "--campaign", "[red]abc", "--db", db).exit_code == 0
    shown = run("status", "[/bold]x", "--db", db)
    assert shown.exit_code == 0, shown.stderr
    assert "Message [/bold]x" in shown.stdout
    assert "[red]abc" in shown.stdout
    assert_one_line_error(run("history", "[/bold]y", "--db", db), 1, "no message with id '[/bold]y'")
    assert "History of [/bold]x" in run("history", "[/bold]x", "--db", db).stdout


def test_control_characters_are_escaped_in_tables_json_and_csv(db: str) -> None:
    hostile = "\x1b[31mred\u202eevil\x9b2J"
    body = json.dumps({"statusUpdate": {"id": hostile}}) + hostile
    failed = delivery_status_payload("m-9", Status.FAILED, timestamp=T0, error=OPTED_OUT, campaign=hostile)
    run("ingest", "-", "--db", db, input=body + "\n" + json.dumps(failed) + "\n")
    outputs = [
        run("rejections", "--db", db),
        run("rejections", "--json", "--db", db),
        run("status", "m-9", "--db", db),
        run("failures", "--by", "campaign", "--db", db),
        run("failures", "--by", "campaign", "--csv", "--db", db),
        run("failures", "--details", "--csv", "--db", db),
        run("summary", "--by", "campaign", "--db", db),
    ]
    for result in outputs:
        assert result.exit_code == 0, result.stderr
        assert not {"\x1b", "\u202e", "\x9b"} & set(result.stdout + result.stderr)
    assert "\\x1b[31mred\\u202eevil\\x9b2J" in outputs[2].stdout  # the campaign
    [stored] = json.loads(outputs[1].stdout)
    assert stored["raw"] == body  # JSON escapes: the exact text comes back
    assert "\\u202e" in outputs[1].stdout
    [group] = csv.DictReader(io.StringIO(outputs[4].stdout))
    assert group["key"] == "\\x1b[31mred\\u202eevil\\x9b2J"


def test_a_failing_hint_keeps_its_brackets(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit):
        fail("install the server extra: pip install 'delivery-ledger[server]'", 2)
    assert capsys.readouterr().err == "error: install the server extra: pip install 'delivery-ledger[server]'\n"


def test_ingest_dry_run_prints_the_outcomes_and_stores_nothing(db: str) -> None:
    run("ingest", "-", "--db", db, input=json.dumps(payloads()[:1]))
    before = run("history", "m-1", "--json", "--db", db).stdout
    lines = "\n".join([json.dumps(p) for p in payloads()] + ["{not json"])
    trial = run("ingest", "-", "--dry-run", "--db", db, input=lines)
    assert trial.exit_code == 0, trial.stderr
    assert trial.stderr == "dry run: nothing was stored\n"
    assert run("history", "m-1", "--json", "--db", db).stdout == before
    assert json.loads(run("rejections", "--json", "--db", db).stdout) == []
    assert run("status", "m-2", "--db", db).exit_code == 1
    # The real run has the outcomes the dry run printed.
    assert run("ingest", "-", "--db", db, input=lines).stdout == trial.stdout


def test_a_dry_run_needs_a_ledger_and_creates_none(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    assert_one_line_error(run("ingest", "-", "--dry-run", "--db", url, input="{}"), 3, "no ledger at")
    assert list(tmp_path.iterdir()) == []


def test_failures_as_csv_without_rows_still_has_its_header(db: str) -> None:
    Ledger.open(db).close()
    assert run("failures", "--csv", "--db", db).stdout == "key,count,share,conflicts,first_at,last_at,trace_ids\n"
    header = run("failures", "--details", "--csv", "--db", db).stdout
    assert header.startswith("message_id,recipient,campaign,failed_at,")
    assert header.count("\n") == 1


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
