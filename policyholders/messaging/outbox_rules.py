"""What the policyholders' domain asks of the outbox sender (registered in :mod:`insurecrm.outbox.hooks`).

A row with a ``policyholder_id`` is a message to that policyholder (renewal reminders, birthday greetings, and the
campaign messages to come); messages to staff carry none and are left alone.

- **Consent and contact, again at send time** (:func:`consent_and_contact`): the row is sent only if the
  policyholder still consents to its channel (and, for a greeting, to marketing) and still has a contact on it; the
  recipient becomes the contact on file now. Otherwise the row is ``skipped`` with the reason: a message queued
  before an opt-out is never sent after it.
- **The way out in every message** (:func:`opt_out_footer`): an email ends with its unsubscribe link, an SMS with
  the opt-out keyword of its language (``INSURECRM_SMS_OPT_OUT_EN`` / ``_ZH``).
- **On the timeline** (:func:`record_on_timeline`): each message sent is an outbound interaction of its channel,
  so the 360° page shows it among the contacts, in its one timeline query.
"""

from __future__ import annotations

from flask import current_app

from insurecrm.db import db, utcnow
from insurecrm.labels import MESSAGE_KIND
from insurecrm.models import Outbox, OutboxChannel
from insurecrm.outbox import hooks
from policyholders.messaging.consent import unsubscribe_url
from policyholders.models import Direction, Interaction, InteractionChannel, Policyholder

#: kinds sent only with marketing consent besides the channel's (as the jobs queue them)
MARKETING_KINDS = frozenset({"birthday"})
#: the last lines of an email, per language ("en" for any other)
EMAIL_FOOTERS = {
    "en": "\n--\nYou receive this email because you agreed to hear from us by email. To receive no more emails, "
          "open: {link}\n",
    "zh": "\n--\n您收到此邮件是因为您同意通过电子邮件接收我们的消息。如不希望再收到，请打开以下链接退订：{link}\n",
}


@hooks.send_check
def consent_and_contact(row: Outbox) -> str | None:
    """Why the message may not go to its policyholder now (consent withdrawn, no contact), else ``None`` — and the
    recipient set to the contact on file now."""
    if row.policyholder_id is None or row.channel not in (OutboxChannel.EMAIL, OutboxChannel.SMS):
        return None
    holder = db.session.get(Policyholder, row.policyholder_id)
    if holder is None:
        return "not sent: the policyholder is no longer on file"
    email = row.channel == OutboxChannel.EMAIL
    consent, contact = (holder.consent_email, holder.email) if email else (holder.consent_sms, holder.phone)
    channel = "email" if email else "SMS"
    if not consent:
        return f"not sent: the policyholder does not consent to {channel} (withdrawn after the message was queued)"
    if row.kind in MARKETING_KINDS and not holder.consent_marketing:
        return "not sent: the policyholder does not consent to marketing"
    if not (contact or "").strip():
        return f"not sent: the policyholder has no {'email address' if email else 'phone'} on file"
    row.recipient = contact.strip()
    return None


@hooks.footer
def opt_out_footer(row: Outbox) -> str:
    """The unsubscribe link of an email, or the opt-out keyword of an SMS, to a policyholder; nothing otherwise."""
    if row.policyholder_id is None:
        return ""
    language = row.language if row.language in EMAIL_FOOTERS else "en"
    if row.channel == OutboxChannel.EMAIL:
        return EMAIL_FOOTERS[language].format(link=unsubscribe_url(row.policyholder_id, "email"))
    if row.channel == OutboxChannel.SMS:
        texts = current_app.config["SMS_OPT_OUT_TEXT"]
        return f" {texts.get(language) or texts['en']}"
    return ""


@hooks.after_sent
def record_on_timeline(row: Outbox) -> None:
    """The message sent, as an outbound interaction on its policyholder's timeline: its subject (an SMS: its text),
    and what kind of message went, in English as stored text is (the sender works outside any reader's request)."""
    if row.policyholder_id is None or row.channel not in (OutboxChannel.EMAIL, OutboxChannel.SMS):
        return
    summary = row.subject if row.channel == OutboxChannel.EMAIL and row.subject else row.body
    kind = str(MESSAGE_KIND[row.kind]) if row.kind in MESSAGE_KIND else row.kind
    db.session.add(Interaction(
        policyholder_id=row.policyholder_id, channel=InteractionChannel(row.channel.value),
        direction=Direction.OUTBOUND, occurred_at=row.sent_at or utcnow(), summary=(summary or "").strip() or kind,
        outcome=f"Sent automatically: {kind}"[:255], policy_id=row.policy_id))
    db.session.flush()
