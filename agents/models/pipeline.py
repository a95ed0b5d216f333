"""The sales pipeline (销售机会, 销售漏斗): stages, opportunities and sales activities."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from insurecrm.db import Base, Money, Rate, TimestampMixin, VersionedMixin, utcnow


class PipelineStage(Base):
    """A stage with its win probability (SPEC §4); admins rename and re-weight them, per line if wanted."""

    __tablename__ = "pipeline_stages"
    __table_args__ = (UniqueConstraint("code", "product_line"),)
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str | None] = mapped_column(String(120))
    position: Mapped[int]
    #: 0–100, per cent
    probability: Mapped[Rate]
    #: ``None`` for the default pipeline, else a :class:`~policies.models.ProductLine` value
    product_line: Mapped[str | None] = mapped_column(String(32))
    #: an opportunity staying longer than this in the stage is stale
    max_days: Mapped[int | None]
    is_won: Mapped[bool] = mapped_column(default=False)
    is_lost: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)


class OpportunityStatus(enum.StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class OpportunitySource(enum.StrEnum):
    REFERRAL = "referral"
    CAMPAIGN = "campaign"
    WALK_IN = "walk_in"
    CROSS_SELL = "cross_sell"
    RENEWAL = "renewal"
    WEB = "web"
    OTHER = "other"


class OpportunityLossReason(Base):
    """Why an opportunity was lost: a list admins keep (/admin/loss-reasons); a reason in use is deactivated,
    never deleted, so lost opportunities keep theirs."""

    __tablename__ = "opportunity_loss_reasons"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str | None] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class Opportunity(VersionedMixin, TimestampMixin, Base):
    """A sales opportunity (销售机会) for a policyholder or a prospect."""

    __tablename__ = "opportunities"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    policyholder_id: Mapped[int | None] = mapped_column(ForeignKey("policyholders.id"), index=True)
    prospect_name: Mapped[str | None] = mapped_column(String(120))
    owner_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), index=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("pipeline_stages.id"), index=True)
    stage_entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    probability: Mapped[Rate]
    expected_premium: Mapped[Money] = mapped_column(default=Decimal("0"))
    expected_close_date: Mapped[date | None]
    source: Mapped[OpportunitySource] = mapped_column(default=OpportunitySource.OTHER)
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"), index=True)
    bank_partner_id: Mapped[int | None] = mapped_column(ForeignKey("bank_partners.id"), index=True)
    status: Mapped[OpportunityStatus] = mapped_column(default=OpportunityStatus.OPEN, index=True)
    won_lost_reason: Mapped[str | None] = mapped_column(String(255))
    closed_at: Mapped[datetime | None]
    #: a large group/enterprise deal worked by a team (项目型销售)
    is_group_deal: Mapped[bool] = mapped_column(default=False)
    #: a prospect's phone (a prospect has no policyholder record yet), as the referral gave it
    prospect_phone: Mapped[str | None] = mapped_column(String(32))
    #: the policy the opportunity was won into (created by the win, or an existing one linked)
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("policies.id"), index=True)
    #: why it was lost, from the admins' list; ``won_lost_reason`` holds the note said with it
    loss_reason_id: Mapped[int | None] = mapped_column(ForeignKey("opportunity_loss_reasons.id"), index=True)

    stage: Mapped[PipelineStage] = relationship()
    loss_reason: Mapped[OpportunityLossReason | None] = relationship()
    products: Mapped[list[OpportunityProduct]] = relationship(cascade="all, delete-orphan")
    team: Mapped[list[OpportunityTeamMember]] = relationship(cascade="all, delete-orphan")
    influencers: Mapped[list[Influencer]] = relationship(cascade="all, delete-orphan")
    competitors: Mapped[list[Competitor]] = relationship(cascade="all, delete-orphan")
    stage_changes: Mapped[list[OpportunityStageChange]] = relationship(
        cascade="all, delete-orphan", order_by="OpportunityStageChange.changed_at"
    )


class OpportunityProduct(Base):
    __tablename__ = "opportunity_products"

    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)


class OpportunityTeamMember(Base):
    __tablename__ = "opportunity_team_members"

    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"), primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(64), default="member")


class OpportunityStageChange(Base):
    """Every stage change with its timestamp: drives time-in-stage and conversion analysis."""

    __tablename__ = "opportunity_stage_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"), index=True)
    from_stage_id: Mapped[int | None] = mapped_column(ForeignKey("pipeline_stages.id"))
    to_stage_id: Mapped[int] = mapped_column(ForeignKey("pipeline_stages.id"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class InfluencerRole(enum.StrEnum):
    """CUTE: Coach, User, Technical buyer, Economic buyer."""

    COACH = "coach"
    USER = "user"
    TECHNICAL_BUYER = "technical_buyer"
    ECONOMIC_BUYER = "economic_buyer"


class Attitude(enum.StrEnum):
    SUPPORTER = "supporter"
    NEUTRAL = "neutral"
    OPPONENT = "opponent"


class Influencer(Base):
    __tablename__ = "influencers"

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    title: Mapped[str | None] = mapped_column(String(120))
    role: Mapped[InfluencerRole]
    attitude: Mapped[Attitude] = mapped_column(default=Attitude.NEUTRAL)
    notes: Mapped[str | None] = mapped_column(Text)


class Competitor(Base):
    """A competitor on an opportunity with its SWOT; scores compare it with us (−2 much worse … +2 much better)."""

    __tablename__ = "competitors"

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    strengths: Mapped[str | None] = mapped_column(Text)
    weaknesses: Mapped[str | None] = mapped_column(Text)
    opportunities: Mapped[str | None] = mapped_column(Text)
    threats: Mapped[str | None] = mapped_column(Text)
    brand_score: Mapped[int] = mapped_column(SmallInteger, default=0)
    product_score: Mapped[int] = mapped_column(SmallInteger, default=0)
    service_score: Mapped[int] = mapped_column(SmallInteger, default=0)
    relationship_score: Mapped[int] = mapped_column(SmallInteger, default=0)
    price_score: Mapped[int] = mapped_column(SmallInteger, default=0)


class ActivityKind(enum.StrEnum):
    CALL = "call"
    VISIT = "visit"
    MEETING = "meeting"
    PRESENTATION = "presentation"
    EMAIL = "email"
    CALLBACK = "callback"
    OTHER = "other"


class ActivityStatus(enum.StrEnum):
    PLANNED = "planned"
    DONE = "done"
    CANCELLED = "cancelled"


class Priority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Recurrence(enum.StrEnum):
    NONE = "none"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"


class TaskReason(enum.StrEnum):
    """Why the system asked a person for an activity: what makes it a *task* (see ``agents.task_services``)."""

    #: a renewal reminder owed to a policyholder reachable on no consented channel: the agent calls instead
    RENEWAL_CALL = "renewal_call"
    #: a renewal case never contacted close to expiry, for the branch manager
    RENEWAL_ESCALATION = "renewal_escalation"
    #: a new-policy callback (新单回访) inside the cooling-off period
    NEW_POLICY_CALLBACK = "new_policy_callback"
    #: a periodic service call (定期回访) for a key customer
    KEY_CUSTOMER_CALL = "key_customer_call"
    #: an open opportunity past its stage's residence limit (``max_days``): its owner, and at twice the limit the
    #: branch manager, are asked to move it on (agents.pipeline.stale)
    STALE_OPPORTUNITY = "stale_opportunity"
    #: a policyholder wrote (an inbound SMS or email, on their timeline): read it and answer
    #: (policyholders.messaging.inbound)
    INBOUND_MESSAGE = "inbound_message"
    #: a campaign reaches the policyholder through their agent (policyholders.campaigns.runs)
    CAMPAIGN = "campaign"
    #: an active campaign stopped because its owner may no longer keep it (left, or moved): hand it over
    #: (policyholders.campaigns.owners)
    CAMPAIGN_STOPPED = "campaign_stopped"
    #: anything else the system asks of a person
    OTHER = "other"


class TaskOutcome(enum.StrEnum):
    """How a task was completed."""

    REACHED = "reached"
    NO_ANSWER = "no_answer"
    #: reached, and asked to be called again on a date
    CALL_BACK = "call_back"


class Activity(TimestampMixin, Base):
    """A sales or service activity (销售活动) of an agent: planned, then done and evaluated.

    An activity with a ``reason`` is a *task* the system gave a person: it has a due date, is assigned to an agent
    (``agent_id``) or to a user who is not an agent (``assignee_user_id``: a branch manager), or to neither (the
    pool of its unit, which the unit's managers work), and is completed with a ``task_outcome``. ``source_key``
    names what produced it (e.g. ``renewal_escalation:case=42``); the unique constraint on it makes a daily job
    that inserts tasks exactly-once under reruns and concurrent runs.
    """

    __tablename__ = "activities"
    __audited__ = True
    #: for policyholders.tasks.key_customer_callbacks: the calls that changed, or whose service comes of age
    __table_args__ = (Index("ix_activities_updated_at", "updated_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), index=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    kind: Mapped[ActivityKind]
    priority: Mapped[Priority] = mapped_column(default=Priority.NORMAL)
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    planned_start: Mapped[datetime] = mapped_column(index=True)
    planned_end: Mapped[datetime | None]
    status: Mapped[ActivityStatus] = mapped_column(default=ActivityStatus.PLANNED, index=True)
    actual_start: Mapped[datetime | None] = mapped_column(index=True)
    actual_end: Mapped[datetime | None]
    policyholder_id: Mapped[int | None] = mapped_column(ForeignKey("policyholders.id"), index=True)
    contact_name: Mapped[str | None] = mapped_column(String(120))
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id"), index=True)
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("policies.id"), index=True)
    recurrence: Mapped[Recurrence] = mapped_column(default=Recurrence.NONE)
    cost: Mapped[Money | None]
    evaluation: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(255))
    #: what produced the task, unique: the same key twice is the same task
    source_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    reason: Mapped[TaskReason | None] = mapped_column(index=True)
    due_date: Mapped[date | None] = mapped_column(index=True)
    #: a user who is not an agent (a branch manager) the task is assigned to
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    renewal_case_id: Mapped[int | None] = mapped_column(ForeignKey("renewal_cases.id", ondelete="SET NULL"),
                                                        index=True)
    #: the task this one follows up (a call back on a date)
    follow_up_of_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id", ondelete="SET NULL"))
    task_outcome: Mapped[TaskOutcome | None]
    completed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: a recurring activity's occurrences form one series: the id of its first occurrence (``None``: a single one)
    series_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id", ondelete="SET NULL"), index=True)
    #: 1, 2, 3, ... within the series, in the order the recurrence rule produced them
    series_position: Mapped[int | None]
    #: the last date the series' recurrence rule runs to (the date of its last occurrence when given a count)
    recurrence_until: Mapped[date | None]


class ScorecardPeriod(enum.StrEnum):
    """The periods an agent's scorecard (绩效考核) is kept for."""

    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class ScorecardMetric(enum.StrEnum):
    """The figures of an agent's scorecard; a target is set per metric (docs/metrics.md, "Agent scorecards")."""

    NEW_BUSINESS_PREMIUM = "new_business_premium"
    RENEWAL_RATE = "renewal_rate"
    PERSISTENCY_13 = "persistency_13"
    ACTIVITIES_DONE = "activities_done"
    CONVERSION_RATE = "conversion_rate"
    #: the fewer the better: its target is a ceiling
    COMPLAINTS = "complaints"


class AgentTarget(TimestampMixin, Base):
    """A target the branch manager set for an agent, one metric of one period (a month, quarter or year, named by its
    first day). Money in the currency, rates in per cent (0–100), counts as whole numbers."""

    __tablename__ = "agent_targets"
    __table_args__ = (UniqueConstraint("agent_id", "period_kind", "period_start", "metric"),)
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    period_kind: Mapped[ScorecardPeriod]
    period_start: Mapped[date]
    metric: Mapped[ScorecardMetric]
    target_value: Mapped[Money]
    set_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
