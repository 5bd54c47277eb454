"""Guards for what docs/upgrades.md listed as not pinned: each fails loudly when an upgrade
of eventsourcing, eventsourcing-sqlalchemy or pydantic changes what the ledger relies on."""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder

from ledger import Ledger, Status
from ledger.connectly import delivery_status_payload
from ledger.http import ServerSettings, create_app
from ledger.message import Message
from ledger.persistence import LedgerRecorder
from ledger.sqlstore import SQLMessageStore

#: sha256 of eventsourcing 9.5.6's ``Application.save`` source, which ``SQLMessageStore.save``
#: mirrors step by step: a release that changes it must be read before the bound is raised.
APPLICATION_SAVE_SHA256 = "4e9747d14b8fd046df1b9b8ce688be89030978de0c04a632e6a7ec783dc7c5cc"

# The store's own overrides of Application's names, on purpose (see SQLMessageStore).
OVERRIDES = {"name", "env", "save", "close", "construct_env", "construct_factory"}


def own_names(names: set[str]) -> set[str]:
    """``names`` without Python's own (dunders, the ABC machinery's ``_abc_impl``)."""
    return {name for name in names if not (name.startswith("__") and name.endswith("__")) and name != "_abc_impl"}


@pytest.fixture
def ledger(sqlite_database: str) -> Iterator[Ledger]:
    with Ledger.open(sqlite_database) as ledger:
        yield ledger


def test_application_save_is_still_the_one_the_store_mirrors() -> None:
    source = inspect.getsource(Application.save)
    assert hashlib.sha256(source.encode()).hexdigest() == APPLICATION_SAVE_SHA256, (
        "eventsourcing's Application.save changed: make SQLMessageStore.save take the same steps, "
        "then record the new digest here"
    )


def test_the_stores_names_are_not_eventsourcings(ledger: Ledger) -> None:
    store = ledger.store
    assert isinstance(store, SQLMessageStore)
    stock: Application[UUID] = Application({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        upstream = set(dir(Application)) | set(vars(stock))
    finally:
        stock.close()
    ours = own_names(set(vars(SQLMessageStore)) | set(vars(store))) - set(vars(stock)) - OVERRIDES
    assert ours & upstream == set(), "an eventsourcing release now uses a name the store defines"


def test_the_messages_names_are_not_eventsourcings() -> None:
    ours = own_names(set(vars(Message)))
    clashes = {name for name in ours & set(dir(Aggregate)) if not isinstance(vars(Message)[name], type)}
    assert clashes == set(), "an eventsourcing release now uses a name Message defines"


def test_the_recorders_insert_is_the_one_eventsourcing_sqlalchemy_calls(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder_class = type(ledger.recorder)
    assert issubclass(recorder_class, LedgerRecorder)
    inserted: list[int] = []
    ours = recorder_class._insert_stored_events

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        ids = ours(self, *args, **kwargs)
        inserted.extend(ids)
        return ids

    monkeypatch.setattr(recorder_class, "_insert_stored_events", counting)
    ledger.ingest_many([delivery_status_payload(f"m-{n}", Status.SENT, timestamp=1_700_000_000) for n in range(3)])
    # Opened and StageReported for each message: six events, all through our insert.
    assert len(inserted) == 6


def test_every_reference_in_the_openapi_document_resolves(sqlite_database: str) -> None:
    document = create_app(ServerSettings(url=sqlite_database)).openapi()
    schemas = document["components"]["schemas"]
    references: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                references.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    prefix = "#/components/schemas/"
    assert references
    assert all(ref.startswith(prefix) and ref[len(prefix) :] in schemas for ref in references), references
    # The webhook's body schema is written in place (no references), so a host application
    # that includes the receiver's router gets it whole in its own document.
    operation = document["paths"]["/webhooks/connectly/delivery-status"]["post"]
    webhook = operation["requestBody"]["content"]["application/json"]["schema"]
    assert webhook["title"] == "DeliveryStatusWebhook"
    assert "$ref" not in json.dumps(webhook)
    assert {"sender", "recipient", "statusUpdate"} <= set(webhook["properties"])
    assert "anyOf" in webhook["properties"]["timestamp"]


def test_the_recorders_chain_names_are_not_eventsourcing_sqlalchemys(ledger: Ledger) -> None:
    """The hash chain adds names to eventsourcing-sqlalchemy's recorder; a release must not define them."""
    recorder = ledger.recorder
    chain_names = {"chain_table", "chained", "detect_chain", "sql_engine", "chained_rows", "_select_chain_hashes"}
    chain_names |= {"read_chain", "select_chain_of", "begin_heads", "commit_heads", "_heads", "_staged"}
    assert chain_names <= set(dir(recorder))
    upstream = set(dir(SQLAlchemyApplicationRecorder))
    assert chain_names & upstream == set(), "an eventsourcing-sqlalchemy release now uses a name the recorder defines"
    # create_table is overridden on purpose (to add the chain column): it must still be upstream's hook.
    assert "create_table" in upstream
