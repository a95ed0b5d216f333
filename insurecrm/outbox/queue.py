"""Queueing an outbox message exactly once, with the files it carries.

The daily jobs that queue one message at a time (the scheduled sales reports) call :func:`queue_once`: the row is
inserted with ``ON CONFLICT (idempotency_key) DO NOTHING`` (SQLite and PostgreSQL), so a rerun of the job, a
catch-up beside a hand run or two runs racing write one row, and its attachments go in with it, in the same
transaction, only when the row is new.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from insurecrm.db import db, utcnow
from insurecrm.models import Outbox, OutboxChannel, OutboxStatus
from insurecrm.outbox.gateways import Attachment
from insurecrm.outbox.models import OutboxAttachment


def _insert():
    return pg_insert if db.dialect == "postgresql" else sqlite_insert


def taken_keys(keys: Iterable[str]) -> set[str]:
    """Those of ``keys`` the outbox holds already (one query): what a job need not prepare again."""
    keys = list(keys)
    if not keys:
        return set()
    return set(db.session.scalars(select(Outbox.idempotency_key).where(Outbox.idempotency_key.in_(keys))))


def queue_once(*, key: str, kind: str, channel: OutboxChannel, recipient: str | None, language: str, payload: dict,
               agent_id: int | None = None, attachments: Iterable[Attachment] = ()) -> int | None:
    """Queue one pending message under the idempotency ``key``, with its ``attachments`` (emails only); returns
    the new row's id, or ``None`` when a row with that key exists (nothing is written then). Refuses (``ValueError``)
    attachments on a message that is not an email. Flushes; the caller commits."""
    attachments = list(attachments)
    if attachments and channel != OutboxChannel.EMAIL:
        raise ValueError("only an email carries attachments")
    insert = _insert()
    statement = (insert(Outbox.__table__)
                 .values(idempotency_key=key, kind=kind, channel=channel, recipient=recipient, language=language,
                         payload=payload, agent_id=agent_id, status=OutboxStatus.PENDING, attempts=0, body="",
                         created_at=utcnow())
                 .on_conflict_do_nothing(index_elements=["idempotency_key"])
                 .returning(Outbox.__table__.c.id))
    outbox_id = db.session.execute(statement).scalar()
    if outbox_id is None:
        return None
    if attachments:
        db.session.execute(insert(OutboxAttachment.__table__), [
            {"outbox_id": outbox_id, "filename": file.filename, "content_type": file.content_type,
             "content": file.content, "created_at": utcnow()} for file in attachments])
    return outbox_id
