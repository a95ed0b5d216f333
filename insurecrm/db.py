"""Database plumbing: the declarative base, column types and the request-scoped session.

We use plain SQLAlchemy 2 rather than Flask-SQLAlchemy so that the same session machinery serves
web requests, the CLI, the scheduler process and the tests (which bind the session to an outer
transaction and roll it back after each test).
"""

from __future__ import annotations

import enum
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Any

from sqlalchemy import ARRAY, JSON, Date, DateTime, Engine, MetaData, Numeric, String, create_engine, event, func
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, scoped_session, sessionmaker
from sqlalchemy.sql.functions import GenericFunction
from sqlalchemy.types import Enum as SAEnum
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """An instant, stored as UTC and always returned timezone-aware (UTC).

    SQLite has no time zones; PostgreSQL has ``timestamptz``. Normalising here means both
    databases hand the application the same values.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC instant; attach a timezone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The current instant in UTC (aware), from the application's clock (see :mod:`insurecrm.clock`)."""
    from insurecrm.clock import now

    return now()


class _ListOfValues(TypeDecorator):
    """What :func:`list_of` gives: a PostgreSQL array (the driver reads it in C) or SQLite's JSON text."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect):
        return dialect.type_descriptor(ARRAY(String()) if dialect.name == "postgresql" else JSON())


class list_of(GenericFunction):  # noqa: N801 - a SQL function, named as one
    """The values of one text column over the rows of a (correlated) subquery, read back as a Python list — ``[]``
    when there are none: ``array_agg`` on PostgreSQL, ``json_group_array`` on SQLite. A row then carries a short
    collection (a policyholder's tags) without a join that repeats the row per item."""

    type = _ListOfValues()
    inherit_cache = True


@compiles(list_of, "postgresql")
def _list_of_postgresql(element, compiler, **kw) -> str:
    return f"coalesce(array_agg({compiler.process(element.clauses, **kw)}), '{{}}')"


@compiles(list_of, "sqlite")
def _list_of_sqlite(element, compiler, **kw) -> str:
    return f"json_group_array({compiler.process(element.clauses, **kw)})"


#: Money: 14 digits, 2 decimals, always :class:`~decimal.Decimal`.
Money = Annotated[Decimal, mapped_column(Numeric(14, 2, asdecimal=True))]
#: A rate such as a commission rate or a probability: 0.0000 to 999.9999.
Rate = Annotated[Decimal, mapped_column(Numeric(7, 4, asdecimal=True))]
Str32 = Annotated[str, mapped_column(String(32))]
Str64 = Annotated[str, mapped_column(String(64))]
Str120 = Annotated[str, mapped_column(String(120))]
Str255 = Annotated[str, mapped_column(String(255))]


class Base(DeclarativeBase):
    """Declarative base: naming convention for constraints, enums stored as portable strings."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        date: Date(),
        Decimal: Numeric(14, 2, asdecimal=True),
        enum.Enum: SAEnum(enum.Enum, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e]),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
        str: String(255),
    }


class TimestampMixin:
    """Creation and last-update instants, set by the database session."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class VersionedMixin:
    """Optimistic locking: every UPDATE checks and bumps ``version``; the API carries it.

    A stale write raises :class:`sqlalchemy.orm.exc.StaleDataError`, answered with 409.
    """

    version: Mapped[int] = mapped_column(default=1, server_default="1")

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}


class Database:
    """Engine and a thread-local session, configured from the Flask app (or any settings)."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.session_factory = sessionmaker(expire_on_commit=False)
        self.session = scoped_session(self.session_factory)

    def configure(self, url: str, *, echo: bool = False) -> Engine:
        """Create the engine for ``url`` and bind the session factory to it."""
        if self.engine is not None:
            self.engine.dispose()
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        elif make_url(url).get_dialect().driver == "psycopg":
            kwargs["connect_args"] = {"cursor_factory": _described_cursor()}
        self.engine = create_engine(url, **kwargs)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        else:
            event.listen(self.engine, "checkin", _note_checkin)
            event.listen(self.engine, "checkout", _ping_if_idle)
        self.session.remove()
        self.session_factory.configure(bind=self.engine)
        return self.engine

    def init_app(self, app) -> None:
        self.configure(app.config["DATABASE_URL"], echo=app.config.get("SQLALCHEMY_ECHO", False))

        @app.teardown_appcontext
        def _remove_session(exc: BaseException | None) -> None:
            self.session.remove()

    def read_without_transaction(self) -> None:
        """Run the rest of this session's statements in autocommit, each in a transaction of its own, as a
        request that only reads needs: no ``BEGIN`` before the first query and no ``ROLLBACK`` after the last,
        two round trips to the database saved. Call it before the first query of the session (the connection
        returns to the pool with its default isolation). Does nothing on SQLite (whose writers take a lock at
        ``BEGIN IMMEDIATE``), or when the session is bound to a connection that is not its own (the tests' outer
        transaction)."""
        session = self.session()
        if self.engine is None or self.dialect == "sqlite" or session.in_transaction():
            return
        if not isinstance(session.get_bind(), Engine):
            return
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})

    @property
    def dialect(self) -> str:
        assert self.engine is not None
        return self.engine.dialect.name


@cache
def _described_cursor() -> type:
    """psycopg's cursor with a plainer ``description``: PEP 249's 7-tuples of name and type code, built from the
    result in one pass. psycopg's own builds a ``Column`` object per column and looks its type up in the adapters'
    registry — SQLAlchemy reads only the name and the type code, once per query, and with 30 to 45 columns that was
    a tenth of an API read (docs/benchmarks.md, "API throughput")."""
    import psycopg
    from psycopg.pq import ExecStatus

    with_rows = (ExecStatus.TUPLES_OK, ExecStatus.SINGLE_TUPLE, getattr(ExecStatus, "TUPLES_CHUNK", None))

    class DescribedCursor(psycopg.Cursor):
        @property
        def description(self):
            result = self.pgresult
            if result is None or not (result.nfields or result.status in with_rows):
                return None
            encoding = self._encoding
            columns = []
            for index in range(result.nfields):
                name = result.fname(index)
                columns.append((name.decode(encoding) if name else f"column_{index + 1}", result.ftype(index),
                                None, None, None, None, None))
            return columns

    return DescribedCursor


#: a pooled connection unused for longer than this is tested (``SELECT 1``) before it is handed out again
PING_AFTER_IDLE_SECONDS = 2.0


def _note_checkin(_dbapi_connection, record) -> None:
    record.info["checked_in_at"] = time.monotonic()


def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
    """SQLAlchemy's ``pool_pre_ping``, but only for a connection that sat idle: a server restart or a firewall
    drops idle connections, while one returned a moment ago is alive. Under load this saves a round trip per
    request (``pool_pre_ping`` pings at every checkout). A dead connection raises
    :class:`~sqlalchemy.exc.DisconnectionError`, on which the pool discards it and connects afresh."""
    idle_since = record.info.get("checked_in_at")
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        # the driver opened a transaction for the ping: end it, so that the connection is handed out as idle as it
        # came back (one that is not could not be switched to autocommit, nor start its own transaction cleanly)
        dbapi_connection.rollback()
    except Exception as exc:  # the driver's own errors: the connection is of no use, whatever it says
        raise DisconnectionError(f"an idle pooled connection was dead: {exc}") from exc


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin, so that SAVEPOINTs
    # (nested transactions) behave as on PostgreSQL (SQLAlchemy's documented pysqlite recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection) -> None:
    # IMMEDIATE takes the write lock at BEGIN, so two writers queue instead of failing mid-transaction
    connection.exec_driver_sql("BEGIN IMMEDIATE")


db = Database()
__all__ = ["Base", "Money", "Rate", "TimestampMixin", "VersionedMixin", "db", "func", "utcnow"]
