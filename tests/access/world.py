"""A small book with two sides, for access tests.

"own" records sit in branch B1 (team T1), owned or serviced by agent A1, acquired through bank partner P1,
referred by referrer R1 — visible to the agent user (A1), the specialist (S1, stationed at P1, in T1), the
manager of B1 and the referrer R1 (for referrals). "foreign" records sit in branch B2 with agent A2, partner P2
and referrer R2 — visible to none of them. Admin and actuary see both sides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from agents.models import (
    Activity,
    ActivityKind,
    AgentChannel,
    Competitor,
    Influencer,
    InfluencerRole,
    Opportunity,
    OpportunityLossReason,
    OrgUnitKind,
    Quote,
    TaskReason,
)
from insurecrm.models import Role, User
from policies.models import (
    Claim,
    Commission,
    CommissionKind,
    CommissionPayee,
    Installment,
    Payment,
    RenewalCase,
    SalesChannel,
)
from policies.models.approvals import RenewalDiscountApproval
from policyholders.models import (
    Interaction,
    InteractionChannel,
    PolicyholderRelationship,
    RelationshipKind,
    ServiceCategory,
    ServiceKind,
    ServiceRequest,
)

ROLES = list(Role)


@dataclass
class World:
    users: dict[Role, User]
    own: dict[str, int] = field(default_factory=dict)
    foreign: dict[str, int] = field(default_factory=dict)


def _side(make, session, unit, agent, partner, bank_branch, referrer, stage, tag: str) -> dict[str, int]:
    holder = make.policyholder(owner=agent, bank_partner_id=partner.id, name=f"Holder {tag}",
                               phone=f"+8613{abs(hash(tag)) % 10**9:09d}", email=f"{tag}@example.com",
                               address=f"{tag} Road 1", id_number=None)
    relative = make.policyholder(owner=agent, bank_partner_id=partner.id, name=f"Relative {tag}")
    product = make.product()
    policy = make.policy(holder, product, channel=SalesChannel.BANCASSURANCE, bank_partner_id=partner.id,
                         bank_branch_id=bank_branch.id, referrer_id=referrer.id)
    rows = {
        "installment": Installment(policy_id=policy.id, sequence=1, due_date=policy.effective_date,
                                   amount=policy.premium),
        "payment": Payment(policy_id=policy.id, paid_on=policy.effective_date, amount=policy.premium),
        "claim": Claim(number=f"CL{abs(hash(tag)) % 10**13:013d}", policy_id=policy.id, loss_date=date(2026, 3, 1),
                       report_date=date(2026, 3, 2), incurred_amount=Decimal("500.00")),
        "interaction": Interaction(policyholder_id=holder.id, agent_id=agent.id, channel=InteractionChannel.PHONE,
                                   summary=f"Called {tag} about renewal"),
        "service_request": ServiceRequest(policyholder_id=holder.id, kind=ServiceKind.COMPLAINT,
                                          category=ServiceCategory.CLAIM, subject=f"Complaint {tag}",
                                          due_at=datetime.now(UTC) + timedelta(days=5)),
        "relationship": PolicyholderRelationship(from_policyholder_id=holder.id, to_policyholder_id=relative.id,
                                                 kind=RelationshipKind.SPOUSE),
        "opportunity": Opportunity(title=f"Deal {tag}", policyholder_id=holder.id, owner_agent_id=agent.id,
                                   org_unit_id=unit.id, stage_id=stage.id, probability=stage.probability,
                                   bank_partner_id=partner.id),
        "activity": Activity(agent_id=agent.id, org_unit_id=unit.id, kind=ActivityKind.CALL, subject=f"Call {tag}",
                             planned_start=datetime.now(UTC)),
        "task": Activity(agent_id=agent.id, org_unit_id=unit.id, kind=ActivityKind.CALL, subject=f"Task {tag}",
                         planned_start=datetime.now(UTC), reason=TaskReason.RENEWAL_CALL, due_date=date(2026, 12, 1),
                         policyholder_id=holder.id, source_key=f"access:{tag}"),
        "renewal_case": RenewalCase(policy_id=policy.id, due_date=policy.expiry_date, opened_on=date(2026, 11, 1),
                                    assigned_agent_id=agent.id, org_unit_id=unit.id),
    }
    for row in rows.values():
        session.add(row)
    session.flush()
    approval = RenewalDiscountApproval(renewal_case_id=rows["renewal_case"].id, premium=Decimal("1"),
                                       current_premium=Decimal("2"), discount=Decimal("0.5"),
                                       max_discount=Decimal("0.1"))
    session.add(approval)
    session.add(Commission(policy_id=policy.id, payment_id=rows["payment"].id, payee=CommissionPayee.AGENT,
                           agent_id=agent.id, kind=CommissionKind.FIRST_YEAR, rate=Decimal("0.2"),
                           base_amount=policy.premium, amount=policy.premium * Decimal("0.2"),
                           earned_on=policy.effective_date))
    session.add_all(parts := [Influencer(opportunity_id=rows["opportunity"].id, name=f"Buyer {tag}",
                                         role=InfluencerRole.ECONOMIC_BUYER),
                              Competitor(opportunity_id=rows["opportunity"].id, name=f"Rival {tag}"),
                              OpportunityLossReason(code=f"reason_{tag}", name=f"Reason {tag}", position=1)])
    session.commit()
    referral = make.referral(referrer, specialist_agent_id=None)
    quote = Quote(opportunity_id=rows["opportunity"].id, policyholder_id=holder.id, product_id=product.id, age=40,
                  sum_insured=Decimal("100000.00"), frequency="annual", loading=Decimal("1"),
                  annual_premium=Decimal("120.00"), installment_premium=Decimal("120.00"))
    session.add(quote)
    session.commit()
    ids = {key: row.id for key, row in rows.items()}
    ids["renewal_approval"] = approval.id
    ids["quote"] = quote.id
    ids.update(influencer=parts[0].id, competitor=parts[1].id, loss_reason=parts[2].id)
    ids.update(policyholder=holder.id, policy=policy.id, product=product.id, agent=agent.id, org_unit=unit.id,
               bank_partner=partner.id, bank_branch=bank_branch.id, referrer=referrer.id, referral=referral.id,
               pipeline_stage=stage.id)
    return ids


def build_world(make, session) -> World:
    company = make.org_unit(kind=OrgUnitKind.COMPANY)
    b1 = make.org_unit(company, kind=OrgUnitKind.BRANCH)
    t1 = make.org_unit(b1, kind=OrgUnitKind.TEAM)
    b2 = make.org_unit(company, kind=OrgUnitKind.BRANCH)
    a1, a2 = make.agent(t1), make.agent(b2)
    s1 = make.agent(t1, channel=AgentChannel.BANCASSURANCE)
    p1, p2 = make.bank_partner(), make.bank_partner()
    s1.bank_partners.append(p1)
    session.commit()
    bb1, bb2 = make.bank_branch(p1, org_unit=b1), make.bank_branch(p2, org_unit=b2)
    r1, r2 = make.referrer(bb1), make.referrer(bb2)
    stage = make.stage(position=10)  # within the API's bounds, whatever the factory counter says
    users = {
        Role.ADMIN: make.user(Role.ADMIN),
        Role.ACTUARY: make.user(Role.ACTUARY),
        Role.BRANCH_MANAGER: make.user(Role.BRANCH_MANAGER, org_unit_id=b1.id),
        Role.AGENT: make.user(Role.AGENT, agent_id=a1.id),
        Role.BANCASSURANCE_SPECIALIST: make.user(Role.BANCASSURANCE_SPECIALIST, agent_id=s1.id),
        Role.BANK_REFERRER: make.user(Role.BANK_REFERRER, referrer_id=r1.id),
    }
    world = World(users=users)
    world.own = _side(make, session, t1, a1, p1, bb1, r1, stage, "own")
    world.foreign = _side(make, session, b2, a2, p2, bb2, r2, make.stage(position=20), "foreign")
    world.own["user"], world.foreign["user"] = users[Role.AGENT].id, users[Role.ADMIN].id
    # imports: a manager's own run, and an admin's (the only other kind a manager may not see)
    world.own["import_run"], world.foreign["import_run"] = (
        _import_run(session, users[Role.BRANCH_MANAGER]), _import_run(session, users[Role.ADMIN]))
    # segments: the agent's own (in T1, so the manager of B1 sees it too), and an admin's made in B2
    world.own["segment"], world.foreign["segment"] = (
        _segment(session, users[Role.AGENT], t1), _segment(session, users[Role.ADMIN], b2))
    # campaigns: the manager's own, made in B1; an admin's made in B2
    world.own["campaign"], world.foreign["campaign"] = (
        _campaign(session, users[Role.BRANCH_MANAGER], b1), _campaign(session, users[Role.ADMIN], b2))
    world.own["campaign_run"], world.foreign["campaign_run"] = (
        _campaign_run(session, world.own["campaign"]), _campaign_run(session, world.foreign["campaign"]))
    return world


def _campaign(session, user, unit) -> int:
    from policyholders.campaigns.models import Campaign, CampaignChannel, CampaignKind

    campaign = Campaign(name=f"Campaign of {user.username}", kind=CampaignKind.CROSS_SELL, channel=CampaignChannel.SMS,
                        owner_user_id=user.id, org_unit_id=unit.id, start_date=date(2026, 11, 22))
    session.add(campaign)
    session.commit()
    return campaign.id


def _campaign_run(session, campaign_id: int) -> int:
    from policyholders.campaigns.models import CampaignRun, RunStatus

    run = CampaignRun(campaign_id=campaign_id, run_date=date(2026, 11, 22), status=RunStatus.DONE, counts={})
    session.add(run)
    session.commit()
    return run.id


def _segment(session, user, unit) -> int:
    from policyholders.segments.models import Segment

    segment = Segment(name=f"Segment of {user.username}", criteria={"region": ["Shanghai"]}, owner_user_id=user.id,
                      org_unit_id=unit.id)
    session.add(segment)
    session.commit()
    return segment.id


def _import_run(session, user) -> int:
    from insurecrm.imports.models import ImportMode, ImportRun, ImportStatus

    run = ImportRun(kind="policyholders", filename=f"book-{user.username}.csv", size_bytes=10, file_format="csv",
                    column_map={}, mode=ImportMode.CHECK, status=ImportStatus.CHECKED, user_id=user.id,
                    language="en", counts={"created": 1}, rows_total=1)
    session.add(run)
    session.commit()
    return run.id
