"""The message templates of the outbox: one per (kind, language, channel), editable by admins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from insurecrm.db import Base, TimestampMixin, utcnow
from insurecrm.models import OutboxChannel


class MessageTemplate(TimestampMixin, Base):
    """How an outbox message of one kind is worded in one language on one channel (email or SMS).

    ``subject`` and ``body`` are Jinja2 sources, rendered in a sandbox with the outbox row's payload when the
    message is sent (see :mod:`insurecrm.outbox.rendering`). SMS templates have no subject.
    """

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("kind", "language", "channel"),)
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the outbox kind it words, e.g. ``renewal_reminder``; ``generic`` is the fallback of every kind
    kind: Mapped[str] = mapped_column(String(48))
    language: Mapped[str] = mapped_column(String(8))
    channel: Mapped[OutboxChannel]
    subject: Mapped[str | None] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<MessageTemplate {self.kind}/{self.language}/{self.channel}>"


class OutboxAttachment(Base):
    """A file sent with an outbox email (the PDF of a scheduled sales report), stored with its row when the job
    queues it, so the message sent, or sent again by a human, carries the very file queued. Deleted with its row."""

    __tablename__ = "outbox_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    #: a MIME type, e.g. ``application/pdf``
    content_type: Mapped[str] = mapped_column(String(100))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
