"""Shared fixtures: database URLs for the SQLite file and PostgreSQL backends."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_url() -> str:
    return os.environ.get("LEDGER_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def _postgres_problem(url: str) -> str | None:
    """Why PostgreSQL cannot be used for tests, or None when it can."""
    engine = sqlalchemy.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("select 1"))
    except sqlalchemy.exc.SQLAlchemyError as error:
        return f"PostgreSQL at {url} is not reachable ({str(error).splitlines()[0]})"
    finally:
        engine.dispose()
    return None


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """A reachable PostgreSQL URL; skips (or fails, with LEDGER_REQUIRE_POSTGRES=1) otherwise."""
    url = postgres_url()
    problem = _postgres_problem(url)
    if problem is not None:
        if os.environ.get("LEDGER_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{problem}; LEDGER_REQUIRE_POSTGRES=1 says these tests must run")
        pytest.skip(f"{problem}; set LEDGER_TEST_POSTGRES_URL to run the PostgreSQL tests")
    return url


@pytest.fixture
def postgres_database(postgres_server: str) -> str:
    """An empty PostgreSQL database (its public schema dropped and recreated) for one test."""
    engine = sqlalchemy.create_engine(postgres_server)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("DROP SCHEMA public CASCADE"))
        connection.execute(sqlalchemy.text("CREATE SCHEMA public"))
    engine.dispose()
    return postgres_server


@pytest.fixture
def sqlite_database(tmp_path: Path) -> str:
    """A new SQLite file for one test."""
    return f"sqlite:///{tmp_path / 'ledger.db'}"
