"""Test databases: SQLite always; PostgreSQL when reachable (and mandatory with INSURECRM_REQUIRE_PG=1).

Each test session creates its own PostgreSQL database (named after the process and xdist worker)
on the server of ``INSURECRM_TEST_DATABASE_URL`` (default: ``postgres`` at 127.0.0.1:5432) and drops
it at the end; nothing else on the server is touched.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

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


def create_pg_database(prefix: str = "insurecrm_test", template: str | None = None) -> str:
    """Create a fresh, uniquely named database (a copy of the database ``template``, if given); returns its URL."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    server = make_url(pg_server_url())
    admin = sa.create_engine(server.set(database=server.database or "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
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


# -- databases built once per test run, shared by the xdist workers -------------------------------------------------
#
# A demo book takes seconds to minutes to build; tests that only need *a* committed book of a given shape get a copy
# of one built once per run: a SQLite file copied, or a PostgreSQL database cloned with ``CREATE DATABASE ... TEMPLATE``
# (a file-level copy, no Python involved). The first worker to ask builds under a file lock in the run's shared
# temporary directory; the others wait for it and copy. The PostgreSQL templates are dropped by the controlling
# process at the end of the run (:func:`drop_shared_templates`, from tests/conftest.py).

TEMPLATES_FILE = "shared-pg-templates.txt"


def shared_dir(tmp_path_factory) -> Path:
    """The temporary directory of the whole run: the controller's, which each xdist worker's is inside."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def run_lock(tmp_path_factory, name: str) -> Iterator[Path]:
    """Hold the run-wide lock ``name`` (across the xdist workers); yields the run's shared directory."""
    root = shared_dir(tmp_path_factory)
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield root
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def shared_sqlite_copy(tmp_path_factory, name: str, build: Callable[[str], None]) -> str:
    """The URL of a private copy of the SQLite database ``name``, which ``build(url)`` fills once per run."""
    with run_lock(tmp_path_factory, f"sqlite-{name}") as root:
        built = root / f"shared-{name}.sqlite3"
        if not built.exists():
            partial = root / f"shared-{name}.partial.sqlite3"
            partial.unlink(missing_ok=True)
            build(f"sqlite:///{partial}")
            with closing(sqlite3.connect(partial)) as connection:  # the whole database in its one file
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            partial.rename(built)
    copy = tmp_path_factory.mktemp(name) / f"{name}.sqlite3"
    shutil.copyfile(built, copy)
    return f"sqlite:///{copy}"


def shared_pg_copy(tmp_path_factory, name: str, build: Callable[[str], None], prefix: str | None = None) -> str:
    """The URL of a new PostgreSQL database cloned from the template ``name``, which ``build(url)`` fills once per
    run (every connection to it closed: a template must have none). Drop the copy with :func:`drop_pg_database`."""
    with run_lock(tmp_path_factory, f"pg-{name}") as root:
        marker = root / f"shared-pg-{name}.url"
        if not marker.exists():
            url = create_pg_database(f"insurecrm_tpl_{name}")
            with open(root / TEMPLATES_FILE, "a") as registry:  # dropped at the end of the run, even if half-built
                registry.write(url + "\n")
            build(url)
            marker.write_text(url)
        template = make_url(marker.read_text()).database
        return create_pg_database(prefix or f"insurecrm_{name}", template=template)


def drop_shared_templates(tmp_path_factory) -> None:
    """Drop the templates of :func:`shared_pg_copy` built during this run (by the controlling process, at the end)."""
    registry = shared_dir(tmp_path_factory) / TEMPLATES_FILE
    if registry.exists():
        for url in registry.read_text().split():
            drop_pg_database(url)
        registry.unlink()
