"""Shared fixtures: database URLs for the SQLite file and PostgreSQL backends."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.databases import empty_public_schema, scratch_database, server_problem

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

# Hypothesis: "ci" replays the same examples on every run (no test passes or fails by the
# draw of the day) and keeps no example database; "dev" explores new examples each run and
# remembers failing ones.  HYPOTHESIS_PROFILE chooses; CI=true selects "ci".
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


def postgres_url() -> str:
    """The server the PostgreSQL tests use; its database only says where to connect first."""
    return os.environ.get("LEDGER_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


@pytest.fixture(scope="session")
def postgres_session_database() -> Iterator[str]:
    """This session's own PostgreSQL database, dropped at the end of the session.

    Skips (or fails, with LEDGER_REQUIRE_POSTGRES=1) when no server is reachable.
    """
    url = postgres_url()
    problem = server_problem(url)
    if problem is not None:
        if os.environ.get("LEDGER_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{problem}; LEDGER_REQUIRE_POSTGRES=1 says these tests must run")
        pytest.skip(f"{problem}; set LEDGER_TEST_POSTGRES_URL to run the PostgreSQL tests")
    with scratch_database(url, "test") as database:
        yield database


@pytest.fixture
def postgres_database(postgres_session_database: str) -> str:
    """This session's PostgreSQL database, emptied for one test (its public schema recreated)."""
    empty_public_schema(postgres_session_database)
    return postgres_session_database


@pytest.fixture
def sqlite_database(tmp_path: Path) -> str:
    """A new SQLite file for one test."""
    return f"sqlite:///{tmp_path / 'ledger.db'}"
