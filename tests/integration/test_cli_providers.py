"""``ledger simulate --provider`` and ``ledger ingest --provider`` for every provider's format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ledger import Ledger
from ledger.cli import app
from ledger.meta import PRICING, status_body

runner = CliRunner()


def run(*args: str, input: str | None = None) -> Any:
    return runner.invoke(app, list(args), input=input, catch_exceptions=False)


def counts(output: str) -> dict[str, str]:
    return {row.split()[1]: row.split()[3] for row in output.splitlines() if row.startswith("│ ")}


@pytest.mark.parametrize("provider", ["connectly", "meta", "twilio"])
def test_simulated_traffic_of_each_provider_ingests_to_the_same_outcomes(
    provider: str, tmp_path: Path, sqlite_database: str
) -> None:
    simulated = run("simulate", "--messages", "40", "--seed", "7", "--provider", provider)
    assert simulated.exit_code == 0, simulated.output
    (tmp_path / "w.txt").write_text(simulated.stdout, encoding="utf-8")
    result = run("ingest", str(tmp_path / "w.txt"), "--provider", provider, "--db", sqlite_database)
    assert result.exit_code == 0, result.output
    reference = run("simulate", "--messages", "40", "--seed", "7")
    (tmp_path / "c.txt").write_text(reference.stdout, encoding="utf-8")
    other = tmp_path / "connectly.db"
    expected = run("ingest", str(tmp_path / "c.txt"), "--db", f"sqlite:///{other}")
    assert counts(result.stdout) == counts(expected.stdout)
    assert sum(int(n) for kind, n in counts(result.stdout).items() if kind == "applied") > 40


def test_simulated_twilio_traffic_is_one_form_body_a_line() -> None:
    lines = run("simulate", "--messages", "5", "--provider", "twilio").stdout.splitlines()
    assert lines
    assert all(line.startswith("MessageSid=") and "MessageStatus=" in line for line in lines)


def test_simulated_meta_traffic_is_json_lines_of_cloud_api_bodies() -> None:
    lines = run("simulate", "--messages", "5", "--provider", "meta").stdout.splitlines()
    assert {json.loads(line)["object"] for line in lines} == {"whatsapp_business_account"}


def test_ingest_counts_inbound_meta_bodies_and_keeps_unknown_statuses(sqlite_database: str) -> None:
    value = {"statuses": [{"id": "w1", "status": "deleted", "timestamp": "1"}]}
    unknown = {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": value}]}]}
    inbound_value = {"messages": [{"from": "1", "id": "in", "timestamp": "1", "type": "text"}]}
    inbound = {
        "object": "whatsapp_business_account",
        "entry": [{"changes": [{"field": "messages", "value": inbound_value}]}],
    }
    text = json.dumps(unknown) + "\n" + json.dumps(inbound) + "\n"
    result = run("ingest", "-", "--provider", "meta", "--db", sqlite_database, input=text)
    assert result.exit_code == 0, result.output
    assert counts(result.stdout)["rejected"] == "1"
    assert "inbound: 1" in result.stderr
    with Ledger.open(sqlite_database) as ledger:
        assert [(r.kind, r.message_id) for r in ledger.rejections()] == [("unmapped", "meta:w1")]


def test_an_unknown_provider_is_bad_usage(sqlite_database: str) -> None:
    result = run("ingest", "-", "--provider", "sinch", "--db", sqlite_database, input="")
    assert result.exit_code == 2


def test_status_shows_the_provider_and_metas_facts(sqlite_database: str) -> None:
    body = json.dumps(status_body("wamid.1", "sent", timestamp=1641513098, pricing=PRICING))
    assert run("ingest", "-", "--provider", "meta", "--db", sqlite_database, input=body).exit_code == 0
    shown = run("status", "meta:wamid.1", "--db", sqlite_database)
    assert shown.exit_code == 0, shown.output
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in shown.stdout.splitlines() if "│" in line}
    assert (rows["provider"], rows["pricing_category"], rows["billable"]) == ("meta", "marketing", "true")
