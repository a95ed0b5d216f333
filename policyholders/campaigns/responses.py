"""Campaign responses: when a policyholder answers a campaign.

**An inbound email that answers one of our emails** (its ``In-Reply-To`` or ``References`` names it:
``reply_to_outbox_id``, see :mod:`policyholders.messaging.inbound`) is the response of the member row that email was
sent for (``CampaignMember.outbox_id``) — exactly that campaign, however many came since. An answer to an email of
ours that no campaign sent (a staff report) is no campaign's response.

**Any other inbound SMS or email** matched to a policyholder (not an opt-out) answers the last campaign message sent
to them — the latest member row of theirs reached by a message (outcome ``sent``) touched before the message
arrived and whose campaign's conversion window still holds it.

Either way the window counts: a member responds within its campaign's conversion window (``conversion_window_days``
after ``touched_at``), as a conversion does. The row's ``responded_at`` is set to the message's time and
``response`` to its text (cut to 255 characters). The first answer is kept: a second message does not move the time
a member responded. Registered with :func:`policyholders.messaging.inbound.on_response`, in the inbound message's
transaction.

**A campaign task** (the agent-task channel) that the agent completed as ``reached`` is the member's response:
read when asked, from the task itself (``activity_id``: its ``task_outcome``, ``actual_end`` and the note the agent
wrote), so completing a task changes nothing of the campaigns' (:func:`responded_at_of`, :func:`response_of`).
"""

from __future__ import annotations

from datetime import UTC, timedelta

from sqlalchemy import ColumnElement, and_, case, select

from agents.models import Activity, TaskOutcome
from insurecrm.db import db
from policyholders.campaigns.models import Campaign, CampaignMember, MemberOutcome
from policyholders.messaging.inbound import on_response
from policyholders.messaging.models import InboundMessage
from policyholders.models import Policyholder

#: the member rows looked at for one message, latest first: more than any policyholder's overlapping campaigns
RECENT_TOUCHES = 20
RESPONSE_LENGTH = 255


@on_response
def mark_campaign_response(message: InboundMessage, holder: Policyholder) -> CampaignMember | None:
    """Mark ``message`` as the response of ``holder``'s campaign message it answers: the one it replies to, else
    the last one sent (see the module). The member row marked, or ``None`` when it answers none (no campaign
    message, out of the window, answered already, a reply to an email no campaign sent). Flushes nothing: the
    inbound message's transaction does."""
    received = message.received_at
    touches = (select(CampaignMember, Campaign.conversion_window_days)
               .join(Campaign, Campaign.id == CampaignMember.campaign_id)
               .where(CampaignMember.policyholder_id == holder.id, CampaignMember.outcome == MemberOutcome.SENT,
                      CampaignMember.touched_at <= received))
    if message.reply_to_outbox_id is not None:
        rows = db.session.execute(touches.where(CampaignMember.outbox_id == message.reply_to_outbox_id)).all()
    else:
        rows = db.session.execute(touches.order_by(CampaignMember.touched_at.desc(), CampaignMember.id.desc())
                                  .limit(RECENT_TOUCHES)).all()
    for member, window_days in rows:
        if _aware(received) <= _aware(member.touched_at) + timedelta(days=window_days):
            if member.responded_at is not None:
                return None
            text = f"{message.subject}: {message.text}" if message.subject else message.text
            member.responded_at, member.response = received, (text or "").strip()[:RESPONSE_LENGTH] or None
            return member
    return None


def _aware(moment):
    # SQLite hands back naive UTC instants; the gateway's time is aware
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def task_reached(task=Activity) -> ColumnElement[bool]:
    """The member's task was completed as ``reached`` (SQL, over an outer-joined :class:`Activity`)."""
    return task.task_outcome == TaskOutcome.REACHED


def responded_at_of(member=CampaignMember, task=Activity) -> ColumnElement:
    """When the member responded (SQL): the inbound message's time, else the time the agent completed their task
    as reached; NULL when they did not respond. ``task`` is outer-joined on ``member.activity_id``."""
    return case((member.responded_at.is_not(None), member.responded_at),
                (task_reached(task), task.actual_end), else_=None)


def response_of(member=CampaignMember, task=Activity) -> ColumnElement:
    """What the member answered (SQL): the inbound message's text, else the note of the task completed as
    reached."""
    return case((member.responded_at.is_not(None), member.response),
                (and_(task_reached(task), task.outcome.is_not(None)), task.outcome), else_=None)
