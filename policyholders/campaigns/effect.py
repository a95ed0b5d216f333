"""Campaign effectiveness: per campaign and per run, who was reached, delivered to, responded and converted, the
premium won, the cost, and the uplift over the control group (``docs/metrics.md``, "Campaign effectiveness").

**In SQL, a fixed number of queries.** :func:`effect_of` reads the campaigns a user may see (one query) and the
figures of their runs (one query: the conversions attributed, the members' outcomes, outbox rows and tasks, grouped
by run). A campaign's figures are the sums of its runs'; the uplift and its interval are arithmetic on those sums
(:mod:`policyholders.campaigns.uplift`). Nothing loops over members.

**Conversions.** An opportunity created for the policyholder (its creation's UTC date), or a new-business policy
issued to them (``business_type`` new, not merely quoted; its ``issue_date``). A conversion belongs to the last
campaign touch before it, of any campaign: the member row of that policyholder, of any outcome, with the latest
``touched_at`` whose date is on or before the conversion's and whose campaign's ``conversion_window_days`` still
hold it (touch date ≤ conversion date ≤ touch date + window). So one conversion counts for one member at most;
a later campaign takes the credit from an earlier one; and a control member's conversion is attributed exactly as a
treated one's (their ``touched_at`` is when they were held out), which the control comparison needs. A member
with several conversions is converted once; the premium won adds up the annualised premium of every new-business
policy attributed to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import Date, Numeric, and_, case, cast, func, literal, null, or_, select, union_all

from agents.models import Activity, ActivityStatus, Opportunity
from insurecrm.db import db
from insurecrm.models import Outbox, OutboxStatus, User
from insurecrm.scope import visible
from policies.models import BusinessType, Policy, PolicyStatus
from policyholders.campaigns.models import REACHED, Campaign, CampaignMember, CampaignRun, MemberOutcome
from policyholders.campaigns.responses import task_reached
from policyholders.campaigns.uplift import Uplift, uplift
from policyholders.tasks import annualised_premium
from reports.sql import add_days

ZERO = Decimal("0.00")


@dataclass
class Effect:
    """The figures of a campaign or of one run (counts are member rows; money is Decimal)."""

    members: int = 0
    control: int = 0
    reached: int = 0
    delivered: int = 0
    responded: int = 0
    #: treated members (not held out) with a conversion attributed to them
    converted: int = 0
    control_converted: int = 0
    premium_won: Decimal = ZERO
    cost: Decimal = ZERO

    @property
    def treated(self) -> int:
        return self.members - self.control

    @property
    def cost_per_conversion(self) -> Decimal | None:
        return (self.cost / self.converted).quantize(Decimal("0.01")) if self.converted else None

    @property
    def uplift(self) -> Uplift | None:
        return uplift(self.converted, self.treated, self.control_converted, self.control)

    def add(self, other: Effect) -> None:
        for name in ("members", "control", "reached", "delivered", "responded", "converted", "control_converted",
                     "premium_won", "cost"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class RunEffect:
    run_id: int
    run_date: date
    effect: Effect


@dataclass
class CampaignEffect:
    campaign: Campaign
    effect: Effect = field(default_factory=Effect)
    runs: list[RunEffect] = field(default_factory=list)


def effect_of(user: User, campaign_id: int | None = None) -> list[CampaignEffect]:
    """The effectiveness of the campaigns ``user`` may see (or of the one ``campaign_id``, if they may see it: an
    empty list otherwise), by name, each with its runs by date. Two queries whatever the number of members."""
    condition = visible(Campaign, user)
    if campaign_id is not None:
        condition = and_(condition, Campaign.id == campaign_id)
    campaigns = db.session.scalars(select(Campaign).where(condition).order_by(Campaign.name, Campaign.id)).all()
    found = {campaign.id: CampaignEffect(campaign) for campaign in campaigns}
    if not found:
        return []
    for row in db.session.execute(run_figures(list(found))):
        effect = Effect(members=row.members, control=row.control or 0, reached=row.reached or 0,
                        delivered=row.delivered or 0, responded=row.responded or 0, converted=row.converted or 0,
                        control_converted=row.control_converted or 0, premium_won=_money(row.premium_won),
                        cost=_money(row.cost))
        found[row.campaign_id].runs.append(RunEffect(row.run_id, _date(row.run_date), effect))
        found[row.campaign_id].effect.add(effect)
    return list(found.values())


def run_figures(campaign_ids: list[int]):
    """The ``SELECT`` of the figures of each run of ``campaign_ids``: one row per run, by campaign and date."""
    member, attributed = CampaignMember, attributed_conversions(campaign_ids)
    treated, held_out = member.outcome != MemberOutcome.CONTROL, member.outcome == MemberOutcome.CONTROL
    delivered = or_(and_(member.outcome == MemberOutcome.SENT, Outbox.status == OutboxStatus.SENT),
                    and_(member.outcome == MemberOutcome.TASK, Activity.status == ActivityStatus.DONE))
    responded = or_(member.responded_at.is_not(None), task_reached())
    converted = attributed.c.member_id.is_not(None)
    figures = (
        select(member.run_id, func.count().label("members"), _count(held_out).label("control"),
               _count(member.outcome.in_(REACHED)).label("reached"), _count(delivered).label("delivered"),
               _count(responded).label("responded"), _count(and_(treated, converted)).label("converted"),
               _count(and_(held_out, converted)).label("control_converted"),
               func.sum(case((treated, attributed.c.premium), else_=0)).label("premium_won"))
        .outerjoin(Outbox, Outbox.id == member.outbox_id)
        .outerjoin(Activity, Activity.id == member.activity_id)
        .outerjoin(attributed, attributed.c.member_id == member.id)
        .where(member.campaign_id.in_(campaign_ids))
        .group_by(member.run_id).subquery("figures"))
    return (select(CampaignRun.campaign_id, CampaignRun.id.label("run_id"), CampaignRun.run_date, CampaignRun.cost,
                   func.coalesce(figures.c.members, 0).label("members"), figures.c.control, figures.c.reached,
                   figures.c.delivered, figures.c.responded, figures.c.converted, figures.c.control_converted,
                   figures.c.premium_won)
            .outerjoin(figures, figures.c.run_id == CampaignRun.id)
            .where(CampaignRun.campaign_id.in_(campaign_ids))
            .order_by(CampaignRun.campaign_id, CampaignRun.run_date, CampaignRun.id))


def _count(condition):
    return func.sum(case((condition, 1), else_=0))


def utc_day(instant) -> object:
    """The UTC date of an instant column, as a SQL date on both databases."""
    if db.dialect == "postgresql":
        return cast(func.timezone("UTC", instant), Date)
    return func.date(instant)


def conversions(campaign_ids: list[int]):
    """Every conversion of a policyholder who was a member of ``campaign_ids``: ``kind`` (opportunity, policy),
    ``source_id``, ``holder_id``, ``day`` and the ``premium`` it wins (a policy's annualised premium; NULL for an
    opportunity), as a subquery."""
    members = select(CampaignMember.policyholder_id).where(CampaignMember.campaign_id.in_(campaign_ids))
    money = Numeric(14, 2)
    opportunities = select(literal("opportunity").label("kind"), Opportunity.id.label("source_id"),
                           Opportunity.policyholder_id.label("holder_id"),
                           utc_day(Opportunity.created_at).label("day"), cast(null(), money).label("premium")) \
        .where(Opportunity.policyholder_id.in_(members))
    policies = select(literal("policy").label("kind"), Policy.id, Policy.policyholder_id, Policy.issue_date,
                      cast(annualised_premium(), money)) \
        .where(Policy.business_type == BusinessType.NEW, Policy.status != PolicyStatus.QUOTED,
               Policy.policyholder_id.in_(members))
    return union_all(opportunities, policies).subquery("conversions")


def attributed_conversions(campaign_ids: list[int]):
    """Per member row: the conversions attributed to it (see the module) and the premium they won, as a subquery
    (``member_id``, ``conversions``, ``premium``). Each conversion goes to one member row at most: the last touch
    among every member row of its policyholder, of whatever campaign (only the conversions of members of
    ``campaign_ids`` are looked at, for speed)."""
    conversion, member = conversions(campaign_ids), CampaignMember
    touch_day = utc_day(member.touched_at)
    latest_first = func.row_number().over(partition_by=(conversion.c.kind, conversion.c.source_id),
                                          order_by=(member.touched_at.desc(), member.id.desc()))
    candidates = (
        select(member.id.label("member_id"), conversion.c.premium, latest_first.label("rank"))
        .join(member, member.policyholder_id == conversion.c.holder_id)
        .join(Campaign, Campaign.id == member.campaign_id)
        .where(touch_day <= conversion.c.day,
               conversion.c.day <= add_days(touch_day, Campaign.conversion_window_days))
        .subquery("candidates"))
    return (select(candidates.c.member_id, func.count().label("conversions"),
                   func.coalesce(func.sum(candidates.c.premium), 0).label("premium"))
            .where(candidates.c.rank == 1).group_by(candidates.c.member_id).subquery("attributed"))


def _money(value) -> Decimal:
    # SQLite sums NUMERIC as floating point: through its shortest text, then to cents
    return ZERO if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def _date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))

