"""The sales side of a household: bank referrals, opportunities with their history, and activities.

Opportunities are spread over every pipeline stage (the first ones of the book take each stage in
turn, so even a tiny book shows them all); each carries its stage changes from the first stage, CUTE
influencers, competitors with a SWOT, products, and the activities that moved it along.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from insurecrm.demo.context import BookContext, StageRef
from insurecrm.demo.organisation import Organisation
from insurecrm.demo.people import Household, Person
from insurecrm.demo.policies import PolicyInfo, choose_products
from insurecrm.demo.reference import (
    ACTIVITY_EVALUATIONS,
    ACTIVITY_SUBJECTS,
    COMPETITORS,
    INFLUENCER_TITLES,
    OPPORTUNITY_LOST_REASONS,
    OPPORTUNITY_WON_REASONS,
    SWOT,
)

CUTE = ("coach", "user", "technical_buyer", "economic_buyer")
STAGE_ACTIVITY = {1: "call", 2: "call", 3: "visit", 4: "meeting", 5: "email", 6: "presentation", 7: "meeting",
                  8: "call", 9: "meeting"}


def add_referrals(ctx: BookContext, household: Household, policies: list[PolicyInfo]) -> int | None:
    """The bank referral that brought a bancassurance household in (and now and then another one
    still being worked or turned down); returns the household's own referral id."""
    if household.bank_branch is None:
        return None
    head = household.head
    first_issue = min((p.row["issue_date"] for p in policies), default=ctx.today - ctx.days(1, 60))
    referral_id = _referral(ctx, household, head.name, head.row["phone"], policies[0].product.id if policies else None,
                            "converted" if policies else "accepted", first_issue - ctx.days(3, 30), head.id)
    if ctx.chance(0.3):
        status = ctx.pick(("submitted", "accepted", "rejected"), (4, 3, 3))
        _referral(ctx, household, ctx.fake_zh.name(), None, None, status, ctx.today - ctx.days(1, 45), None)
    return referral_id


def _referral(ctx: BookContext, household: Household, name: str, phone: str | None, product_id: int | None,
              status: str, submitted: date, policyholder_id: int | None) -> int:
    referral_id = ctx.ids.next("referrals")
    ctx.rows.add("referrals", {
        "id": referral_id, "referrer_id": household.referrer_id, "bank_branch_id": household.bank_branch.id,
        "prospect_name": name, "prospect_phone": phone, "product_id": product_id,
        "notes": "Customer asked about savings for retirement at the counter", "status": status,
        "submitted_at": ctx.instant(submitted), "specialist_agent_id": household.owner.id,
        "policyholder_id": policyholder_id,
        "rejection_reason": "Customer no longer interested" if status == "rejected" else None,
        "created_at": ctx.instant(submitted), "updated_at": ctx.instant(submitted),
    })
    return referral_id


def add_opportunities(ctx: BookContext, org: Organisation, household: Household,
                      referral_id: int | None) -> dict[int, list[int]]:
    """Opportunities of the household's adults; returns their ids per policyholder."""
    made: dict[int, list[int]] = {}
    for person in household.members:
        if not person.is_organisation and person.age(ctx.today) < 18:
            continue
        holds = person in household.holders
        chance = 0.6 if person.is_organisation else 0.12 if holds else 0.5
        # until every stage has an opportunity, every adult gets one
        if ctx.counters.get("opportunities", 0) < len(ctx.plan.stages) or ctx.chance(chance):
            made[person.id] = [_opportunity(ctx, org, household, person, holds, referral_id)]
            referral_id = None  # one opportunity works the referral
    return made


def _pick_stage_path(ctx: BookContext) -> list[StageRef]:
    stages = sorted(ctx.plan.stages, key=lambda s: s.position)
    open_stages = [s for s in stages if not s.is_won and not s.is_lost]
    made = ctx.counters.get("opportunities", 0)
    ctx.counters["opportunities"] = made + 1
    target = stages[made] if made < len(stages) else None
    if target is None:
        kind = ctx.pick(("open", "won", "lost"), (60, 20, 20))
        if kind == "open":
            target = ctx.pick(open_stages, list(range(len(open_stages), 0, -1)))
        else:
            target = next(s for s in stages if (s.is_won if kind == "won" else s.is_lost))
    if target in open_stages:
        reached = open_stages[:open_stages.index(target) + 1]
    else:
        reached = open_stages[:ctx.rng.randint(4 if target.is_won else 1, len(open_stages))] + [target]
    # some intermediate stages are skipped; the first and the last never
    return [s for i, s in enumerate(reached) if i in (0, len(reached) - 1) or ctx.chance(0.8)]


def _opportunity(ctx: BookContext, org: Organisation, household: Household, person: Person, holds: bool,
                 referral_id: int | None) -> int:
    owner = household.owner
    path = _pick_stage_path(ctx)
    times = _stage_times(ctx, path)
    stage = path[-1]
    products = choose_products(ctx, org, household, person, ctx.today)[:2] or [org.products["HE-MED1"]]
    opportunity_id = ctx.ids.next("opportunities")
    closed = stage.is_won or stage.is_lost
    named = person.is_organisation or ctx.chance(0.9)
    ctx.rows.add("opportunities", {
        "id": opportunity_id, "title": f"{products[0].definition.name} for {person.name}",
        "description": f"{'Group cover' if person.is_organisation else 'Cover'} discussed: "
                       + ", ".join(p.definition.name for p in products),
        "policyholder_id": person.id if named else None,
        "prospect_name": None if named else ctx.fake_zh.name(),
        "owner_agent_id": owner.id if owner.active else None, "org_unit_id": owner.org_unit_id,
        "stage_id": stage.id, "stage_entered_at": times[-1], "probability": stage.probability,
        "expected_premium": ctx.money(products[0].definition.min_premium * ctx.rng.uniform(1.0, 4.0)),
        "expected_close_date": times[-1].date() if closed else times[-1].date() + ctx.days(7, 75),
        "source": _source(ctx, household, holds, referral_id), "referral_id": referral_id,
        "bank_partner_id": household.bank_branch.partner_id if household.bank_branch else None,
        "status": "won" if stage.is_won else "lost" if stage.is_lost else "open",
        "won_lost_reason": ctx.pick(OPPORTUNITY_WON_REASONS) if stage.is_won
        else ctx.pick(OPPORTUNITY_LOST_REASONS) if stage.is_lost else None,
        "closed_at": times[-1] if closed else None, "is_group_deal": person.is_organisation, "version": 1,
        "created_at": times[0], "updated_at": times[-1],
    })
    for product in products:
        ctx.rows.add("opportunity_products", {"opportunity_id": opportunity_id, "product_id": product.id})
    previous = None
    for step, when in zip(path, times, strict=True):
        ctx.rows.add("opportunity_stage_changes", {
            "id": ctx.ids.next("opportunity_stage_changes"), "opportunity_id": opportunity_id,
            "from_stage_id": previous.id if previous else None, "to_stage_id": step.id, "changed_at": when,
            "actor_user_id": owner.user_id,
        })
        previous = step
    _influencers(ctx, opportunity_id, person.is_organisation)
    _competitors(ctx, opportunity_id)
    if person.is_organisation:
        _team(ctx, org, household, opportunity_id)
    _pipeline_activities(ctx, household, person, opportunity_id, path, times, closed)
    return opportunity_id


def _stage_times(ctx: BookContext, path: list[StageRef]):
    created = ctx.today - ctx.days(3, 540)
    steps = [ctx.rng.randint(1, (stage.max_days or 20) + 10) for stage in path[1:]]
    available = (ctx.today - created).days - 1
    if sum(steps) > available:  # squeeze the history into the time there was
        steps = [step * available // sum(steps) for step in steps]
    days, moments = created, [ctx.instant(created)]
    for step in steps:
        days += timedelta(days=step)
        moments.append(max(moments[-1], ctx.instant(days)))
    return moments


def _source(ctx: BookContext, household: Household, holds: bool, referral_id: int | None) -> str:
    if referral_id is not None:
        return "referral"
    if holds:
        return ctx.pick(("cross_sell", "renewal", "campaign"), (6, 2, 2))
    return ctx.pick(("walk_in", "campaign", "web", "referral", "other"), (3, 3, 2, 3, 1))


def _influencers(ctx: BookContext, opportunity_id: int, group: bool) -> None:
    roles = CUTE if group else ctx.rng.sample(CUTE, ctx.rng.randint(1, 3))
    for role in roles:
        ctx.rows.add("influencers", {
            "id": ctx.ids.next("influencers"), "opportunity_id": opportunity_id, "name": ctx.fake_zh.name(),
            "title": ctx.pick(INFLUENCER_TITLES[role]), "role": role,
            "attitude": ctx.pick(("supporter", "neutral", "opponent"), (5, 3, 2)),
            "notes": "Wants to see the claim record" if role == "technical_buyer" else None,
        })


def _competitors(ctx: BookContext, opportunity_id: int) -> None:
    count = ctx.pick((0, 1, 2), (50, 40, 10))
    for name in ctx.rng.sample(COMPETITORS, count):
        ctx.rows.add("competitors", {
            "id": ctx.ids.next("competitors"), "opportunity_id": opportunity_id, "name": name,
            **{part: ctx.pick(texts) for part, texts in SWOT.items()},
            **{f"{aspect}_score": ctx.rng.randint(-2, 2)
               for aspect in ("brand", "product", "service", "relationship", "price")},
        })


def _team(ctx: BookContext, org: Organisation, household: Household, opportunity_id: int) -> None:
    owner = household.owner
    colleagues = [a for a in org.agents if a.org_unit_id == owner.org_unit_id and a is not owner and a.active]
    ctx.rows.add("opportunity_team_members", {"opportunity_id": opportunity_id, "agent_id": owner.id, "role": "lead"})
    for colleague in ctx.rng.sample(colleagues, min(2, len(colleagues))):
        ctx.rows.add("opportunity_team_members", {"opportunity_id": opportunity_id, "agent_id": colleague.id,
                                                  "role": ctx.pick(("underwriting", "product specialist"))})


def _pipeline_activities(ctx: BookContext, household: Household, person: Person, opportunity_id: int,
                         path: list[StageRef], times: list, closed: bool) -> None:
    for stage, when in zip(path, times, strict=True):
        if stage.position in STAGE_ACTIVITY and ctx.chance(0.5):
            add_activity(ctx, household, person, STAGE_ACTIVITY[stage.position], when.date(), done=True,
                         opportunity_id=opportunity_id)
    if not closed:
        # the next step: mostly planned ahead, sometimes already overdue
        day = ctx.today + ctx.days(1, 14) if ctx.chance(0.85) else ctx.today - ctx.days(1, 10)
        add_activity(ctx, household, person, ctx.pick(("call", "visit", "meeting")), day, done=False,
                     opportunity_id=opportunity_id)


def add_callbacks(ctx: BookContext, household: Household, policies: list[PolicyInfo]) -> None:
    """New-policy callbacks (新单回访) inside the cooling-off period of products that require one: tasks as the
    daily job ``policies.new_policy_callbacks`` makes them (reason, due date and the job's key, so the job never
    plans a second one), done when their day is past."""
    for info in policies:
        policy, product = info.row, info.product.definition
        if product.callback and policy["business_type"] == "new":
            day = policy["issue_date"] + ctx.days(1, max(1, product.cooling_off_days - 3))
            add_activity(ctx, household, info.holder, "callback", day, done=day < ctx.today, policy_id=policy["id"],
                         task=("new_policy_callback", f"new_policy_callback:policy={policy['id']}"))


def add_activity(ctx: BookContext, household: Household, person: Person, kind: str, day: date, *, done: bool,
                 opportunity_id: int | None = None, policy_id: int | None = None, recurrence: str = "none",
                 subject: str | None = None, task: tuple[str, str] | None = None) -> None:
    """A sales or service activity of the household's owner with ``person``: done (in the past) or planned
    (nothing is planned for an owner who has left)."""
    owner = household.owner
    if not done and not owner.active:
        return
    start = ctx.instant(day) if done else ctx.planned_instant(day)
    row: dict[str, Any] = {
        "id": ctx.ids.next("activities"), "agent_id": owner.id, "org_unit_id": owner.org_unit_id, "kind": kind,
        "priority": ctx.pick(("low", "normal", "high", "urgent"), (2, 6, 2, 0.3)),
        "subject": subject or ACTIVITY_SUBJECTS[kind], "description": None, "planned_start": start,
        "planned_end": start + timedelta(hours=1), "status": "done" if done else "planned",
        "actual_start": start if done else None, "actual_end": start + timedelta(minutes=45) if done else None,
        "policyholder_id": person.id, "contact_name": person.name, "opportunity_id": opportunity_id,
        "policy_id": policy_id, "recurrence": recurrence,
        "cost": ctx.money(ctx.rng.uniform(50, 200)) if kind == "visit" and done else None,
        "evaluation": ctx.pick(ACTIVITY_EVALUATIONS) if done else None,
        "outcome": ("Customer confirmed the terms were explained" if kind == "callback" else "Next step agreed")
        if done else None,
        "created_at": ctx.instant(min(day, ctx.today)), "updated_at": ctx.instant(min(day, ctx.today)),
        # a task (reason, source key) the daily jobs would have made; every row has the keys (bulk COPY needs them)
        "reason": task[0] if task else None, "source_key": task[1] if task else None,
        "due_date": day if task else None, "task_outcome": "reached" if task and done else None,
    }
    ctx.rows.add("activities", row)
