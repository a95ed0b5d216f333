"""An email reply is the response of the campaign whose message it answers (its In-Reply-To), not of the latest one;
without one of our Message-IDs, of the latest (policyholders/campaigns/responses.py)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from insurecrm.models import Outbox, OutboxChannel, OutboxStatus
from insurecrm.outbox.gateways import new_message_id
from policyholders.campaigns.models import CampaignChannel, CampaignMember
from policyholders.messaging.inbound import receive
from policyholders.messaging.models import MessageChannel
from tests.campaigns.conftest import ON
from tests.campaigns.test_effect import TOUCH, run_at


def sent(session, run) -> dict[int, CampaignMember]:
    """The members of ``run`` reached by email, by policyholder, their emails sent (a Message-ID kept on each)."""
    members = {m.policyholder_id: m for m in session.scalars(select(CampaignMember).where(
        CampaignMember.run_id == run.id, CampaignMember.outbox_id.is_not(None)))}
    for member in members.values():
        row = session.get(Outbox, member.outbox_id)
        row.status, row.message_id = OutboxStatus.SENT, new_message_id(row.id, "x@insurer.example")
    session.commit()
    return members


def email_from(holder, at, **headers) -> dict:
    return {"sender": holder.email, "subject": "Re: Hello", "text": "Tell me more", "received_at": at, **headers}


def two_campaigns(campaign_of, session):
    first = sent(session, run_at(campaign_of(name="Health", channel=CampaignChannel.EMAIL)))
    second = sent(session, run_at(campaign_of(name="Motor", channel=CampaignChannel.EMAIL), ON + timedelta(days=2),
                                  TOUCH + timedelta(days=2)))
    return first, second


def test_a_reply_is_the_response_of_the_campaign_it_answers_not_the_latest(org, book, campaign_of, session):
    first, second = two_campaigns(campaign_of, session)
    holder = book.holders[0]
    answered = session.get(Outbox, first[holder.id].outbox_id)

    receive(MessageChannel.EMAIL, email_from(holder, TOUCH + timedelta(days=3), in_reply_to=answered.message_id))
    session.commit()

    session.refresh(first[holder.id])
    session.refresh(second[holder.id])
    assert first[holder.id].responded_at == TOUCH + timedelta(days=3)
    assert first[holder.id].response == "Re: Hello: Tell me more"
    assert second[holder.id].responded_at is None


def test_without_our_message_id_the_latest_campaign_has_the_response(org, book, campaign_of, session):
    first, second = two_campaigns(campaign_of, session)
    holder = book.holders[0]
    receive(MessageChannel.EMAIL, email_from(holder, TOUCH + timedelta(days=3), in_reply_to="<theirs@mail.example>"))
    session.commit()
    session.refresh(first[holder.id])
    session.refresh(second[holder.id])
    assert (first[holder.id].responded_at, second[holder.id].responded_at) == (None, TOUCH + timedelta(days=3))


def test_a_reply_outside_its_campaigns_window_or_to_no_campaign_credits_none(org, book, campaign_of, session):
    first = sent(session, run_at(campaign_of(name="Health", channel=CampaignChannel.EMAIL,
                                             conversion_window_days=1)))
    second = sent(session, run_at(campaign_of(name="Motor", channel=CampaignChannel.EMAIL), ON + timedelta(days=2),
                                  TOUCH + timedelta(days=2)))
    late, other = book.holders[0], book.holders[2]
    receive(MessageChannel.EMAIL, email_from(late, TOUCH + timedelta(days=3),
                                             in_reply_to=session.get(Outbox, first[late.id].outbox_id).message_id))
    greeting = Outbox(idempotency_key="greeting", kind="birthday", channel=OutboxChannel.EMAIL,
                      recipient=other.email, policyholder_id=other.id, status=OutboxStatus.SENT,
                      message_id="<outbox.0.greeting@insurer.example>")
    session.add(greeting)
    session.commit()
    receive(MessageChannel.EMAIL, email_from(other, TOUCH + timedelta(days=3), in_reply_to=greeting.message_id))
    session.commit()

    responded = session.scalars(select(CampaignMember).where(CampaignMember.responded_at.is_not(None))).all()
    assert responded == []  # neither the campaign answered (its window is over) nor the latest one takes it
    assert second[late.id].outcome == "sent"
