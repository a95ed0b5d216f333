"""Fixtures: the app on each database, a rolled-back transaction per test, clients per role.

Every test runs twice, ``[sqlite]`` and ``[postgresql]``. PostgreSQL tests are skipped when no
server answers, unless ``INSURECRM_REQUIRE_PG=1`` (as in CI), where they fail instead.
"""

from __future__ import annotations

import os

import pytest
from flask import g

from insurecrm import create_app
from insurecrm.db import db
from insurecrm.extensions import limiter
from insurecrm.registry import metadata
from insurecrm.token_cache import cache as token_cache
from tests import databases
from tests.factories import Factory

pytest_plugins = ["tests.api_client"]

# Every app a test builds in this process counts logins in memory: the limiter is one object that the last app built
# binds, and database counters commit apart from the test's rolled-back transaction (on SQLite they wait for its lock).
# The database storage has tests of its own; real servers started by tests choose theirs (tests/test_rate_limit.py).
os.environ["INSURECRM_RATELIMIT_STORAGE_URI"] = "memory://"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    # The tests marked slow first (a stable sort, after pytest's grouping by fixture parameters): the xdist workers
    # share them out from the start and the many short tests fill in around them, instead of a test of minutes
    # starting last and running alone at the end.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_generate_tests(metafunc):
    # any test that uses the database runs on both backends
    if "backend" in metafunc.fixturenames:
        # a test about PostgreSQL's own behaviour (row locks, SKIP LOCKED) runs on it alone, not skipped on SQLite
        only_pg = metafunc.definition.get_closest_marker("postgresql_only") is not None
        metafunc.parametrize("backend", ["postgresql"] if only_pg else ["sqlite", "postgresql"], indirect=True,
                             scope="session")


@pytest.fixture(scope="session")
def backend(request, tmp_path_factory):
    """The database URL of this backend, with the schema created; dropped after the session."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        yield _with_schema(url)
        return
    if not databases.pg_available():
        if databases.pg_required():
            pytest.fail(f"PostgreSQL is required (INSURECRM_REQUIRE_PG=1) but {databases.pg_server_url()} "
                        "does not answer")
        pytest.skip("PostgreSQL not reachable; set INSURECRM_REQUIRE_PG=1 to make this a failure")
    url = databases.create_pg_database()
    try:
        yield _with_schema(url)
    finally:
        token_cache.stop()  # its listening connection
        db.session.remove()
        if db.engine is not None:
            db.engine.dispose()
        databases.drop_pg_database(url)


def _with_schema(url: str) -> str:
    db.configure(url)
    metadata.create_all(db.engine)
    return url


@pytest.fixture(scope="session")
def app(backend, tmp_path_factory):
    app = create_app({
        "DATABASE_URL": backend,
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "WTF_CSRF_ENABLED": True,
        # counters committed apart from the test's rolled-back transaction would outlive it (and wait for its lock on
        # SQLite): the database storage has tests of its own (tests/test_rate_limit.py)
        "RATELIMIT_STORAGE_URI": "memory://",
    })
    # A test keeps one application context open around all its requests (for the rolled-back session), so
    # ``g`` would carry one request's user, login cache and CSRF token into the next: start each request clean,
    # as each request of a running server does.
    app.before_request_funcs.setdefault(None, []).insert(0, lambda: g.__dict__.clear())
    return app


@pytest.fixture(autouse=True)
def _transaction(request):
    """Bind the session to an outer transaction and roll it back after the test."""
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    limiter.reset()
    connection = db.engine.connect()
    outer = connection.begin()
    db.session.remove()
    db.session_factory.configure(bind=connection, join_transaction_mode="create_savepoint")
    with app.app_context():
        yield
    db.session.remove()
    outer.rollback()
    connection.close()
    db.session_factory.kw.pop("join_transaction_mode", None)
    db.session_factory.configure(bind=db.engine)


@pytest.fixture
def session(app):
    return db.session


@pytest.fixture
def make(app) -> Factory:
    """Factories: ``make.policyholder(owner=agent)``, ``make.policy(...)``, ``make.user(role)``..."""
    return Factory(db.session)


@pytest.fixture
def client(app):
    return app.test_client()


def pytest_sessionfinish(session):
    # the controlling process (or a run without xdist) drops the databases built once for the whole run
    if not hasattr(session.config, "workerinput"):
        databases.drop_shared_templates(session.config._tmp_path_factory)
