"""Consent withdrawn by the policyholders themselves: the unsubscribe link of every email, the opt-out keyword of
every SMS, and what withdrawing does.

**The link.** Each email to a policyholder ends with ``<INSURECRM_PUBLIC_URL>/unsubscribe/<token>``; the token is the
policyholder's id and the channel, signed with itsdangerous under the application's secret key (salt
:data:`TOKEN_SALT`). It never expires — an old email's link still works — and it can only ever withdraw consent, so a
forwarded link can do no worse than stop messages; rotating ``INSURECRM_SECRET_KEY`` revokes every link at once. A
``GET`` of the page only shows what will happen; the ``POST`` of its form (with the project's CSRF token) withdraws.

**Withdrawing** (:func:`withdraw`) sets ``consent_email`` or ``consent_sms`` false at once, as the system actor
``unsubscribe:<how>`` (the audit log names it), records a :class:`ConsentWithdrawal` (when and how: the page shows it)
and an interaction on the timeline. Messages already queued on that channel are not sent: the outbox sender checks
consent again before each one (:mod:`policyholders.messaging.outbox_rules`).
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select

from insurecrm.actor import acting_as
from insurecrm.db import db, utcnow
from policyholders.messaging.models import ConsentWithdrawal, InboundMessage, MessageChannel, WithdrawalMethod
from policyholders.models import Direction, Interaction, InteractionChannel, Policyholder

TOKEN_SALT = "insurecrm.unsubscribe"
CONSENT_FIELD = {MessageChannel.EMAIL: "consent_email", MessageChannel.SMS: "consent_sms"}
#: what the timeline says of a withdrawal (stored text, like the jobs' wording of tasks)
SUMMARIES = {
    (MessageChannel.EMAIL, WithdrawalMethod.LINK): "Unsubscribed from email by the link in an email.",
    (MessageChannel.EMAIL, WithdrawalMethod.KEYWORD): "Asked by email to receive no more emails.",
    (MessageChannel.SMS, WithdrawalMethod.KEYWORD): "Replied with the opt-out keyword: no more SMS.",
    (MessageChannel.SMS, WithdrawalMethod.LINK): "Unsubscribed from SMS by a link.",
}


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=TOKEN_SALT)


def unsubscribe_token(policyholder_id: int, channel: MessageChannel | str) -> str:
    """The signed token of the unsubscribe link of ``policyholder_id``'s messages on ``channel``."""
    return _serializer().dumps([policyholder_id, MessageChannel(channel).value])


def unsubscribe_url(policyholder_id: int, channel: MessageChannel | str) -> str:
    """The full unsubscribe link, under ``INSURECRM_PUBLIC_URL`` (the sender works outside any request)."""
    return f"{current_app.config['PUBLIC_URL']}/unsubscribe/{unsubscribe_token(policyholder_id, channel)}"


def read_token(token: str) -> tuple[int, MessageChannel] | None:
    """The policyholder id and channel of a token, or ``None`` when it is not one we signed (or is malformed)."""
    try:
        holder_id, channel = _serializer().loads(token)
        return int(holder_id), MessageChannel(channel)
    except (BadSignature, ValueError, TypeError):
        return None


def withdraw(holder: Policyholder, channel: MessageChannel, method: WithdrawalMethod, *,
             inbound: InboundMessage | None = None, at: datetime | None = None) -> ConsentWithdrawal | None:
    """Withdraw ``holder``'s consent to ``channel`` now, as the policyholder did by ``method``: the consent flag is
    set false (audited as ``unsubscribe:link`` or ``unsubscribe:keyword``), the withdrawal recorded with its time, and
    an inbound interaction put on the timeline. A consent already withdrawn is left as it is (``None``): a second
    click of the link, or STOP sent twice, records nothing more. Flushes; the caller commits."""
    field = CONSENT_FIELD[channel]
    if not getattr(holder, field):
        return None
    at = at or utcnow()
    with acting_as("unsubscribe:link") if method == WithdrawalMethod.LINK else acting_as("unsubscribe:keyword"):
        setattr(holder, field, False)
        db.session.flush()  # the audit row is written now, under the actor
    withdrawal = ConsentWithdrawal(policyholder_id=holder.id, channel=channel, method=method, withdrawn_at=at,
                                   inbound_message_id=inbound.id if inbound else None)
    db.session.add(withdrawal)
    db.session.add(Interaction(
        policyholder_id=holder.id, channel=InteractionChannel(channel.value), direction=Direction.INBOUND,
        occurred_at=at, summary=SUMMARIES[(channel, method)], outcome="Consent withdrawn"))
    db.session.flush()
    return withdrawal


def latest_withdrawals(holder_id: int) -> dict[str, datetime]:
    """When ``holder_id`` last withdrew each channel's consent themselves: ``{"sms": instant, ...}``. One query."""
    rows = db.session.execute(
        select(ConsentWithdrawal.channel, func.max(ConsentWithdrawal.withdrawn_at))
        .where(ConsentWithdrawal.policyholder_id == holder_id).group_by(ConsentWithdrawal.channel))
    return {MessageChannel(channel).value: at for channel, at in rows}
