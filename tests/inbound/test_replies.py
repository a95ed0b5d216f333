"""An email answering one of ours (its In-Reply-To or References names our Message-ID) is the policyholder's we
wrote to, whatever address it comes from; one naming none of ours is matched by its address, as before."""

from __future__ import annotations

from uuid import uuid4

from sqlalchemy import select

from insurecrm.models import Outbox, OutboxChannel, OutboxStatus
from insurecrm.outbox.gateways import new_message_id
from insurecrm.outbox.sender import send_pending
from policyholders.messaging.models import InboundMessage
from policyholders.models import Direction, Interaction
from tests.outbox.conftest import FROM, REMINDER, at, smtp  # noqa: F401 - the fixtures, shared

from .test_webhooks import tasks_of, timeline


def sent_to(session, holder, *, kind="birthday", policy=None, **kw) -> Outbox:
    """An email of ours to ``holder``, sent: its Message-ID kept, as the sender keeps it."""
    row = Outbox(idempotency_key=f"{kind}:holder={holder.id}:{uuid4()}", kind=kind, channel=OutboxChannel.EMAIL,
                 recipient=holder.email, policyholder_id=holder.id,
                 policy_id=policy.id if policy else None, status=OutboxStatus.SENT, body="Happy birthday", **kw)
    session.add(row)
    session.flush()
    row.message_id = new_message_id(row.id, FROM)
    session.commit()
    return row


def reply(gateway, session, sender: str, **headers) -> InboundMessage:
    response = gateway("email", {"from": sender, "subject": "Re: Your policy", "text": "Yes, please renew it",
                                 **headers})
    assert response.status_code == 200, response.json
    return session.get(InboundMessage, response.json["id"])


def test_a_reply_to_a_renewal_reminder_from_an_address_nobody_has_is_the_policyholders(
        gateway, book, make, session, smtp, at):  # noqa: F811 - the shared fixtures
    policy = make.policy(book.li)
    row = Outbox(idempotency_key="renewal_reminder:policy=1:offset=30", kind="renewal_reminder",
                 channel=OutboxChannel.EMAIL, recipient=book.li.email, language="en", payload=REMINDER,
                 policyholder_id=book.li.id, policy_id=policy.id)
    session.add(row)
    session.commit()
    assert send_pending(10)["sent"] == 1
    [email] = smtp.messages

    message = reply(gateway, session, "Li Na <li.na.2026@newmail.example>", in_reply_to=email["Message-ID"])

    assert (message.match, message.candidates, message.reply_to_outbox_id) == ("matched", 0, row.id)
    answer = [contact for contact in timeline(session, book.li) if contact.direction == Direction.INBOUND]
    assert [(contact.summary, contact.policy_id) for contact in answer] == [
        ("Re: Your policy\n\nYes, please renew it", policy.id)]
    [task] = tasks_of(session, book.li)
    assert (task.agent_id, task.policy_id) == (book.agent.id, policy.id)


def test_a_reply_from_an_address_several_policyholders_share_is_the_one_we_wrote_to(gateway, book, make, session):
    home = [make.policyholder(book.agent, name=name, email="Home@Example.com", consent_email=True)
            for name in ("Sun Li", "Sun Hao")]
    session.commit()
    ours = sent_to(session, home[1])

    message = reply(gateway, session, "home@example.com", in_reply_to=ours.message_id)

    assert (message.match, message.candidates, message.policyholder_id) == ("matched", 2, home[1].id)
    assert len(timeline(session, home[1])) == 1 and timeline(session, home[0]) == []
    assert session.scalars(select(InboundMessage).where(InboundMessage.policyholder_id.is_(None))).all() == []


def test_the_thread_wins_over_an_address_that_is_another_policyholders(gateway, book, session):
    # Zhao Min answers the email we sent her husband: it is about him, for his agent
    ours = sent_to(session, book.wang)
    message = reply(gateway, session, "zhao@example.com", in_reply_to=ours.message_id)
    assert (message.policyholder_id, message.candidates) == (book.wang.id, 1)
    assert timeline(session, book.wife) == []


def test_a_reply_to_a_reply_is_traced_by_its_references(gateway, book, session):
    ours = sent_to(session, book.li)
    bare = ours.message_id.strip("<>").upper()  # a gateway that drops the brackets, a mail program that shouts
    message = reply(gateway, session, "someone@elsewhere.example", in_reply_to="<agent-answer.1@mail.example>",
                    references=f"<older@x.example> {bare} <agent-answer.1@mail.example>")
    assert (message.match, message.policyholder_id, message.reply_to_outbox_id) == ("matched", book.li.id, ours.id)


def test_an_in_reply_to_naming_none_of_ours_leaves_the_old_rule(gateway, book, session):
    ours = sent_to(session, book.li)
    by_address = reply(gateway, session, "LI.NA@example.com", in_reply_to="<not-ours.42@elsewhere.example>")
    nobody = reply(gateway, session, "stranger@elsewhere.example", in_reply_to="<not-ours.43@elsewhere.example>")
    guessed = reply(gateway, session, "stranger@elsewhere.example",  # the row's id without its random part
                    in_reply_to=f"<outbox.{ours.id}.00000000000000000000@insurer.example>")

    assert (by_address.match, by_address.policyholder_id, by_address.reply_to_outbox_id) == ("matched", book.li.id,
                                                                                             None)
    assert by_address.in_reply_to == "<not-ours.42@elsewhere.example>"  # kept as it came
    for message in (nobody, guessed):
        assert (message.match, message.policyholder_id, message.reply_to_outbox_id) == ("unknown", None, None)


def test_a_reply_to_an_email_to_staff_is_matched_by_its_address(gateway, book, session):
    report = Outbox(idempotency_key="sales_report:2026-11", kind="sales_report", channel=OutboxChannel.EMAIL,
                    recipient="manager@insurer.example", status=OutboxStatus.SENT, message_id="<outbox.1.ab@x.example>")
    session.add(report)
    session.commit()
    message = reply(gateway, session, "li.na@example.com", in_reply_to=report.message_id)
    assert (message.match, message.policyholder_id, message.reply_to_outbox_id) == ("matched", book.li.id,
                                                                                    report.id)
    assert [contact.policy_id for contact in timeline(session, book.li)] == [None]


def test_unsubscribe_in_a_reply_from_another_address_stops_emails_to_the_one_we_wrote_to(gateway, book, session):
    ours = sent_to(session, book.li)
    response = gateway("email", {"from": "li.na.2026@newmail.example", "subject": "UNSUBSCRIBE", "text": "",
                                 "in_reply_to": ours.message_id})
    assert response.json["opt_out"] is True and response.json["match"] == "matched"
    session.refresh(book.li)
    assert book.li.consent_email is False
    assert tasks_of(session, book.li) == []


def test_an_sms_is_matched_by_its_number_only(gateway, book, session):
    response = gateway("sms", {"from": "+8613800138001", "text": "Hello", "in_reply_to": "<x@y>"})
    assert response.status_code == 422 and "in_reply_to" in response.json["errors"]
    assert session.scalars(select(Interaction)).all() == []

