"""The psycopg cursor of the application's engine (insurecrm.db._described_cursor) describes a result as psycopg's own
cursor does, in PEP 249's plain 7-tuples: the same names and type codes, nothing for a statement without rows."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

from insurecrm.db import _described_cursor, db

pytestmark = pytest.mark.postgresql_only

QUERY = ("SELECT 1 AS one, 'x'::text AS words, now() AS instant, NULL::numeric(14, 2) AS money, "
         "ARRAY['a', 'b'] AS tags, 2")


def test_the_engine_s_cursor_describes_a_result_as_psycopg_does(app, session):
    dbapi_connection = session.connection().connection.dbapi_connection
    assert dbapi_connection.cursor_factory is _described_cursor()
    with dbapi_connection.cursor() as ours, psycopg.Cursor(dbapi_connection) as theirs:
        ours.execute(QUERY)
        theirs.execute(QUERY)
        assert [(name, code) for name, code, *_rest in ours.description] == \
            [(column.name, column.type_code) for column in theirs.description]
        assert all(len(column) == 7 for column in ours.description)
        assert ours.fetchall() == theirs.fetchall()
        ours.execute("SET LOCAL statement_timeout = 0")
        assert ours.description is None


def test_sqlalchemy_reads_rows_by_the_names_it_describes(app, session):
    row = db.session.execute(text("SELECT 1 AS one, 'x' AS words")).one()
    assert (row.one, row.words) == (1, "x")
