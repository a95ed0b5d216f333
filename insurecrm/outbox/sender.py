"""The outbox sender: delivers pending email and SMS rows, each at most once unless a human decides otherwise.

``send_pending(limit)`` (run every few minutes by the scheduler, or by hand with ``insurecrm outbox send``)
takes the pending email and SMS rows that are due (``next_attempt_at`` empty or past), oldest first. Tasks are
not sent: agents read them. Each row goes through these steps, each step committed:

1. **claim**: the row is selected with ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so that any number of
   senders on any number of hosts never take the same row (a row another sender is claiming is skipped, not
   waited for). SQLite has no row locks; there every transaction takes the database's write lock at ``BEGIN``
   (see :mod:`insurecrm.db`), so claims follow one another. The claim renders the message from its template
   (:mod:`insurecrm.outbox.rendering`), stores the text on the row, counts the attempt and marks the row
   ``sending`` with a lease: ``next_attempt_at`` then holds the instant the lease ends
   (``INSURECRM_OUTBOX_LEASE_MINUTES``, 10 by default). An email's first claim gives it its ``Message-ID``
   (:func:`~insurecrm.outbox.gateways.new_message_id`), kept on the row (``message_id``): replies name it;
2. **send**: the row is handed to its gateway (:mod:`insurecrm.outbox.gateways`);
3. **mark**: ``sent`` with ``sent_at``; or, on a failure that certainly did not deliver, ``pending`` again after
   a backoff of 1, 5, 25, … minutes, and ``failed`` with the error after ``INSURECRM_OUTBOX_MAX_ATTEMPTS``
   attempts (5 by default) or at once when trying again cannot help.

**Late messages say the truth.** A message is worded on the day it is sent: ``days_left`` is counted from the
payload's ``expiry_date`` to that day, whenever the job queued it. A renewal reminder or escalation whose policy
has expired by then is not sent at all: the claim marks it ``skipped`` with the reason in ``last_error``.

**The domains' rules** (:mod:`insurecrm.outbox.hooks`): before a row is worded, the checks the domains registered
may refuse it (a policyholder who withdrew consent to the channel since the row was queued, or has no contact on it
any more: ``skipped`` with the reason); the worded body gets their footers (the unsubscribe link, the opt-out
keyword); once marked sent, their listeners record it (on the policyholder's timeline).

**A crash between sending and marking.** If the sender dies after step 1, the row stays ``sending``: the
message may or may not have gone out, and nothing in the database can tell which. Resending it would risk a
silent double send (a customer reminded twice, or told twice of the same thing by SMS, which costs money and
trust); not sending it risks a lost message. We choose **at most once without a human**: a row found in
``sending`` after its lease is never resent automatically but marked ``failed`` with the error
:data:`UNCERTAIN_ERROR`, which the outbox page lists for an admin, who checks with the recipient and then sends
it again or marks it sent. A gateway failure that may have delivered (the connection broke during SMTP DATA,
or after an HTTP request went out) is treated the same way. A lost message is visible and can be repaired; a
duplicate cannot be unsent. Should a human resend an email, it carries the same ``Message-ID`` (kept on the row),
so the recipient's mail system can recognise the copy.

The lease must be longer than one delivery can take (``INSURECRM_OUTBOX_TIMEOUT_SECONDS`` per SMTP or HTTP
step); a row is claimed just before it is sent, one at a time, so a batch never holds rows it is not sending.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from flask import current_app
from marshmallow import ValidationError
from sqlalchemy import or_, select, update

from insurecrm import audit, clock, jobs
from insurecrm.db import db, utcnow
from insurecrm.models import Outbox, OutboxChannel, OutboxStatus
from insurecrm.outbox import hooks
from insurecrm.outbox.gateways import (
    UNCERTAIN_PREFIX,
    Attachment,
    DeliveryError,
    EmailGateway,
    Gateway,
    Outcome,
    OutgoingMessage,
    new_message_id,
    sms_gateway,
)
from insurecrm.outbox.models import OutboxAttachment
from insurecrm.outbox.rendering import RenderError, render_message
from insurecrm.outbox.templates import ensure_default_templates

log = logging.getLogger(__name__)
SENDABLE = (OutboxChannel.EMAIL, OutboxChannel.SMS)
#: kinds of messages about a policy's coming expiry: pointless, and untrue, once it has passed
EXPIRY_KINDS = frozenset({"renewal_reminder", "renewal_escalation"})
UNCERTAIN_ERROR = ("uncertain: the sender stopped between sending and marking; check with the recipient before "
                   "resending")


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt: 1, 5, 25, 125 … minutes."""
    return timedelta(minutes=5 ** max(attempts - 1, 0))


def send_pending(limit: int = 100) -> dict[str, int]:
    """Deliver up to ``limit`` due email and SMS rows (see the module's docstring for the steps and the crash rule);
    first seeds missing default templates and fails, as uncertain, the rows whose ``sending`` lease has ended.
    Returns the counts: ``sent``, ``retrying`` (failed, tried again later), ``failed``, ``uncertain``, and adds
    them to the day's run record ``outbox.send`` (``insurecrm jobs status``, the operations page). Commits."""
    counts = {"sent": 0, "retrying": 0, "failed": 0, "uncertain": 0, "skipped": 0}
    ensure_default_templates(db.session)
    db.session.commit()
    counts["uncertain"] = fail_expired_leases()
    gateways: dict[OutboxChannel, Gateway] = {OutboxChannel.EMAIL: EmailGateway.from_config(current_app.config),
                                              OutboxChannel.SMS: sms_gateway(current_app.config)}
    try:
        for _ in range(limit):
            row = claim_next()
            if row is None:
                break
            counts[deliver(row, gateways) if row.status == OutboxStatus.SENDING else _outcome_of(row)] += 1
    finally:
        for gateway in gateways.values():
            gateway.close()
    if not counts["skipped"]:
        del counts["skipped"]  # reported when some were
    log.info("outbox: %s", counts)
    if any(counts.values()):
        jobs.add_to_daily_record("outbox.send", clock.today(), counts)
    return counts


def fail_expired_leases() -> int:
    """Mark ``failed`` (:data:`UNCERTAIN_ERROR`) every row left ``sending`` past its lease; returns how many.
    Never resends them: see the module's docstring. Commits."""
    result = db.session.execute(
        update(Outbox)
        .where(Outbox.status == OutboxStatus.SENDING,
               or_(Outbox.next_attempt_at.is_(None), Outbox.next_attempt_at <= utcnow()))
        .values(status=OutboxStatus.FAILED, last_error=UNCERTAIN_ERROR, next_attempt_at=None),
        execution_options={"preserve_rowcount": True, "synchronize_session": False},
    )
    db.session.commit()
    if result.rowcount:
        log.warning("outbox: %d message(s) left in sending by a stopped sender; failed for a human to check",
                    result.rowcount)
    return max(result.rowcount, 0)


def claim_next() -> Outbox | None:
    """Claim the oldest due email or SMS row (skipping rows other senders hold), render it and mark it
    ``sending`` with its lease, in one committed transaction. A row that cannot be rendered or has no recipient
    is marked as a failed attempt instead (its status is then not ``sending``). ``None`` when nothing is due."""
    now = utcnow()
    row = db.session.scalars(
        select(Outbox)
        .where(Outbox.status == OutboxStatus.PENDING, Outbox.channel.in_(SENDABLE),
               or_(Outbox.next_attempt_at.is_(None), Outbox.next_attempt_at <= now))
        .order_by(Outbox.id).limit(1)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLAlchemy leaves it out on SQLite
    ).first()
    if row is None:
        db.session.commit()
        return None
    # a domain's checks (hooks.send_check): the policyholder's consent and contact as they are now
    if (late := too_late_to_send(row) or hooks.refusal(row)) is not None:
        row.status, row.last_error, row.next_attempt_at = OutboxStatus.SKIPPED, late, None
        db.session.commit()
        return row
    row.attempts += 1
    row.status = OutboxStatus.SENDING
    row.next_attempt_at = now + current_app.config["OUTBOX_SENDING_LEASE"]
    if row.channel == OutboxChannel.EMAIL and row.message_id is None:
        row.message_id = new_message_id(row.id, current_app.config["MAIL_FROM"])
    try:
        subject, body = hooks.worded(row) or _from_templates(row)
        row.subject, row.body = subject, body + hooks.footers(row)
        if not (row.recipient or "").strip():
            raise DeliveryError(f"no recipient for this {row.channel.value}", Outcome.PERMANENT)
    except RenderError as exc:
        _mark_failed_attempt(row, str(exc), Outcome.RETRY)
    except DeliveryError as exc:
        _mark_failed_attempt(row, str(exc), exc.outcome)
    db.session.commit()
    return row


def _from_templates(row: Outbox) -> tuple[str | None, str]:
    message = render_message(db.session, kind=row.kind, language=row.language, channel=row.channel,
                             payload=row.payload, on=clock.today())
    return message.subject, message.body


def too_late_to_send(row: Outbox) -> str | None:
    """Why a message about a policy's expiry (a renewal reminder or escalation) can no longer be sent — the
    policy expired on or before today, while the row waited (an outage of the sender, retries) — else ``None``."""
    if row.kind not in EXPIRY_KINDS:
        return None
    try:
        expiry = date.fromisoformat(str((row.payload or {})["expiry_date"])[:10])
    except (KeyError, ValueError):
        return None
    if expiry > clock.today():
        return None
    return f"not sent: the policy expired on {expiry.isoformat()}, before the message could be sent"


def deliver(row: Outbox, gateways: dict[OutboxChannel, Gateway]) -> str:
    """Hand a claimed row to its gateway and mark the outcome (committed); returns the count it adds to."""
    try:
        gateways[row.channel].send(OutgoingMessage(row.idempotency_key, row.recipient, row.subject, row.body,
                                                   attachments_of(row), row.message_id))
    except DeliveryError as exc:
        _mark_failed_attempt(row, str(exc), exc.outcome)
        db.session.commit()
        return _outcome_of(row)
    except Exception as exc:  # a gateway's own bug: whether it sent is unknown, and the batch goes on
        log.exception("outbox %s: the gateway failed unexpectedly", row.id)
        _mark_failed_attempt(row, repr(exc), Outcome.UNCERTAIN)
        db.session.commit()
        return _outcome_of(row)
    # by id and attempt: if the lease ran out meanwhile (failed as uncertain), the truth is that it was sent
    db.session.execute(
        update(Outbox).where(Outbox.id == row.id, Outbox.attempts == row.attempts)
        .values(status=OutboxStatus.SENT, sent_at=utcnow(), next_attempt_at=None, last_error=None))
    db.session.commit()
    hooks.sent(row)  # after the mark is committed: a listener's failure cannot make a sent message look unsent
    db.session.commit()
    return "sent"


def attachments_of(row: Outbox) -> tuple[Attachment, ...]:
    """The files an email row carries (:class:`~insurecrm.outbox.models.OutboxAttachment`), in the order queued;
    none for an SMS. One query."""
    if row.channel != OutboxChannel.EMAIL:
        return ()
    files = db.session.scalars(select(OutboxAttachment).where(OutboxAttachment.outbox_id == row.id)
                               .order_by(OutboxAttachment.id))
    return tuple(Attachment(file.filename, file.content_type, file.content) for file in files)


def _mark_failed_attempt(row: Outbox, error: str, outcome: Outcome) -> None:
    log.warning("outbox %s (%s) attempt %d: %s", row.id, row.idempotency_key, row.attempts, error)
    if outcome == Outcome.UNCERTAIN:
        row.status, row.next_attempt_at = OutboxStatus.FAILED, None
        row.last_error = (f"{UNCERTAIN_PREFIX} the message may have gone out ({error}); check with the recipient "
                          "before resending")
    elif outcome == Outcome.PERMANENT or row.attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]:
        row.status, row.next_attempt_at, row.last_error = OutboxStatus.FAILED, None, error
    else:
        row.status, row.last_error = OutboxStatus.PENDING, error
        row.next_attempt_at = utcnow() + backoff(row.attempts)


def _outcome_of(row: Outbox) -> str:
    if row.status == OutboxStatus.PENDING:
        return "retrying"
    if row.status == OutboxStatus.SKIPPED:
        return "skipped"
    return "uncertain" if (row.last_error or "").startswith(UNCERTAIN_PREFIX) else "failed"


# -- what a human decides about a failed message ---------------------------------------------------------------

def resend_by_hand(row: Outbox) -> None:
    """Put a failed message back in the queue with fresh attempts, once a human has decided it must go (e.g. the
    recipient confirmed an uncertain one never arrived). Refuses a message that is not failed. Audited."""
    _refuse_unless_failed(row)
    _audit(row, "resend", OutboxStatus.PENDING)
    row.status, row.attempts, row.next_attempt_at, row.last_error = OutboxStatus.PENDING, 0, None, None
    db.session.flush()


def mark_sent_by_hand(row: Outbox) -> None:
    """Record that a failed message did reach its recipient (a human checked), so it is never sent again.
    Refuses a message that is not failed. Audited."""
    _refuse_unless_failed(row)
    _audit(row, "mark_sent", OutboxStatus.SENT)
    row.status, row.sent_at, row.next_attempt_at, row.last_error = OutboxStatus.SENT, utcnow(), None, None
    db.session.flush()


def _audit(row: Outbox, action: str, status: OutboxStatus) -> None:
    audit.record(db.session, action=action, entity_type="outbox", entity_id=row.id,
                 changes={"status": [row.status.value, status.value], "last_error": [row.last_error, None]})


def _refuse_unless_failed(row: Outbox) -> None:
    if row.status != OutboxStatus.FAILED:
        raise ValidationError(f"Only a failed message can be resolved by hand; this one is {row.status.value}.",
                              "status")
