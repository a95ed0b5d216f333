"""Policies of a household: which products each member holds, and the chain of policies of each.

A contract starts as new business (or a transfer-in) some day in the six years before today. A
yearly renewable product is renewed at each expiry that has passed (most of the time, if the policy
is still in force): the renewal has ``renews_policy_id``, the same policyholder, and takes effect on
the old policy's expiry date, which becomes ``renewed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta

from insurecrm.demo.claims import add_claims, add_renewal_case
from insurecrm.demo.context import BookContext
from insurecrm.demo.lifecycle import Fate, PolicyLife
from insurecrm.demo.organisation import Organisation, ProductRef
from insurecrm.demo.people import Household, Person
from insurecrm.demo.reference import CANCELLATION_REASONS, CHANNEL_PRODUCT_WEIGHTS, ORGANISATION_PRODUCTS
from policies.numbers import policy_number

BOOK_YEARS = 6
#: modal premium = annual premium × factor (monthly and half-yearly payment cost a little more)
FREQUENCY_FACTORS = {"monthly": 1.04 / 12, "semiannual": 1.02 / 2, "annual": 1.0, "single": 8.6}
RENEWAL_RATES = {"punctual": 0.86, "irregular": 0.76, "poor": 0.6}
TERMINATING_CLAIM_REASON = {"life": "Death claim paid", "accident": "Accidental death claim paid"}


@dataclass
class PolicyInfo:
    row: dict[str, Any]
    product: ProductRef
    holder: Person


def add_policies(ctx: BookContext, org: Organisation, household: Household) -> list[PolicyInfo]:
    """Generate every policy of the household's members, with all their children rows."""
    policies: list[PolicyInfo] = []
    acquired = ctx.today - ctx.days(10, BOOK_YEARS * 365)
    for person in household.members:
        if not _holds_policies(ctx, person):
            continue
        household.holders.append(person)
        for number, product in enumerate(choose_products(ctx, org, household, person, acquired)):
            start = acquired if number == 0 else acquired + ctx.days(0, max(0, (ctx.today - acquired).days - 1))
            transfer = product.definition.renewable and product.definition.line != "health" and ctx.chance(0.25)
            _contract(ctx, household, person, product, start, "transfer_in" if transfer else "new", policies)
    return policies


def _holds_policies(ctx: BookContext, person: Person) -> bool:
    if person.is_organisation:
        return True
    age = person.age(ctx.today)
    chance = {"head": 0.92, "spouse": 0.6, "parent": 0.35}.get(person.role, 0.45 if age >= 22 else 0.0)
    return ctx.chance(chance)


def choose_products(ctx: BookContext, org: Organisation, household: Household, person: Person,
                    acquired: date) -> list[ProductRef]:
    """One to four different products suited to the person (age, car, organisation) and the channel."""
    weights = ORGANISATION_PRODUCTS if person.is_organisation else CHANNEL_PRODUCT_WEIGHTS[household.channel]
    age = None if person.is_organisation else person.age(acquired)
    candidates = [(org.products[code], weight) for code, weight in weights.items()
                  if _fits(org.products[code], person, age)]
    count = min(len(candidates), ctx.pick((1, 2, 3, 4), (45, 30, 17, 8)))
    chosen = []
    for _ in range(count):
        product = ctx.rng.choices([c[0] for c in candidates], weights=[c[1] for c in candidates])[0]
        chosen.append(product)
        candidates = [c for c in candidates if c[0] is not product]
    return chosen


def _fits(product: ProductRef, person: Person, age: int | None) -> bool:
    d = product.definition
    if person.is_organisation:
        return d.audience in ("organisation", "vehicle")
    if d.audience == "organisation" or (d.audience == "vehicle" and not person.has_car):
        return False
    return age is not None and d.min_age <= age <= d.max_age


def _contract(ctx: BookContext, household: Household, person: Person, product: ProductRef, start: date,
              business_type: str, policies: list[PolicyInfo]) -> None:
    """The first policy of a contract and, for a renewable product, its renewals up to today."""
    frequency = _frequency(ctx, product)
    sum_insured, premium = _price(ctx, product, person, frequency, start)
    insured, beneficiaries = _insured_and_beneficiaries(ctx, household, person, product)
    effective, issue, previous = start, start - ctx.days(0, 7), None
    while True:
        row = _policy_row(ctx, household, person, product, effective=effective, issue=issue,
                          business_type=business_type, renews=previous["id"] if previous else None,
                          sum_insured=sum_insured, premium=premium, frequency=frequency)
        if previous is not None:
            add_renewal_case(ctx, previous, product, household.owner, renewing=row)
        life = PolicyLife(ctx, row, product, household.payer,
                          partner_rate=household.bank_branch.partner_rate if household.bank_branch else None)
        fate = _fate(ctx, product, row)
        life.run(fate)
        _people_on_policy(ctx, row, insured, beneficiaries)
        add_claims(ctx, row, product, terminating=row["status"] == "terminated_by_claim")
        renewed = life.reached_expiry and product.definition.renewable and ctx.chance(RENEWAL_RATES[household.payer])
        if life.reached_expiry:
            life.move("renewed" if renewed else "expired" if product.definition.renewable else "matured",
                      row["expiry_date"])
            life.finish()
        row["updated_at"] = ctx.instant(row["status_date"])
        policies.append(PolicyInfo(row, product, person))
        if not renewed:
            add_renewal_case(ctx, row, product, household.owner, renewing=None, lost=life.reached_expiry)
            return
        previous, business_type = row, "renewal"
        effective, issue = row["expiry_date"], row["expiry_date"] - ctx.days(1, 25)
        premium = ctx.money(float(row["premium"]) * ctx.rng.uniform(0.95, 1.12))


def _frequency(ctx: BookContext, product: ProductRef) -> str:
    frequencies = product.definition.frequencies
    weights = {"monthly": 55, "annual": 45, "semiannual": 30, "single": 30}
    return ctx.pick(frequencies, [weights[f] for f in frequencies])


def _price(ctx: BookContext, product: ProductRef, person: Person, frequency: str,
           start: date) -> tuple[Decimal, Decimal]:
    d = product.definition
    chosen = ctx.pick(d.sums_insured)
    if d.line == "annuity":
        # annuity "sums" are yearly premiums; the guaranteed benefit is what ten of them buy
        annual, sum_insured = float(chosen), chosen * 10 * 1.15
    else:
        age = 0 if person.is_organisation else person.age(start)
        annual = max(d.min_premium, chosen * (d.rate_base + d.rate_per_age * age))
        sum_insured = chosen
    annual *= ctx.rng.uniform(0.92, 1.08)
    return ctx.money(sum_insured), ctx.money(annual * FREQUENCY_FACTORS[frequency])


def _policy_row(ctx: BookContext, household: Household, person: Person, product: ProductRef, *, effective: date,
                issue: date, business_type: str, renews: int | None, sum_insured: Decimal, premium: Decimal,
                frequency: str) -> dict[str, Any]:
    owner, bank_branch = household.owner, household.bank_branch
    policy_id = ctx.ids.next("policies")
    return ctx.rows.add("policies", {
        "id": policy_id,
        "number": policy_number(product.definition.line, issue.year, ctx.next_serial(f"policy:{issue.year}")),
        "policyholder_id": person.id, "product_id": product.id, "servicing_agent_id": owner.id,
        "org_unit_id": owner.org_unit_id, "channel": household.channel,
        "bank_partner_id": bank_branch.partner_id if bank_branch else None,
        "bank_branch_id": bank_branch.id if bank_branch else None, "referrer_id": household.referrer_id,
        "business_type": business_type, "renews_policy_id": renews, "issue_date": issue,
        "effective_date": effective, "expiry_date": effective + relativedelta(months=product.definition.term_months),
        "sum_insured": sum_insured, "premium": premium, "frequency": frequency, "status": "in_force",
        "status_date": effective, "cancellation_reason": None, "cooling_off_cancellation": False, "version": 1,
        "created_at": ctx.instant(issue), "updated_at": ctx.instant(min(issue, ctx.today)),
    })


def _fate(ctx: BookContext, product: ProductRef, policy: dict[str, Any]) -> Fate:
    """Whether the policy is cancelled (in the cooling-off period or later) or ended by a claim, and when."""
    d = product.definition
    effective, issue = policy["effective_date"], policy["issue_date"]
    last_day = min(policy["expiry_date"], ctx.today) - timedelta(days=1)
    latest = min(issue + timedelta(days=d.cooling_off_days), last_day)
    if policy["business_type"] == "new" and d.cooling_off_days and latest > effective and (
            ctx.chance(0.035) or ctx.once("cooling-off cancellation")):
        return Fate("cooling_off", effective + ctx.days(1, (latest - effective).days))
    earliest = effective + timedelta(days=d.cooling_off_days + 1)
    if earliest <= last_day and (ctx.chance(0.10 if d.term_months > 12 else 0.025) or ctx.once("cancellation")):
        return Fate("cancel", earliest + ctx.days(0, (last_day - earliest).days), ctx.pick(CANCELLATION_REASONS))
    earliest = effective + timedelta(days=90)
    if d.line in TERMINATING_CLAIM_REASON and earliest <= last_day and (
            ctx.chance(0.005) or ctx.once("terminating claim")):
        return Fate("claim", earliest + ctx.days(0, (last_day - earliest).days), TERMINATING_CLAIM_REASON[d.line])
    return Fate()


def _insured_and_beneficiaries(ctx: BookContext, household: Household, person: Person, product: ProductRef):
    """Who is insured (the holder, or a child or spouse on health/accident cover) and who benefits."""
    if person.is_organisation or product.definition.line in ("motor", "property"):
        return None, []
    insured, relation = person, "self"
    family = household.relatives(person)
    if product.definition.line in ("health", "accident") and family and ctx.chance(0.3):
        candidates = [(p, r) for p, r in family if r in ("child", "spouse")]
        if candidates:
            insured, relation = ctx.pick(candidates)
    beneficiaries = []
    if product.definition.line in ("life", "annuity", "accident"):
        heirs = [(p, r) for p, r in household.relatives(insured) if r in ("spouse", "child")]
        for p, r in heirs[:2]:
            beneficiaries.append((p.id, p.name, r, Decimal(100) / min(len(heirs), 2)))
        if not beneficiaries:
            beneficiaries.append((None, "法定继承人 (legal heirs)", "legal_heirs", Decimal(100)))
    return (insured, relation), beneficiaries


def _people_on_policy(ctx: BookContext, policy: dict[str, Any], insured, beneficiaries) -> None:
    if insured is not None:
        person, relation = insured
        ctx.rows.add("insured_persons", {
            "id": ctx.ids.next("insured_persons"), "policy_id": policy["id"], "policyholder_id": person.id,
            "name": person.name, "date_of_birth": person.birth, "relation_to_holder": relation,
        })
    for holder_id, name, relation, share in beneficiaries:
        ctx.rows.add("beneficiaries", {
            "id": ctx.ids.next("beneficiaries"), "policy_id": policy["id"], "policyholder_id": holder_id,
            "name": name, "relation_to_insured": relation, "priority": 1,
            "share_percent": share.quantize(Decimal("0.01")),
        })
