"""Message templates: seeding the built-in wording, saving an admin's edits, previewing with a sample payload."""

from __future__ import annotations

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from insurecrm.db import db, utcnow
from insurecrm.models import OutboxChannel
from insurecrm.outbox.defaults import DEFAULT_TEMPLATES
from insurecrm.outbox.models import MessageTemplate
from insurecrm.outbox.rendering import RenderError, render


def ensure_default_templates(session: Session) -> int:
    """Add the built-in templates (:data:`~insurecrm.outbox.defaults.DEFAULT_TEMPLATES`) that the database lacks;
    returns how many were added. A template an admin edited is never overwritten, and two processes seeding at
    once do not collide (``ON CONFLICT DO NOTHING``). Flushes; the caller commits."""
    existing = {tuple(row) for row in session.execute(
        select(MessageTemplate.kind, MessageTemplate.language, MessageTemplate.channel))}
    now = utcnow()
    missing = [{"kind": kind, "language": language, "channel": OutboxChannel(channel), "subject": subject,
                "body": body, "created_at": now, "updated_at": now}
               for (kind, language, channel), (subject, body) in DEFAULT_TEMPLATES.items()
               if (kind, language, OutboxChannel(channel)) not in existing]
    if not missing:
        return 0
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    result = session.execute(insert(MessageTemplate.__table__).on_conflict_do_nothing(), missing,
                             execution_options={"preserve_rowcount": True})
    return max(result.rowcount, 0)


def save_template(data: dict, template: MessageTemplate | None = None) -> MessageTemplate:
    """Create a template from ``data`` (a loaded create schema), or change ``template``'s wording.

    Refuses (:class:`~marshmallow.ValidationError`) a second template for one kind, language and channel, and an
    email template without a subject. An SMS has no subject: one given is dropped. Flushes (audited)."""
    if template is None:
        taken = select(MessageTemplate.id).where(MessageTemplate.kind == data["kind"],
                                                 MessageTemplate.language == data["language"],
                                                 MessageTemplate.channel == data["channel"])
        if db.session.scalar(taken) is not None:
            raise ValidationError({"kind": ["A template for this kind, language and channel exists already: "
                                            "edit that one."]})
        template = MessageTemplate(kind=data["kind"], language=data["language"],
                                   channel=OutboxChannel(data["channel"]))
        db.session.add(template)
    if template.channel == OutboxChannel.EMAIL and "subject" in data and not (data["subject"] or "").strip():
        raise ValidationError("An email needs a subject.", "subject")
    if "subject" in data:
        template.subject = (data["subject"] or "").strip() or None
    if "body" in data:
        template.body = data["body"]
    if template.channel == OutboxChannel.SMS:
        template.subject = None
    db.session.flush()
    return template


def preview(subject: str | None, body: str, payload: dict, language: str) -> tuple[str | None, str]:
    """``subject`` and ``body`` rendered with a sample ``payload``, as the sender would; a variable the sample
    lacks or a forbidden operation is refused as a :class:`~marshmallow.ValidationError` on the body."""
    try:
        return render(subject, body, payload, language)
    except RenderError as exc:
        raise ValidationError(f"The template does not render with this sample: {exc}", "body") from None

