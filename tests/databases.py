"""Test databases: SQLite always; PostgreSQL when reachable (and mandatory with INSURECRM_REQUIRE_PG=1).

Each test session creates its own PostgreSQL database (named after the process and xdist worker)
on the server of ``INSURECRM_TEST_DATABASE_URL`` (default: ``postgres`` at 127.0.0.1:5432) and drops
it at the end; nothing else on the server is touched.
"""

from __future__ import annotations

import os
import uuid

import sqlalchemy as sa
from sqlalchemy.engine import make_url

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def pg_server_url() -> str:
    return os.environ.get("INSURECRM_TEST_DATABASE_URL", DEFAULT_PG_URL)


def pg_required() -> bool:
    return os.environ.get("INSURECRM_REQUIRE_PG", "").strip() in {"1", "true", "yes"}


def pg_available() -> bool:
    try:
        engine = sa.create_engine(pg_server_url(), connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False


def create_pg_database(prefix: str = "insurecrm_test") -> str:
    """Create a fresh, uniquely named database; returns its URL."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    server = make_url(pg_server_url())
    admin = sa.create_engine(server.set(database=server.database or "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server.set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    target = make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


def empty_engine(backend: str, tmp_path, prefix: str):
    """Yields an engine on a new, empty database of ``backend`` ("sqlite" or "postgresql"), dropped afterwards: for
    tests of migrations, which build the schema themselves. Skips (or fails, when PostgreSQL is required) without a
    PostgreSQL server."""
    import pytest

    from insurecrm.db import Database

    database = Database()
    if backend == "sqlite":
        yield database.configure(f"sqlite:///{tmp_path / (prefix + '.sqlite3')}")
        database.engine.dispose()
        return
    if not pg_available():
        if pg_required():
            pytest.fail("PostgreSQL is required (INSURECRM_REQUIRE_PG=1) but does not answer")
        pytest.skip("PostgreSQL not reachable")
    url = create_pg_database(prefix)
    try:
        yield database.configure(url)
    finally:
        database.engine.dispose()
        drop_pg_database(url)
