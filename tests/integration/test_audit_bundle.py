"""Audit bundles: a message's history exported with its chain hashes and an inclusion proof,
checked offline against a trusted root; every edit of the bundle is refused and named.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ledger import Ledger, MessageNotFoundError, Status
from ledger.audit import record_checkpoint
from ledger.audit.bundle import check_bundle, export_bundle
from ledger.cli import app
from tests.integration.contract import webhook
from tests.integration.test_audit import MESSAGES, write_history

Edit = Callable[[dict[str, Any]], None]


def _stored_bytes(bundle: dict[str, Any]) -> None:
    event = bundle["events"][2]
    state = json.loads(base64.b64decode(event["stored"]))
    state["raw"] = state["raw"].replace("sent", "read")
    event["stored"] = base64.b64encode(json.dumps(state).encode()).decode()


def _dropped_event(bundle: dict[str, Any]) -> None:
    del bundle["events"][2]


def _path_node(bundle: dict[str, Any]) -> None:
    bundle["proof"]["path"][0] = "00" * 32


def _checkpoint_root(bundle: dict[str, Any]) -> None:
    bundle["checkpoint"]["root"] = "11" * 32


EDITS: dict[str, tuple[Edit, str]] = {
    "stored bytes": (_stored_bytes, "event version 3: its stored bytes do not give its chain hash"),
    "chain hash": (
        lambda b: b["events"][1].update(chain_hash="22" * 32),
        "event version 2: its stored bytes do not give its chain hash",
    ),
    "decoded form": (
        lambda b: b["events"][0]["decoded"].update(recipient="+15559999"),
        "event version 1: the decoded form is not what is stored",
    ),
    "a dropped event": (_dropped_event, "event 3: version 4 is out of order"),
    "the proof": (_path_node, "the inclusion proof does not lead from the message's chain head"),
    "the checkpoint's root": (_checkpoint_root, "checkpoint 1: its fields do not give its hash"),
    "the message id": (
        lambda b: b.update(message_id="m-3"),
        "the message id does not give the bundle's originator id",
    ),
    "the format": (lambda b: b.update(format="other"), "not an audit bundle of this format"),
}


class BundleContract:
    @pytest.fixture
    def url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def ledger(self, url: str) -> Iterator[Ledger]:
        with Ledger.open(url) as ledger:
            write_history(ledger)
            yield ledger

    def test_an_exported_bundle_verifies_against_the_checkpoints_root(self, ledger: Ledger) -> None:
        checkpoint = record_checkpoint(ledger.recorder)
        bundle = json.loads(json.dumps(export_bundle(ledger.recorder, "m-2")))  # as read from a file
        assert [event["version"] for event in bundle["events"]] == [1, 2, 3, 4, 5]
        assert bundle["checkpoint"]["root"] == checkpoint.root.hex()
        assert bundle["proof"]["tree_size"] == len(MESSAGES)
        assert check_bundle(bundle, root=checkpoint.root.hex()) == []
        assert check_bundle(bundle, root="ab" * 32) == [
            f"checkpoint 1's root {checkpoint.root.hex()} is not the trusted root"
        ]

    def test_events_after_the_checkpoint_are_chained_but_not_proven(self, ledger: Ledger) -> None:
        checkpoint = record_checkpoint(ledger.recorder)
        ledger.ingest(webhook("m-1", Status.READ, 99))  # a duplicate: nothing appended
        ledger.record_sent("m-9", sender="+15550000", recipient="+15551111")
        ledger.ingest(webhook("m-9", Status.SENT, 5))
        with pytest.raises(ValueError, match="no checkpoint covers message 'm-9' yet"):
            export_bundle(ledger.recorder, "m-9")
        newer = record_checkpoint(ledger.recorder)
        ledger.ingest(webhook("m-9", Status.DELIVERED, 6))
        bundle = export_bundle(ledger.recorder, "m-9")
        assert [event["after_checkpoint"] for event in bundle["events"]] == [False, False, False, True]
        assert check_bundle(bundle, root=newer.root.hex()) == []
        assert newer.root != checkpoint.root

    def test_an_unknown_message_has_no_bundle(self, ledger: Ledger) -> None:
        record_checkpoint(ledger.recorder)
        with pytest.raises(MessageNotFoundError):
            export_bundle(ledger.recorder, "m-unknown")


class TestSQLite(BundleContract):
    @pytest.fixture
    def url(self, sqlite_database: str) -> str:
        return sqlite_database

    @pytest.mark.parametrize("edit", EDITS)
    def test_an_edited_bundle_is_refused_and_the_edit_named(self, ledger: Ledger, edit: str) -> None:
        root = record_checkpoint(ledger.recorder).root.hex()
        bundle = export_bundle(ledger.recorder, "m-2")
        change, expected = EDITS[edit]
        edited = copy.deepcopy(bundle)
        change(edited)
        found = check_bundle(edited, root=root)
        assert any(problem.startswith(expected) for problem in found), found


@pytest.mark.postgres
class TestPostgres(BundleContract):
    @pytest.fixture
    def url(self, postgres_database: str) -> str:
        return postgres_database


def test_the_commands_export_and_check_a_bundle_offline(sqlite_database: str, tmp_path: Path) -> None:
    with Ledger.open(sqlite_database) as ledger:
        write_history(ledger)
        root = record_checkpoint(ledger.recorder).root.hex()
    runner = CliRunner()
    path = tmp_path / "m-1.json"
    exported = runner.invoke(app, ["--db", sqlite_database, "audit", "m-1", "--export", str(path)])
    assert exported.exit_code == 0, exported.output
    assert f"5 events, 5 proven by checkpoint 1 (root {root})" in exported.output
    Path(sqlite_database.removeprefix("sqlite:///")).unlink()  # offline: no database at all
    checked = runner.invoke(app, ["verify-bundle", str(path), "--root", root])
    assert (checked.exit_code, checked.output) == (0, "verified: 5 events of m-1, 5 proven in checkpoint 1\n")
    bundle = json.loads(path.read_text())
    bundle["events"][4]["chain_hash"] = "33" * 32
    path.write_text(json.dumps(bundle))
    refused = runner.invoke(app, ["verify-bundle", str(path), "--root", root])
    assert refused.exit_code == 5
    # The proof starts from the head recomputed from the stored bytes, which still holds.
    assert refused.output.splitlines() == [
        "problem: event version 5: its stored bytes do not give its chain hash",
        "NOT verified: 1 problem",
    ]
