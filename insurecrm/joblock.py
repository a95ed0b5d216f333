"""The one lock for running daily jobs, held across transactions by whoever runs them (a scheduler's tick, a hand
run, an admin's button), so that two runs never work at once, whatever host they are on.

- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a connection of its own, in autocommit.
  The server releases it when that session ends, also when the process dies. Advisory locks belong to one
  database, so every process using the same database shares this one lock.
- SQLite: an exclusive ``flock`` on the file ``<database file>.jobs.lock`` beside the database (the kernel releases
  it when the process dies); an in-memory database has only this process, which takes a process-local lock.

The lock is re-entrant within a thread (a catch-up holding it runs jobs that ask for it again); another thread
of the same process competes for it like another process. Waiting polls, so that a waiter can say it waits and
give up after its timeout.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from insurecrm.db import db

#: the advisory lock's key (any fixed 64-bit number; this one spells nothing)
ADVISORY_KEY = 7_305_116_402_913_004_201
POLL_SECONDS = 0.2
_memory_lock = threading.Lock()
_held = threading.local()


class JobsBusy(RuntimeError):
    """Another run of the daily jobs holds the lock (and did not let go within the time given)."""


def holding() -> bool:
    """Whether this thread holds the lock now."""
    return getattr(_held, "depth", 0) > 0


@contextmanager
def held(timeout: float | None = 0, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the jobs lock inside the block. ``timeout``: seconds to wait for it (0: try once; ``None``: wait as long
    as it takes); ``on_wait`` is called once when it has to wait. Raises :class:`JobsBusy` when it is not had in
    time. Re-entrant: a thread that holds it enters at once."""
    if holding():
        _held.depth += 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    release = _acquire(timeout, on_wait)
    _held.depth = 1
    try:
        yield
    finally:
        _held.depth = 0
        release()


def _acquire(timeout: float | None, on_wait: Callable[[], None] | None) -> Callable[[], None]:
    attempt, release = _attempt_for_database()
    deadline = None if timeout is None else time.monotonic() + timeout
    waited = False
    while not attempt():
        if deadline is not None and time.monotonic() >= deadline:
            release(False)
            raise JobsBusy("another run of the daily jobs holds the lock")
        if not waited and on_wait is not None:
            on_wait()
        waited = True
        time.sleep(POLL_SECONDS)
    return lambda: release(True)


def _attempt_for_database() -> tuple[Callable[[], bool], Callable[[bool], None]]:
    """``(attempt, release)`` for the configured database: ``attempt()`` tries once; ``release(had_it)`` lets go
    of the lock (when had) and of what holds it."""
    engine = db.engine
    if engine.dialect.name == "postgresql":
        return _advisory(engine)
    path = engine.url.database
    if not path or path == ":memory:" or path.startswith("file::memory:"):
        return (lambda: _memory_lock.acquire(blocking=False)), (lambda had: had and _memory_lock.release())
    return _lock_file(f"{path}.jobs.lock")


def _advisory(engine: sa.Engine) -> tuple[Callable[[], bool], Callable[[bool], None]]:
    # a connection of its own, outside any transaction: the lock lives as long as this session, not a transaction
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def attempt() -> bool:
        return bool(connection.scalar(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}))

    def release(had: bool) -> None:
        try:
            if had:
                connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
        except Exception:
            connection.invalidate()  # closes the session itself, which ends its locks (a pooled one would keep them)
            raise
        finally:
            connection.close()

    return attempt, release


def _lock_file(path: str) -> tuple[Callable[[], bool], Callable[[bool], None]]:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def attempt() -> bool:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def release(had: bool) -> None:
        try:
            if had:
                fcntl.flock(descriptor, fcntl.LOCK_UN)
        finally:
            os.close(descriptor)

    return attempt, release
