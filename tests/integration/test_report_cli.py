"""``ledger report --html FILE``: the overview and the failure report as one static file, with
the API's numbers, nothing to fetch, no script, and stored text shown as text."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ledger import Ledger
from ledger.cli import ExitStatus, app
from tests.integration.test_dashboard import HOSTILE_CAMPAIGN, fill, marked

runner = CliRunner()


def run(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def db(sqlite_database: str) -> str:
    fill(sqlite_database)
    return sqlite_database


def test_the_report_is_one_file_with_the_ledgers_numbers(db: str, tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    result = run("report", "--html", str(target), "--db", db)
    assert result.exit_code == ExitStatus.OK, result.output
    assert result.stdout.strip() == f"6 messages, 2 failures; written to {target}"
    html = target.read_text(encoding="utf-8")
    with Ledger.open(db, create=False) as ledger:
        funnel = ledger.summary()[0]
        groups = ledger.failure_summary(by="code")
    assert marked(html, "total") == "6"
    assert marked(html, "failure-rate") == f"{funnel.failure_rate:.1%}"
    assert [int(n) for n in re.findall(r'data-testid="group-count">(\d+)<', html)] == [g.count for g in groups]
    # Self-contained: no script, nothing fetched, no link to a page a file cannot reach.
    assert "<script" not in html
    assert not re.search(r'(src|href)="', html)
    # A hostile campaign name is text.
    assert HOSTILE_CAMPAIGN not in html
    assert HOSTILE_CAMPAIGN in unescape(html)


def test_the_report_of_one_campaign_says_so(db: str, tmp_path: Path) -> None:
    target = tmp_path / "spring.html"
    result = run("report", "--html", str(target), "--campaign", "spring", "--by", "campaign", "--db", db)
    assert result.exit_code == ExitStatus.OK, result.output
    html = target.read_text(encoding="utf-8")
    assert marked(html, "total") == "5"
    assert "campaign spring" in html


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--by", "colour"), "choose one of"),
        (("--since", "2026-02-01", "--until", "2026-01-01"), "--since is later than --until"),
        (("--since", "soon"), "not an ISO-8601 time"),
    ],
)
def test_a_wrong_option_is_a_usage_error(db: str, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = run("report", "--html", str(tmp_path / "r.html"), *args, "--db", db)
    assert result.exit_code == ExitStatus.USAGE
    assert message in result.output
    assert not (tmp_path / "r.html").exists()


def test_a_file_that_cannot_be_written_is_said_plainly(db: str, tmp_path: Path) -> None:
    result = run("report", "--html", str(tmp_path / "missing" / "r.html"), "--db", db)
    assert result.exit_code == ExitStatus.USAGE
    assert "cannot write" in result.output
