"""The users of API tokens, kept in each process between requests, and dropped the moment a token or a user changes.

Checking a bearer token costs every API request a query (the token unrevoked and unexpired, its user active, the user
loaded). On PostgreSQL this cache answers the check from memory instead, without weakening "a revoked token stops at
once on every host":

- the database announces every change to ``users`` and ``api_tokens`` — a revocation, a deactivation, a new role or
  unit, whatever wrote it (a service, the CLI, a hand-typed ``UPDATE``) — with ``NOTIFY insurecrm_auth`` from a
  trigger (:data:`TRIGGER_SQL`), delivered to every listener when the writing transaction commits;
- each process holds a listening connection (:class:`_Listener`, a daemon thread) and empties its cache on each
  notification: another host stops accepting a revoked token within the time PostgreSQL takes to deliver a
  notification (well under a millisecond on a local network), and the process that made the change at its commit
  (the session events below, without waiting for the notification);
- an entry is used only while the listener is connected (a lost connection empties the cache and turns it off until
  it listens again), only until the token expires, and for at most ``INSURECRM_API_TOKEN_CACHE_SECONDS`` (default
  10; 0 turns the cache off) — a bound even if a notification were lost;
- an entry is stored only if no notification arrived while it was read from the database (:func:`generation`), so a
  user read before a change cannot be kept after it.

SQLite (one host, development) has no notifications: there the cache is off and every request queries. A deployment
whose connections go through a pooler in transaction mode (PgBouncer) cannot ``LISTEN``: set the setting to 0 there,
or give the listener a direct URL (docs/deployment.md).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from insurecrm.db import db

log = logging.getLogger(__name__)

CHANNEL = "insurecrm_auth"
#: the trigger that announces a change of users or tokens (PostgreSQL; installed by the models' DDL and a migration)
TRIGGER_FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION insurecrm_announce_auth_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME);
    RETURN NULL;
END $$"""
TRIGGER_SQL = """
CREATE TRIGGER {table}_announce_auth_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
FOR EACH STATEMENT EXECUTE FUNCTION insurecrm_announce_auth_change()"""
#: the tables whose changes end cached entries
TABLES = ("users", "api_tokens")
#: the tokens a process remembers at most (entries of expired or idle tokens are otherwise dropped only when looked
#: up, or with everything at the next change of users or tokens — a login is one)
MAX_ENTRIES = 10_000
#: how long, at most, the listener waits before it tries to listen again after losing its connection
RECONNECT_SECONDS = 5.0


@dataclass(frozen=True)
class Entry:
    """What the token check found: the user's columns, and when the token expires."""

    user_columns: dict[str, Any]
    expires_at: datetime
    stored_at: float


class TokenCache:
    """The cache of one process (see the module's docstring)."""

    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}
        self._generation = 0
        self._listener: _Listener | None = None
        self._owner: tuple[int, Engine] | None = None  # the process and the engine the listener serves
        self._lock = threading.Lock()
        self.max_age = 0.0

    # -- set-up ------------------------------------------------------------------------------------------------

    def configure(self, max_age_seconds: float) -> None:
        """Keep entries for up to ``max_age_seconds`` (0: off); the cache serves the application's database
        (``insurecrm.db.db``) when it is PostgreSQL."""
        self.stop()
        self.max_age = float(max_age_seconds)

    def _ensure_listener(self) -> _Listener | None:
        """The listener of this process and engine, started on first use (after gunicorn forks its workers) and
        again if the application's engine changed."""
        owner = (os.getpid(), db.engine)
        if self._owner != owner:
            with self._lock:
                if self._owner != owner:
                    if self._listener is not None and self._owner is not None and self._owner[0] == owner[0]:
                        self._listener.stop()
                    self._entries, self._generation = {}, self._generation + 1
                    self._listener, self._owner = _Listener(db.engine, self), owner
                    self._listener.start()
        return self._listener

    def stop(self) -> None:
        """Stop listening (and answering from memory) in this process."""
        with self._lock:
            if self._listener is not None and self._owner is not None and self._owner[0] == os.getpid():
                self._listener.stop()
            self._listener, self._owner = None, None
        self.forget_all()

    # -- use -------------------------------------------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        return self.max_age > 0 and db.engine is not None and db.engine.dialect.name == "postgresql"

    def generation(self) -> int:
        """A number that changes whenever entries are dropped: read it before querying, give it to :meth:`store`."""
        return self._generation

    def lookup(self, token_hash: str, now: datetime) -> Entry | None:
        """The entry of a token, if the cache may answer for it now."""
        if not self.enabled:
            return None
        listener = self._ensure_listener()
        entry = self._entries.get(token_hash)
        if entry is None or listener is None or not listener.listening:
            return None
        if now >= entry.expires_at or time.monotonic() - entry.stored_at > self.max_age:
            self._entries.pop(token_hash, None)
            return None
        return entry

    def store(self, token_hash: str, user_columns: dict[str, Any], expires_at: datetime, generation: int) -> None:
        """Keep what the database said of a token, unless entries were dropped since ``generation`` was read."""
        if not self.enabled:
            return
        listener = self._ensure_listener()
        if listener is None or not listener.listening:
            return
        with self._lock:
            if generation == self._generation:
                if len(self._entries) >= MAX_ENTRIES:  # a process serving that many tokens at once: start again
                    self._entries = {}
                self._entries[token_hash] = Entry(user_columns, expires_at, time.monotonic())

    def forget_all(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries = {}


class _Listener(threading.Thread):
    """``LISTEN insurecrm_auth`` on a connection of its own; each notification empties the cache."""

    def __init__(self, engine: Engine, cache: TokenCache) -> None:
        super().__init__(name="insurecrm-token-cache", daemon=True)
        self.engine, self.cache = engine, cache
        self.listening = False
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()
        self.listening = False

    def run(self) -> None:
        while not self._stopped.is_set():
            try:
                self._listen()
            except Exception as error:  # noqa: BLE001 - any failure: stop answering from memory, then retry
                if not self._stopped.is_set():
                    log.warning("the API token cache stopped listening (%s); every request queries until it "
                                "listens again", error)
            finally:
                self.listening = False
                self.cache.forget_all()
            self._stopped.wait(RECONNECT_SECONDS)

    def _listen(self) -> None:
        cargs, cparams = self.engine.dialect.create_connect_args(self.engine.url)
        import psycopg

        with psycopg.connect(*cargs, **{**cparams, "autocommit": True}) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            self.cache.forget_all()  # what changed before listening began
            self.listening = True
            while not self._stopped.is_set():  # wakes each second to see whether it should stop
                for _notification in connection.notifies(timeout=1.0):
                    self.cache.forget_all()


#: the cache of this process
cache = TokenCache()


# This process's own commits empty its cache at once, rather than when the notification comes back a moment later.

@event.listens_for(Session, "after_flush")
def _note_flushed_change(session: Session, _context) -> None:
    if any(getattr(obj, "__tablename__", None) in TABLES for obj in (*session.new, *session.dirty, *session.deleted)):
        session.info["auth_changed"] = True


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_change(state) -> None:
    if (state.is_update or state.is_delete or state.is_insert) and state.bind_mapper is not None \
            and state.bind_mapper.local_table.name in TABLES:
        state.session.info["auth_changed"] = True


@event.listens_for(Session, "after_commit")
def _forget_on_commit(session: Session) -> None:
    if session.info.pop("auth_changed", False):
        cache.forget_all()


def install_triggers(table, connection, **_kw) -> None:
    """``after_create`` of :data:`TABLES` (the models' DDL; migrations install the same): the announcing trigger."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(TRIGGER_FUNCTION_SQL)
        connection.exec_driver_sql(TRIGGER_SQL.format(table=table.name))
