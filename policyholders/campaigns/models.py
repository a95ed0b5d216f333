"""The campaign tables: the campaign, its message per language, its runs (one per date), the members of each run
with what each was sent, and the holiday calendar that schedules holiday care.

A run fixes its members when it starts: the segment as it stood on the run's date, a random share held out as the
control group, and for every other member the outcome — a message queued (``sent``), a task made for the owner
agent (``task``), or why not (no consent or contact for the channel, over the weekly cap, over the budget).
Responses and conversions are read from the member's timeline (:mod:`policyholders.campaigns.effect`).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from insurecrm.db import Base, Money, TimestampMixin, VersionedMixin, utcnow


class CampaignKind(enum.StrEnum):
    RENEWAL = "renewal"
    NEW_POLICY_CALLBACK = "new_policy_callback"
    BIRTHDAY = "birthday"
    HOLIDAY_CARE = "holiday_care"
    CROSS_SELL = "cross_sell"
    REACTIVATION = "reactivation"
    CUSTOM = "custom"


class CampaignChannel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"
    AGENT_TASK = "agent_task"


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"


class CampaignSchedule(enum.StrEnum):
    #: one run, on the start date
    ONCE = "once"
    #: a run every day from the start date (birthdays, renewals: the segment names the day's people)
    DAILY = "daily"
    #: a run on each date of the holiday calendar (:class:`Holiday`) within the campaign's dates
    HOLIDAYS = "holidays"


class Campaign(VersionedMixin, TimestampMixin, Base):
    """A campaign over a segment, on one channel, on a schedule, with a budget and a control group.

    Its segment is evaluated in the scope of ``owner_user_id`` (who made it, or to whom it was handed over:
    :mod:`policyholders.campaigns.owners`). ``system_key`` marks the built-in campaigns (``renewal_reminders``,
    ``birthday_greetings``), whose daily jobs read their status and messages; they have no owner."""

    __tablename__ = "campaigns"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[CampaignKind]
    channel: Mapped[CampaignChannel]
    status: Mapped[CampaignStatus] = mapped_column(default=CampaignStatus.DRAFT, index=True)
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segments.id"), index=True)
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    schedule: Mapped[CampaignSchedule] = mapped_column(default=CampaignSchedule.ONCE)
    start_date: Mapped[date]
    end_date: Mapped[date | None]
    #: the share of each run's members held out (sent nothing), in percent
    control_percent: Mapped[int] = mapped_column(default=0)
    #: a conversion counts when it comes within this many days of the member's message
    conversion_window_days: Mapped[int] = mapped_column(default=30)
    cost_per_message: Mapped[Money] = mapped_column(default=Decimal("0"))
    #: no message is sent once the campaign's messages have cost this much (none: no limit)
    budget: Mapped[Money | None]
    system_key: Mapped[str | None] = mapped_column(String(32), unique=True)

    messages: Mapped[list[CampaignMessage]] = relationship(cascade="all, delete-orphan",
                                                           order_by="CampaignMessage.language")
    segment = relationship("Segment")

    def __repr__(self) -> str:
        return f"<Campaign {self.id}>"


class CampaignMessage(Base):
    """A campaign's message in one language (Jinja in a sandbox, as the message templates): the subject of an
    email or a task, and the body."""

    __tablename__ = "campaign_messages"
    __table_args__ = (UniqueConstraint("campaign_id", "language"),)
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str | None] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class CampaignRun(Base):
    """One run of a campaign, on one date: at most one per campaign and date (the unique key), whichever scheduler
    gets there first."""

    __tablename__ = "campaign_runs"
    __table_args__ = (UniqueConstraint("campaign_id", "run_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    run_date: Mapped[date]
    status: Mapped[RunStatus] = mapped_column(default=RunStatus.RUNNING)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    #: members by outcome (:class:`MemberOutcome`), and ``members`` in all
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    cost: Mapped[Money] = mapped_column(default=Decimal("0"))


class MemberOutcome(enum.StrEnum):
    #: held out: the control group, sent nothing
    CONTROL = "control"
    #: a message queued in the outbox
    SENT = "sent"
    #: a task made for the owner agent (the agent-task channel)
    TASK = "task"
    #: no consent for the channel, or no contact on it
    NO_CONSENT = "no_consent"
    #: over the weekly cap of campaign messages
    OVER_CAP = "over_cap"
    #: the campaign's budget was spent
    OVER_BUDGET = "over_budget"


#: the outcomes that reached the policyholder (a message, or a task for their agent)
REACHED = (MemberOutcome.SENT, MemberOutcome.TASK)


class CampaignMember(Base):
    """A policyholder in a run: held out, reached (how), or not reached (why); and their response when they gave
    one (``responded_at``: an inbound message after it, or the outcome an agent recorded on the task)."""

    __tablename__ = "campaign_members"
    __table_args__ = (UniqueConstraint("run_id", "policyholder_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("campaign_runs.id", ondelete="CASCADE"), index=True)
    policyholder_id: Mapped[int] = mapped_column(ForeignKey("policyholders.id", ondelete="CASCADE"), index=True)
    outcome: Mapped[MemberOutcome]
    #: when the run reached (or held out) the member: the start of the conversion window
    touched_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    #: the message queued for the member; indexed: an email replying to it is this member's response
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"), index=True)
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id", ondelete="SET NULL"))
    responded_at: Mapped[datetime | None]
    response: Mapped[str | None] = mapped_column(String(255))

    policyholder = relationship("Policyholder")


class Holiday(TimestampMixin, Base):
    """A date of the holiday calendar (Spring Festival, Mid-Autumn, ...), kept by admins: holiday-care campaigns run
    on each."""

    __tablename__ = "holidays"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(String(64))
