"""Small helpers shared by the test modules."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from insurecrm.db import db


@contextmanager
def counted_queries(*, fresh: bool = True) -> Iterator[list[str]]:
    """The SQL statements run inside the block, on a session as fresh as a new request's (``fresh=False``: the
    test's objects stay in the session): ``with counted_queries() as statements: client.get(...)``, then
    ``len(statements)``."""
    if fresh:
        db.session.expunge_all()
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if "SAVEPOINT" not in statement:  # the tests' own transaction handling
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def saved(make, record):
    """``record`` written (committed to the test's transaction, so that a refused request keeps it)."""
    make.session.add(record)
    make.session.commit()
    return record
