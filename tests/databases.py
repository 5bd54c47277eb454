"""Scratch PostgreSQL databases: each test session, benchmark run and load test makes its own.

The PostgreSQL server is shared (other clones' suites, the benchmarks), so nothing here
touches a database it did not create: :func:`scratch_database` creates one with a unique
name (a purpose, the pid and a random token), yields its URL, and drops it at the end,
together with the connections still open in it (``DROP DATABASE ... WITH (FORCE)``
ends only sessions of that database).  A server URL (``LEDGER_TEST_POSTGRES_URL``, the
benchmarks' ``--postgres-url``) chooses the server, user and password; its database
name only says where to connect to create the scratch one.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy
from sqlalchemy.engine import URL, make_url

#: Where to connect to create a scratch database when the server URL names none.
MAINTENANCE_DATABASE = "postgres"


def unique_name(purpose: str) -> str:
    """``ledger_<purpose>_<pid>_<random>``: no other process picks the same name."""
    return f"ledger_{purpose}_{os.getpid()}_{secrets.token_hex(4)}"


def _admin_engine(server_url: str | URL) -> sqlalchemy.Engine:
    url = make_url(server_url)
    return sqlalchemy.create_engine(
        url.set(database=url.database or MAINTENANCE_DATABASE),
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 3},
        poolclass=sqlalchemy.pool.NullPool,
    )


def server_problem(server_url: str | URL) -> str | None:
    """Why no scratch database can be made on this server, or None when one can."""
    engine = _admin_engine(server_url)
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
    except sqlalchemy.exc.SQLAlchemyError as error:
        shown = make_url(server_url).render_as_string(hide_password=True)
        return f"PostgreSQL at {shown} is not reachable ({str(error).splitlines()[0]})"
    finally:
        engine.dispose()
    return None


def server_version(server_url: str | URL) -> str:
    """The server's version string."""
    engine = _admin_engine(server_url)
    try:
        with engine.connect() as connection:
            return str(connection.execute(sqlalchemy.text("SHOW server_version")).scalar_one())
    finally:
        engine.dispose()


@contextmanager
def scratch_database(server_url: str | URL, purpose: str) -> Iterator[str]:
    """A new, empty database on the server of ``server_url``, dropped on exit; yields its URL."""
    name = unique_name(purpose)
    admin = _admin_engine(server_url)
    try:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def empty_public_schema(database_url: str) -> None:
    """Drop and recreate the public schema of a database this process created (scratch only)."""
    name = make_url(database_url).database or ""
    if not name.startswith("ledger_") or f"_{os.getpid()}_" not in name:
        raise ValueError(f"refusing to empty {name!r}: not a scratch database of this process")
    engine = sqlalchemy.create_engine(database_url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text("DROP SCHEMA public CASCADE"))
            connection.execute(sqlalchemy.text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
