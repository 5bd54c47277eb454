"""``ledger summary --campaign --since --until`` and ``ledger activity``, on a SQLite file."""

from __future__ import annotations

import json

from ledger import Ledger
from tests.integration.test_cli import run
from tests.integration.test_dashboard_queries import traffic


def test_the_summary_of_a_campaign_and_a_time_range(sqlite_database: str) -> None:
    with Ledger.open(sqlite_database) as ledger:
        traffic(ledger)
    db = ("--db", sqlite_database)
    [fall] = json.loads(run("summary", "--json", "--campaign", "fall", *db).stdout)
    [later] = json.loads(run("summary", "--json", "--since", "2022-01-07T00:00:00Z", *db).stdout)
    [early] = json.loads(run("summary", "--json", "--until", "2022-01-07", *db).stdout)
    assert (fall["total"], fall["counts"]["failed"]) == (2, 2)
    assert (later["total"], later["counts"]["delivered"]) == (2, 1)
    assert (early["total"], early["counts"]["read"]) == (2, 1)
    backwards = run("summary", "--since", "2022-01-08", "--until", "2022-01-07", *db)
    assert backwards.exit_code == 2
    assert "--since is later than --until" in backwards.stderr


def test_activity_per_hour_as_json_and_as_a_table(sqlite_database: str) -> None:
    with Ledger.open(sqlite_database) as ledger:
        traffic(ledger)
    db = ("--db", sqlite_database)
    hours = json.loads(run("activity", "--bucket", "hour", "--campaign", "fall", "--json", *db).stdout)
    assert [(h["start"], h["reports"]["accepted"], h["failures"]) for h in hours] == [
        ("2022-01-06T23:00:00+00:00", 1, {"ERROR_CODE_MESSAGE_CUSTOMER_OPTED_OUT": 1}),
        ("2022-01-07T00:00:00+00:00", 1, {"(none)": 1}),
    ]
    table = run("activity", *db).stdout
    assert "2022-01-06" in table
    assert "2022-01-07" in table
    assert "ERROR_CODE_MESSAGE_CUSTOMER_OPTED_OUT 1" in table
    refused = run("activity", "--bucket", "week", *db)
    assert refused.exit_code == 2
