"""The demo book's segments and campaigns: what someone trying the product finds on the Segments, Campaigns and
Campaign effectiveness pages.

The first branch manager (``manager1``) keeps two segments of their branch and a campaign on each, made through the
services the pages use, as they would have made them:

- "Loyal low contributors": the policyholders the Segments report places as loyal but contributing little, with
  an active cross-sell SMS campaign (10% control group) that ran once, :data:`RUN_DAYS_AGO` days before the book's
  date, so that its run has members and the effectiveness page has figures: in the days after, the first
  :data:`REPLIES` members sent the SMS whose agent is active replied "YES" (an inbound SMS, taken in as the SMS
  webhook takes it), and the agents called the first :data:`OPPORTUNITIES` of them back (their task completed as
  reached) and opened an opportunity for health cover — the campaign's responses and conversions;
- "Renewals due within 60 days": a draft renewal email, ready to be checked and activated.

Each step runs with the clock set to the day it stands for (a segment made, a campaign activated, run, a reply), so
that dates and the segment's members are those of that day. The run is the campaign's own (SQL over the segment, in
batches): the only loop here is over the handful of replies. Its messages wait in the outbox, as the book's
reminders do, for the sender. Commits once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select

from agents.models import Activity, Agent, AgentStatus, OpportunitySource, TaskOutcome
from agents.pipeline.opportunities import create_opportunity
from agents.task_services import complete_task
from insurecrm import clock
from insurecrm.actor import acting_as
from insurecrm.db import db
from insurecrm.models import User
from policies.models import Product, ProductLine
from policyholders.campaigns import services as campaigns
from policyholders.campaigns.models import Campaign, CampaignMember, CampaignRun, CampaignStatus, MemberOutcome
from policyholders.campaigns.runs import run_campaign
from policyholders.campaigns.schemas import CampaignSchema
from policyholders.messaging import inbound
from policyholders.messaging.models import InboundMessage, MessageChannel
from policyholders.models import Policyholder
from policyholders.segments import services as segments
from policyholders.segments.models import Segment
from policyholders.segments.schemas import SegmentSchema

#: who keeps the demo's segments and campaigns
MANAGER = "manager1"
#: how many days before the book's date the cross-sell campaign ran (within its conversion window of 30 days)
RUN_DAYS_AGO = 21
#: how many members reached by the cross-sell SMS reply to it, and how many of those get an opportunity
REPLIES, OPPORTUNITIES = 6, 4
#: 10:00 in China: when the manager's steps are taken
_OFFICE_HOUR_UTC = time(2, 0)

LOYAL_LOW_CONTRIBUTORS = {
    "name": "Loyal low contributors",
    "description": "Policyholders of the branch who have stayed with us for years but contribute little: the "
                   "Segments report's cross-sell quadrant.",
}
RENEWALS_DUE = {
    "name": "Renewals due within 60 days",
    "description": "Policyholders of the branch with a policy to renew in the next 60 days.",
    "filter": {"renewal_due_days": 60},
}
CROSS_SELL = {
    "name": "Health and accident cover for loyal customers",
    "description": "Thank loyal policyholders who hold little with us and offer a call about health and accident "
                   "cover.",
    "kind": "cross_sell", "channel": "sms", "schedule": "once", "control_percent": 10, "conversion_window_days": 30,
    "cost_per_message": "0.05", "budget": "200.00",
    "messages": [
        {"language": "en", "body": "Dear {{ policyholder_name }}, thank you for staying with Hengtai. Your agent "
                                   "can show you our health and accident cover: reply YES and they will call you."},
        {"language": "zh", "body": "{{ policyholder_name }}您好，感谢您一直以来对恒泰保险的信任。您的代理人可以为您介绍"
                                   "我们的健康险和意外险：回复“是”，我们将安排代理人与您联系。"},
    ],
}
RENEWAL_EMAIL = {
    "name": "Renewal reminder before the agent's call",
    "description": "An email to the policyholders whose policy is due for renewal, before their agent calls.",
    "kind": "renewal", "channel": "email", "schedule": "once", "control_percent": 0, "conversion_window_days": 60,
    "cost_per_message": "0.00",
    "messages": [
        {"language": "en", "subject": "Your policy is due for renewal",
         "body": "Dear {{ policyholder_name }},\n\nyour policy with Hengtai is due for renewal within the next two "
                 "months. Your agent will call you to go through your cover and the renewal quote; you may also "
                 "reply to this email with any question.\n\nHengtai Life & General Insurance"},
        {"language": "zh", "subject": "您的保单即将到期续保",
         "body": "{{ policyholder_name }}您好：\n\n您在恒泰保险的保单将在两个月内到期。您的代理人将致电与您核对保障内容"
                 "和续保报价；如有任何疑问，也可直接回复本邮件。\n\n恒泰人寿财产保险"},
    ],
}


def add_segments_and_campaigns(today: date) -> dict[str, int]:
    """Make the demo's segments and campaigns for the book of ``today`` (see the module) and commit; the numbers
    made, and the members of the cross-sell run. Does nothing without the user :data:`MANAGER`."""
    manager = db.session.scalar(select(User).where(User.username == MANAGER))
    if manager is None:
        return {}
    ran_on = today - timedelta(days=RUN_DAYS_AGO)
    with acting_as("cli:demo"):
        try:
            with _clock_at(ran_on - timedelta(days=2)):
                loyal = _segment({**LOYAL_LOW_CONTRIBUTORS, "filter": {
                    "quadrant": ["cross_sell"], "org_unit_id": manager.org_unit_id}}, manager)
                cross_sell = _campaign({**CROSS_SELL, "start_date": ran_on.isoformat()}, loyal, manager)
            with _clock_at(ran_on - timedelta(days=1)):
                campaigns.set_status(cross_sell, CampaignStatus.ACTIVE)
            with _clock_at(ran_on):
                run = run_campaign(cross_sell, ran_on)
            _replies(run, manager, ran_on)
            with _clock_at(today):
                renewals = _segment({**RENEWALS_DUE, "filter": {**RENEWALS_DUE["filter"],
                                                                "org_unit_id": manager.org_unit_id}}, manager)
                _campaign({**RENEWAL_EMAIL, "start_date": (today + timedelta(days=7)).isoformat()}, renewals, manager)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
    return {"segments": 2, "campaigns": 2, "campaign_members": run.counts.get("members", 0)}


def _replies(run: CampaignRun, manager: User, ran_on: date) -> None:
    """The first :data:`REPLIES` members the run sent the SMS to, whose agent is active, reply "YES" over the days
    after; the agent calls the first :data:`OPPORTUNITIES` of them back and opens an opportunity."""
    replying = db.session.execute(
        select(Policyholder.id, Policyholder.phone, Policyholder.preferred_language, Policyholder.owner_agent_id)
        .join(CampaignMember, CampaignMember.policyholder_id == Policyholder.id)
        .join(Agent, Agent.id == Policyholder.owner_agent_id)
        .where(CampaignMember.run_id == run.id, CampaignMember.outcome == MemberOutcome.SENT,
               Agent.status == AgentStatus.ACTIVE)
        .order_by(Policyholder.id).limit(REPLIES)).all()
    health = db.session.scalar(select(Product.id).where(Product.line == ProductLine.HEALTH, Product.active.is_(True))
                               .order_by(Product.id).limit(1))
    for number, holder in enumerate(replying):
        day = ran_on + timedelta(days=1 + number % 3)
        with _clock_at(day):
            message, _new = inbound.receive(MessageChannel.SMS, {
                "sender": holder.phone, "text": "YES" if holder.preferred_language == "en" else "是",
                "message_id": f"demo:run={run.id}:holder={holder.id}"})
            if number < OPPORTUNITIES and message.policyholder_id == holder.id:
                agent_user = db.session.scalar(select(User).where(User.agent_id == holder.owner_agent_id, User.active))
                _call_back(message, holder, agent_user or manager, health, day)


def _call_back(message: InboundMessage, holder, actor: User, product_id: int | None, day: date) -> None:
    """The agent (``actor``) calls ``holder`` back about their reply and opens an opportunity for health cover."""
    task = db.session.scalar(select(Activity).where(Activity.source_key == f"inbound_message:{message.id}"))
    if task is not None:
        complete_task(task, outcome=TaskOutcome.REACHED, actor=actor,
                      note="Interested in health cover: meeting to go through a quote.")
    create_opportunity({"title": "Health cover", "policyholder_id": holder.id,
                        "owner_agent_id": holder.owner_agent_id, "source": OpportunitySource.CAMPAIGN,
                        "product_ids": [product_id] if product_id else [], "expected_premium": Decimal("3600.00"),
                        "expected_close_date": day + timedelta(days=30)}, actor=actor)


def _segment(fields: dict, manager: User) -> Segment:
    return segments.create_segment(SegmentSchema().load(fields), actor=manager)


def _campaign(fields: dict, segment: Segment, manager: User) -> Campaign:
    data = CampaignSchema().load({**fields, "segment_id": segment.id})
    return campaigns.create_campaign(data, actor=manager)


def _clock_at(day: date):
    return clock.frozen(datetime.combine(day, _OFFICE_HOUR_UTC, UTC))


