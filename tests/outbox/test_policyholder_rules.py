"""What the policyholders' domain adds to the sender: consent and contact checked again when a message is sent, the
way out in every message (an unsubscribe link, an opt-out keyword), and each message sent on the timeline."""

from __future__ import annotations

import re

from sqlalchemy import select

from insurecrm.models import OutboxChannel, OutboxStatus
from insurecrm.outbox.sender import send_pending
from policyholders.messaging.consent import read_token
from policyholders.models import Direction, Interaction
from tests.outbox.conftest import NOW, queue


def holder_with(make, **kw):
    defaults = {"name": "Li Wei", "phone": "+8613900001234", "email": "li.wei@example.com", "consent_sms": True,
                "consent_email": True, "consent_marketing": True}
    return make.policyholder(**(defaults | kw))


def test_an_email_to_a_policyholder_ends_with_a_working_unsubscribe_link(smtp, make, session, app):
    holder = holder_with(make)
    row = queue(session, key="r:1", policyholder_id=holder.id)
    assert send_pending(10)["sent"] == 1
    text = smtp.messages[0].get_content()
    link = re.search(r"http://127\.0\.0\.1:5000/unsubscribe/(\S+)", text)
    assert link and "To receive no more emails" in text
    assert read_token(link.group(1)) == (holder.id, "email")
    assert link.group(0) in row.body  # what was sent stays on the row


def test_a_chinese_email_has_the_chinese_footer(smtp, make, session):
    holder = holder_with(make)
    queue(session, key="r:1", policyholder_id=holder.id, language="zh")
    send_pending(10)
    assert "请打开以下链接退订" in smtp.messages[0].get_content()


def test_every_sms_to_a_policyholder_carries_the_opt_out_keyword_of_its_language(sms_server, make, session):
    holder = holder_with(make)
    queue(session, key="s:zh", channel=OutboxChannel.SMS, recipient=holder.phone, language="zh",
          policyholder_id=holder.id)
    queue(session, key="s:en", channel=OutboxChannel.SMS, recipient=holder.phone, language="en",
          policyholder_id=holder.id)
    assert send_pending(10)["sent"] == 2
    texts = {body["idempotency_key"]: body["text"] for _headers, body in sms_server.requests}
    assert texts["s:zh"].endswith(" 回复TD退订") and texts["s:en"].endswith(" Reply STOP to opt out")


def test_a_message_to_staff_has_no_footer(smtp, session):
    row = queue(session, key="staff:1")  # no policyholder
    send_pending(10)
    assert "unsubscribe" not in row.body


def test_a_message_queued_before_consent_was_withdrawn_is_not_sent(smtp, make, session):
    holder = holder_with(make)
    row = queue(session, key="r:1", policyholder_id=holder.id)
    holder.consent_email = False
    session.commit()
    assert send_pending(10) == {"sent": 0, "retrying": 0, "failed": 0, "uncertain": 0, "skipped": 1}
    assert smtp.messages == []
    assert row.status == OutboxStatus.SKIPPED and "does not consent to email" in row.last_error


def test_a_greeting_needs_marketing_consent_still_and_a_contact_still(sms_server, make, session):
    no_marketing = holder_with(make, consent_marketing=False)
    no_phone = holder_with(make, phone=None)
    greeting = queue(session, key="b:1", kind="birthday", channel=OutboxChannel.SMS, recipient="+8613900001234",
                     policyholder_id=no_marketing.id, payload={"policyholder_name": "Li Wei"})
    reminder = queue(session, key="r:1", channel=OutboxChannel.SMS, recipient="+8613900001234",
                     policyholder_id=no_phone.id)
    send_pending(10)
    assert sms_server.requests == []
    assert "marketing" in greeting.last_error and "no phone" in reminder.last_error


def test_the_message_goes_to_the_contact_on_file_now(smtp, make, session):
    holder = holder_with(make, email="new.address@example.com")
    row = queue(session, key="r:1", policyholder_id=holder.id, recipient="old.address@example.com")
    send_pending(10)
    assert smtp.messages[0]["To"] == "new.address@example.com" and row.recipient == "new.address@example.com"


def test_each_message_sent_is_on_the_policyholders_timeline(smtp, sms_server, make, session):
    holder = holder_with(make)
    queue(session, key="r:1", policyholder_id=holder.id)
    queue(session, key="s:1", channel=OutboxChannel.SMS, recipient=holder.phone, policyholder_id=holder.id)
    assert send_pending(10)["sent"] == 2
    contacts = session.scalars(select(Interaction).where(Interaction.policyholder_id == holder.id)
                               .order_by(Interaction.id)).all()
    assert [(c.channel, c.direction, c.occurred_at) for c in contacts] == [
        ("email", Direction.OUTBOUND, NOW), ("sms", Direction.OUTBOUND, NOW)]
    assert contacts[0].summary == "Your policy P2026000123 expires on December 22, 2026"
    assert contacts[1].summary.endswith("Reply STOP to opt out")
    assert all(c.outcome == "Sent automatically: Renewal reminder" for c in contacts)


def test_a_message_not_sent_is_not_on_the_timeline(smtp_down, make, session):
    holder = holder_with(make)
    queue(session, key="r:1", policyholder_id=holder.id)
    assert send_pending(10)["retrying"] == 1
    assert session.scalars(select(Interaction)).all() == []
