"""Several senders at once on PostgreSQL (``SELECT … FOR UPDATE SKIP LOCKED``): no row is ever sent twice.

These tests need rows committed for real, visible to other connections, so they use a database of their own
(not the rolled-back transaction of the other tests) and senders in threads, each with its own session and
connection, as senders on several hosts would have.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
import sqlalchemy as sa

from insurecrm import create_app
from insurecrm.db import db
from insurecrm.models import Outbox, OutboxStatus
from insurecrm.outbox.sender import send_pending
from insurecrm.registry import metadata
from tests import databases
from tests.outbox.conftest import FROM, REMINDER, smtp_server

#: SQLite has no row locks (its writers take turns): what is tested here exists on PostgreSQL only
pytestmark = pytest.mark.postgresql_only


@pytest.fixture
def committed(backend):
    """An app on a fresh PostgreSQL database with a real SMTP server; ``(app, engine, mailbox)``."""
    url = databases.create_pg_database("insurecrm_outbox")
    engine = sa.create_engine(url)
    try:
        metadata.create_all(engine)
        with smtp_server(delay=0.01) as (mailbox, port):
            app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "outbox",
                              "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "MAIL_FROM": FROM,
                              "RATELIMIT_STORAGE_URI": "memory://"})
            yield app, engine, mailbox
    finally:
        db.session.remove()
        engine.dispose()
        databases.drop_pg_database(url)
        db.configure(backend)  # the rest of the session's tests use the backend's database again


def queue_rows(engine, count: int) -> None:
    with engine.begin() as connection:
        connection.execute(sa.insert(Outbox), [
            {"idempotency_key": f"renewal_reminder:policy={n}:offset=30:date=2026-11-22", "kind": "renewal_reminder",
             "channel": "email", "language": "en", "recipient": f"holder{n}@example.com", "payload": REMINDER,
             "status": "pending", "attempts": 0, "body": ""} for n in range(count)])


def in_thread(app, function, *args) -> tuple[threading.Thread, list]:
    results: list = []

    def run():
        with app.app_context():
            results.append(function(*args))

    thread = threading.Thread(target=run)
    thread.start()
    return thread, results


def test_two_senders_at_once_never_send_the_same_row(committed):
    app, engine, mailbox = committed
    queue_rows(engine, 60)
    start = threading.Barrier(2)

    def sender():
        start.wait()
        return send_pending(100)

    threads = [in_thread(app, sender) for _ in range(2)]
    for thread, _results in threads:
        thread.join(60)
    counts = [results[0] for _thread, results in threads]

    assert sum(c["sent"] for c in counts) == 60
    assert all(c["sent"] > 0 for c in counts), f"both senders should have worked: {counts}"
    ids = Counter(message["Message-ID"] for message in mailbox.messages)
    assert len(ids) == 60 and set(ids.values()) == {1}  # every row delivered, none twice
    with engine.connect() as connection:
        rows = connection.execute(sa.select(Outbox.status, Outbox.attempts)).all()
    assert {(status, attempts) for status, attempts in rows} == {(OutboxStatus.SENT, 1)}


def test_a_row_another_sender_holds_is_skipped_not_waited_for(committed):
    app, engine, mailbox = committed
    queue_rows(engine, 3)
    with engine.connect() as rival:
        held = rival.execute(sa.select(Outbox.id).order_by(Outbox.id).limit(1).with_for_update()).scalar()
        thread, results = in_thread(app, send_pending, 10)
        thread.join(30)
        assert not thread.is_alive(), "the sender waited for the locked row"
        assert results[0]["sent"] == 2
        rival.rollback()
    with engine.connect() as connection:
        assert connection.execute(sa.select(Outbox.status).where(Outbox.id == held)).scalar() == OutboxStatus.PENDING
    thread, results = in_thread(app, send_pending, 10)
    thread.join(30)
    assert results[0]["sent"] == 1 and len(mailbox.messages) == 3
