"""Pooled connections are tested before use only after they sat idle (insurecrm/db.py): a busy server saves a
round trip per request, and a connection the database dropped while idle is replaced, not handed to a request."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from insurecrm import db as db_module
from insurecrm.db import Database
from tests import databases

pytestmark = pytest.mark.postgresql_only


@pytest.fixture
def engine(backend):
    url = databases.create_pg_database("insurecrm_ping")
    database = Database()
    try:
        yield database.configure(url)
    finally:
        database.engine.dispose()
        databases.drop_pg_database(url)


def _drop_the_next_pooled_connection(engine) -> int:
    """Terminate, from another connection, the server process of the connection the pool hands out next."""
    first = engine.connect()
    pid = first.execute(text("SELECT pg_backend_pid()")).scalar_one()
    second = engine.connect()
    first.close()  # back to the pool first: the next checkout (the pool is first in, first out) gets it
    second.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    second.close()
    return pid


def test_a_connection_the_server_dropped_while_idle_is_replaced(engine, monkeypatch):
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)  # every pooled connection has sat idle
    dropped = _drop_the_next_pooled_connection(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() != dropped


def test_a_connection_used_a_moment_ago_is_not_tested_first(engine):
    """The price of the round trip saved, as docs/deployment.md states it: a connection dropped a moment after its
    last use fails its next statement; the pool then discards it, and the next checkout is a live connection."""
    _drop_the_next_pooled_connection(engine)
    with pytest.raises(OperationalError), engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar_one() == 1


def test_a_pinged_connection_is_handed_out_outside_any_transaction(engine, monkeypatch):
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    engine.connect().close()  # a connection in the pool, idle (as far as the ping is concerned)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        # the switch to autocommit fails on a connection the ping left in a transaction
        assert connection.execute(text("SELECT 1")).scalar_one() == 1
        assert connection.connection.dbapi_connection.info.transaction_status == 0  # psycopg's IDLE
