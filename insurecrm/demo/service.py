"""The service side of a household: contacts on every channel, service requests and complaints, tags
and the periodic visits of key customers (定期回访)."""

from __future__ import annotations

from datetime import date, timedelta

from insurecrm.demo.context import BookContext
from insurecrm.demo.people import Household, Person
from insurecrm.demo.policies import PolicyInfo
from insurecrm.demo.reference import (
    CHANNEL_COSTS,
    COMPLAINT_CATEGORIES,
    INTERACTION_TOPICS,
    RESOLUTIONS,
    SERVICE_CATEGORIES,
    SERVICE_SUBJECTS,
    SLA_HOURS,
)
from insurecrm.demo.sales import add_activity

INTERACTION_CHANNELS = ("phone", "messaging", "visit", "sms", "email", "call_centre", "branch_counter", "web")
INTERACTION_WEIGHTS = (30, 20, 12, 12, 8, 8, 5, 5)
INBOUND_CHANNELS = frozenset({"call_centre", "branch_counter", "web"})
VIP_ANNUAL_PREMIUM = 20_000


def add_service(ctx: BookContext, household: Household, policies: list[PolicyInfo],
                opportunities: dict[int, list[int]]) -> None:
    """Interactions, service requests, complaints and tags of every member."""
    by_holder: dict[int, list[PolicyInfo]] = {}
    for info in policies:
        by_holder.setdefault(info.holder.id, []).append(info)
    for person in household.members:
        if not person.is_organisation and person.age(ctx.today) < 18:
            continue
        held = by_holder.get(person.id, [])
        since = min((p.row["issue_date"] for p in held), default=ctx.today - timedelta(days=400))
        _interactions(ctx, household, person, held, opportunities.get(person.id, []), since)
        if held:
            _service_requests(ctx, household, person, held, since)
    _tags(ctx, household, by_holder)


def _interactions(ctx: BookContext, household: Household, person: Person, held: list[PolicyInfo],
                  opportunities: list[int], since: date) -> None:
    owner = household.owner
    for _ in range(ctx.rng.randint(1, 6) if held else ctx.rng.randint(0, 3)):
        channel = ctx.pick(INTERACTION_CHANNELS, INTERACTION_WEIGHTS)
        topic, outcome = ctx.pick(INTERACTION_TOPICS)
        policy = ctx.pick(held).row if held and ctx.chance(0.5) else None
        low, high = CHANNEL_COSTS[channel]
        when = ctx.instant(ctx.past_day(since))
        ctx.rows.add("interactions", {
            "id": ctx.ids.next("interactions"), "policyholder_id": person.id, "agent_id": owner.id,
            "user_id": owner.user_id if channel not in INBOUND_CHANNELS else None, "channel": channel,
            "direction": "inbound" if channel in INBOUND_CHANNELS or ctx.chance(0.2) else "outbound",
            "occurred_at": when, "summary": f"{topic}" + (f" (policy {policy['number']})" if policy else ""),
            "outcome": outcome, "cost": ctx.money(ctx.rng.uniform(low, high)) if high else None,
            "policy_id": policy["id"] if policy else None,
            "opportunity_id": opportunities[0] if opportunities and ctx.chance(0.5) else None,
            "created_at": when, "updated_at": when,
        })


def _service_requests(ctx: BookContext, household: Household, person: Person, held: list[PolicyInfo],
                      since: date) -> None:
    for kind, chance in (("service", 0.10), ("complaint", 0.025)):
        if ctx.once(kind) or ctx.chance(chance):
            _service_request(ctx, household, person, ctx.pick(held).row, kind, since)
    # every SLA is at most ten days: a request opened 12 or more days ago and still open is overdue
    if household.owner.active and since <= ctx.today - timedelta(days=12) and ctx.once("overdue service request"):
        _service_request(ctx, household, person, ctx.pick(held).row, "service", since, overdue=True)


def _service_request(ctx: BookContext, household: Household, person: Person, policy: dict, kind: str,
                     since: date, *, overdue: bool = False) -> None:
    category = ctx.pick(COMPLAINT_CATEGORIES if kind == "complaint" else SERVICE_CATEGORIES)
    priority = ctx.pick(("low", "normal", "high", "urgent"), (2, 6, 3, 1) if kind == "complaint" else (3, 6, 1, 0.2))
    if overdue:
        opened = ctx.instant(max(since, ctx.today - ctx.days(12, 30)))
    else:
        opened = ctx.instant(ctx.past_day(max(since, ctx.today - timedelta(days=720))))
    due = opened + timedelta(hours=SLA_HOURS[priority])
    now = ctx.instant(ctx.today)
    row = {
        "id": ctx.ids.next("service_requests"), "policyholder_id": person.id, "policy_id": policy["id"],
        "kind": kind, "category": category, "priority": priority,
        "channel": ctx.pick(("phone", "call_centre", "branch_counter", "web", "email")),
        "subject": SERVICE_SUBJECTS[category], "description": f"{SERVICE_SUBJECTS[category]} for {policy['number']}",
        "opened_at": opened, "due_at": due, "resolved_at": None,
        "assigned_agent_id": household.owner.id if household.owner.active else None,
        "resolution": None, "cost": ctx.money(0), "created_at": opened, "updated_at": opened,
    }
    # some requests are still open after their SLA: the overdue list of the service desk
    if due < now and not overdue and ctx.chance(0.85):
        resolved = min(opened + (due - opened) * ctx.rng.uniform(0.2, 1.4), now)
        high = 2000 if kind == "complaint" else 200
        row.update(status=ctx.pick(("resolved", "closed")), resolved_at=resolved, resolution=ctx.pick(RESOLUTIONS),
                   cost=ctx.money(ctx.rng.uniform(0, high)), updated_at=resolved)
    else:
        row["status"] = ctx.pick(("open", "in_progress"))
    ctx.rows.add("service_requests", row)


def _tags(ctx: BookContext, household: Household, by_holder: dict[int, list[PolicyInfo]]) -> None:
    for person in household.members:
        held = by_holder.get(person.id, [])
        running = [p for p in held if p.row["status"] in ("in_force", "grace", "reinstated")]
        annual = sum(float(p.row["premium"]) * {"monthly": 12, "semiannual": 2}.get(p.row["frequency"], 1)
                     for p in running)
        tags = []
        if annual >= VIP_ANNUAL_PREMIUM:
            tags.append("vip")
            add_activity(ctx, household, person, "visit", ctx.today + ctx.days(1, 90), done=False,
                         recurrence="quarterly", subject="Quarterly key-customer visit (定期回访)")
        if len(household.members) >= 3 and not person.is_organisation:
            tags.append("family")
        if any(p.product.definition.line == "motor" for p in held):
            tags.append("car_owner")
        if not person.is_organisation and person.age(ctx.today) >= 60:
            tags.append("senior")
        if person.row["income_band"] == "high":
            tags.append("high_income")
        for tag in tags:
            ctx.rows.add("policyholder_tags", {"policyholder_id": person.id, "tag": tag})
