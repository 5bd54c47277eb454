"""The persistence package answers the topics the ledger's environment names (no database)."""

from __future__ import annotations

import pytest
from eventsourcing.utils import Environment, resolve_topic

from ledger import Ledger
from ledger.persistence import LedgerFactory, LedgerMapper, LedgerTranscoder


def test_the_ledgers_environment_names_the_persistence_packages_classes() -> None:
    assert resolve_topic(Ledger.env["PERSISTENCE_MODULE"]) is LedgerFactory
    assert resolve_topic(Ledger.env["TRANSCODER_TOPIC"]) is LedgerTranscoder
    assert resolve_topic(Ledger.env["MAPPER_TOPIC"]) is LedgerMapper


def test_a_factory_without_a_database_url_names_the_missing_setting() -> None:
    with pytest.raises(OSError, match="no database URL: set SQLALCHEMY_URL"):
        LedgerFactory(Environment("Ledger", {}))
