"""Rate-limit counters in the application's database, so that a limit holds across every process and host.

Flask-Limiter counts through a storage of the ``limits`` library. Its default, ``memory://``, counts in each
process: with two gunicorn workers "10 per minute" let 17 of 30 login attempts through. ``database://`` (the
default of ``INSURECRM_RATELIMIT_STORAGE_URI``) keeps fixed-window counters in the table
``rate_limit_counters`` of the database every host already shares; each hit is one atomic
``INSERT … ON CONFLICT DO UPDATE … RETURNING`` on SQLite and PostgreSQL, in a transaction of its own, so a
request that fails and rolls back still counts. Large deployments may point the setting at Redis instead
(``redis://…``, with the ``redis`` package installed); see docs/deployment.md.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta

from limits.storage import Storage
from sqlalchemy import Engine, case, delete, literal, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from insurecrm.db import UTCDateTime, db
from insurecrm.models import RateLimitCounter

COUNTERS = RateLimitCounter.__table__
_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def _now() -> datetime:
    # wall-clock time, as the limits library uses: never the application's clock, which tests and simulations freeze
    return datetime.fromtimestamp(time.time(), UTC)


def _row_key(key: str) -> str:
    return key if len(key) <= 255 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


class DatabaseStorage(Storage):
    """A ``limits`` storage over the application's database (``database://``): fixed windows only, the strategy
    Flask-Limiter uses by default."""

    STORAGE_SCHEME = ["database"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, engine: Engine | None = None,
                 **options) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        #: tests may give an engine; otherwise the application's, looked up at each use (it may be reconfigured)
        self._engine = engine

    @property
    def engine(self) -> Engine:
        engine = self._engine or db.engine
        if engine is None:
            raise RuntimeError("database:// rate limits need the application's database to be configured first")
        if engine.dialect.name not in _INSERTS:
            raise RuntimeError(f"database:// rate limits support SQLite and PostgreSQL, not {engine.dialect.name}")
        return engine

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Count ``amount`` hits on ``key`` and return the window's count; a window that has ended starts over."""
        engine = self.engine
        now = _now()
        ends = literal(now + timedelta(seconds=expiry), UTCDateTime())
        ended = COUNTERS.c.expires_at <= literal(now, UTCDateTime())
        upsert = _INSERTS[engine.dialect.name](COUNTERS).values(key=_row_key(key), count=amount, expires_at=ends)
        upsert = upsert.on_conflict_do_update(index_elements=[COUNTERS.c.key], set_={
            "count": case((ended, amount), else_=COUNTERS.c.count + amount),
            "expires_at": case((ended, ends), else_=COUNTERS.c.expires_at),
        }).returning(COUNTERS.c.count)
        with engine.begin() as connection:
            count = connection.execute(upsert).scalar_one()
        if count == amount:  # a new window: a moment to clear the windows that have ended, in a transaction apart
            with engine.begin() as connection:
                connection.execute(delete(COUNTERS).where(COUNTERS.c.expires_at <= literal(now, UTCDateTime())))
        return count

    def get(self, key: str) -> int:
        with self.engine.connect() as connection:
            count = connection.execute(select(COUNTERS.c.count).where(
                COUNTERS.c.key == _row_key(key), COUNTERS.c.expires_at > literal(_now(), UTCDateTime()))).scalar()
        return count or 0

    def get_expiry(self, key: str) -> float:
        with self.engine.connect() as connection:
            ends = connection.execute(select(COUNTERS.c.expires_at).where(COUNTERS.c.key == _row_key(key))).scalar()
        return ends.timestamp() if ends is not None else time.time()

    def check(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self.engine.begin() as connection:
            return connection.execute(delete(COUNTERS)).rowcount

    def clear(self, key: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(COUNTERS).where(COUNTERS.c.key == _row_key(key)))
