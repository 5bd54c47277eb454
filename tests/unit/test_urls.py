"""Every entry point resolves a missing database URL by one rule (ledger.urls)."""

from __future__ import annotations

import pytest

from ledger.urls import URL_VARIABLE, database_url


def test_a_given_url_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(URL_VARIABLE, "sqlite:///from-the-environment.db")
    assert database_url("sqlite:///given.db") == "sqlite:///given.db"


def test_without_a_url_the_environment_then_the_default_file_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(URL_VARIABLE, "sqlite:///from-the-environment.db")
    assert database_url(None) == "sqlite:///from-the-environment.db"
    monkeypatch.setenv(URL_VARIABLE, "")  # An empty variable is an unset one.
    assert database_url("") == "sqlite:///ledger.db"
    monkeypatch.delenv(URL_VARIABLE)
    assert database_url() == "sqlite:///ledger.db"


def test_bare_postgresql_urls_select_psycopg_3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(URL_VARIABLE, "postgres://user@host/db")
    assert database_url() == "postgresql+psycopg://user@host/db"
