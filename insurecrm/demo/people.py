"""Households: a head with spouse, children and parents (or one organisation), with their records.

Every member is a policyholder record; relationships are written in both directions (A is B's
spouse and B is A's; C is H's child and H is C's parent). Statuses are set once the policies exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from insurecrm.demo.context import BookContext
from insurecrm.demo.identity import credit_code, mobile_number, passport_number, region_codes, resident_id
from insurecrm.demo.organisation import CHANNEL_WEIGHTS, AgentRef, BankBranchRef, BranchUnit, Organisation
from insurecrm.demo.reference import (
    ACQUISITION_SOURCES,
    INCOME_BANDS,
    MIGRANT_CITY_PREFIXES,
    OCCUPATION_WEIGHTS,
    OCCUPATIONS,
    ORGANISATION_INDUSTRIES,
)

CHANNELS = tuple(CHANNEL_WEIGHTS)
PAYER_PROFILES = ("punctual", "irregular", "poor")


@dataclass
class Person:
    id: int
    name: str
    role: str  # head, spouse, child, parent, organisation
    row: dict[str, Any]
    gender: str | None = None
    birth: date | None = None
    has_car: bool = False

    @property
    def is_organisation(self) -> bool:
        return self.role == "organisation"

    def age(self, on: date) -> int:
        assert self.birth is not None
        return on.year - self.birth.year - ((on.month, on.day) < (self.birth.month, self.birth.day))


@dataclass
class Household:
    members: list[Person]
    owner: AgentRef
    branch: BranchUnit
    channel: str
    payer: str
    bank_branch: BankBranchRef | None = None
    referrer_id: int | None = None
    address: str = ""
    #: members that hold policies of their own
    holders: list[Person] = field(default_factory=list)

    @property
    def head(self) -> Person:
        return self.members[0]

    def relatives(self, person: Person) -> list[tuple[Person, str]]:
        """The other members with what each is to ``person`` (spouse, child or parent)."""
        related = ((other, RELATION.get((person.role, other.role))) for other in self.members if other is not person)
        return [(other, relation) for other, relation in related if relation]


#: (role of A, role of B) → what B is to A
RELATION = {("head", "spouse"): "spouse", ("spouse", "head"): "spouse", ("head", "child"): "child",
            ("spouse", "child"): "child", ("child", "head"): "parent", ("child", "spouse"): "parent",
            ("head", "parent"): "parent", ("parent", "head"): "child"}


def make_household(ctx: BookContext, org: Organisation, room: int) -> Household:
    """Generate one household of at most ``room`` policyholders into ``ctx.rows``."""
    ctx.counters["households"] = ctx.counters.get("households", 0) + 1
    organisation = ctx.chance(0.015)
    # the first households take each channel in turn, so that even a small book has all of them
    channel = "agency" if organisation else next((c for c in CHANNELS if ctx.once(f"channel {c}")), None)
    channel = channel or ctx.pick(CHANNELS, tuple(CHANNEL_WEIGHTS.values()))
    agents, cumulative = org.owners(channel)
    owner = ctx.rng.choices(agents, cum_weights=cumulative)[0]
    branch = owner.branch if channel in ("agency", "bancassurance") else ctx.pick(org.branches)
    household = Household([], owner, branch, channel, ctx.pick(PAYER_PROFILES, (72, 22, 6)))
    if channel == "bancassurance":
        partner_id = ctx.pick(owner.partner_ids)
        household.bank_branch = ctx.pick(org.bank_branches_of(partner_id, owner.branch.definition.code))
        household.referrer_id = ctx.pick(household.bank_branch.referrers)[0]
    street = ctx.fake_zh.street_name()
    household.address = (f"{branch.definition.address_prefix}{street}{ctx.rng.randint(1, 999)}号"
                         f"{ctx.rng.randint(1, 30)}{ctx.rng.randint(1, 6):02d}室")
    if organisation:
        household.members.append(_organisation(ctx, household))
    else:
        _family(ctx, household, room)
    _relationship_rows(ctx, household)
    return household


def _family(ctx: BookContext, household: Household, room: int) -> None:
    # about one family in eight is foreign (always the third, so that a small book has one)
    english = ctx.chance(0.12) or ctx.counters["households"] == 3
    age = int(ctx.rng.triangular(22, 70, 38))
    head_male = ctx.chance(0.55)
    head = _person(ctx, household, "head", age, head_male, english)
    household.members.append(head)
    if len(household.members) < room and age >= 25 and ctx.chance(0.55):
        spouse = _person(ctx, household, "spouse", max(20, age + ctx.rng.randint(-5, 4)), not head_male, english,
                         surname=head.name.split()[-1] if english and ctx.chance(0.7) else None)
        household.members.append(spouse)
        father = head if head_male else spouse
        for _ in range(ctx.pick((0, 1, 1, 2)) if age >= 28 else 0):
            child_age = age - ctx.rng.randint(24, 34)
            if child_age >= 0 and len(household.members) < room:
                surname = father.name.split()[-1] if english else father.name[0]
                household.members.append(_person(ctx, household, "child", child_age, ctx.chance(0.5), english,
                                                 surname=surname))
    if len(household.members) < room and age <= 45 and ctx.chance(0.12):
        household.members.append(_person(ctx, household, "parent", age + ctx.rng.randint(24, 34), ctx.chance(0.4),
                                         english))
    for member in household.members:
        _marital_status(ctx, member, household)


def _person(ctx: BookContext, household: Household, role: str, age: int, male: bool, english: bool,
            surname: str | None = None) -> Person:
    birth = ctx.today - timedelta(days=age * 365 + ctx.rng.randrange(365) + age // 4)
    name = _name(ctx, male, english, surname)
    adult = age >= 18
    occupation, industry, incomes = _occupation(ctx, age)
    person_id = ctx.ids.next("policyholders")
    email = None
    if adult and ctx.chance(0.7):
        email = (ctx.fake_en if english else ctx.fake_zh).free_email()
    consent = adult and ctx.chance(0.65)
    row = ctx.rows.add("policyholders", {
        "id": person_id, "kind": "person", "name": name, "gender": "male" if male else "female",
        "date_of_birth": birth, **_identity(ctx, birth, male, english, household),
        "phone": mobile_number(ctx.rng, ctx.next_phone_serial()) if age >= 16 else None,
        "phone_alt": mobile_number(ctx.rng, ctx.next_phone_serial()) if adult and ctx.chance(0.1) else None,
        "email": email, "address": household.address, "region": household.branch.definition.region,
        "occupation": occupation, "industry": industry,
        "income_band": ctx.pick(INCOME_BANDS, incomes) if incomes else None,
        "preferred_channel": ctx.pick(("phone", "messaging", "sms", "email", "visit", "post"), (30, 35, 15, 10, 8, 2))
        if adult else None,
        "preferred_language": "en" if english else "zh",
        "consent_marketing": consent, "consent_sms": consent and ctx.chance(0.9),
        "consent_email": email is not None and consent and ctx.chance(0.7), **_ownership(ctx, household),
    })
    return Person(person_id, name, role, row, "male" if male else "female", birth,
                  has_car=adult and ctx.chance(0.45))


def _name(ctx: BookContext, male: bool, english: bool, surname: str | None) -> str:
    if english:
        first = ctx.fake_en.first_name_male() if male else ctx.fake_en.first_name_female()
        return f"{first} {surname or ctx.fake_en.last_name()}"
    if surname:
        return surname + (ctx.fake_zh.first_name_male() if male else ctx.fake_zh.first_name_female())
    return ctx.fake_zh.name_male() if male else ctx.fake_zh.name_female()


def _identity(ctx: BookContext, birth: date, male: bool, english: bool, household: Household) -> dict[str, Any]:
    if english:
        return {"id_type": "passport", "id_number": passport_number(ctx.next_passport_serial())}
    local = household.branch.definition.city_prefixes
    prefix = ctx.pick(local) if ctx.chance(0.7) else ctx.pick(MIGRANT_CITY_PREFIXES)
    return {"id_type": "prc_resident", "id_number": resident_id(ctx.rng, prefix, birth, male,
                                                                 ctx.used_resident_ids)}


def _occupation(ctx: BookContext, age: int) -> tuple[str | None, str | None, tuple[int, ...] | None]:
    if age < 18:
        return ("student", "education", None) if age >= 6 else (None, None, None)
    if age >= 62:
        occupation, industry, incomes = OCCUPATIONS[-1]
        return occupation, industry, incomes
    occupation, industry, incomes = ctx.pick(OCCUPATIONS, OCCUPATION_WEIGHTS)
    return occupation, industry, incomes


def _marital_status(ctx: BookContext, person: Person, household: Household) -> None:
    age = person.age(ctx.today)
    if age < 18:
        status = None
    elif person.role in ("head", "spouse") and len(household.members) > 1 and household.members[1].role == "spouse":
        status = "married"
    elif person.role == "parent":
        status = ctx.pick(("married", "widowed"))
    else:
        status = "single" if age < 35 else ctx.pick(("single", "divorced", "widowed"), (5, 4, 1))
    person.row["marital_status"] = status


def _ownership(ctx: BookContext, household: Household) -> dict[str, Any]:
    owner = household.owner
    source = ctx.pick(ACQUISITION_SOURCES[household.channel])
    return {
        # when the owner has left, the record stays in the unit's pool without an owner
        "owner_agent_id": owner.id if owner.active else None, "org_unit_id": owner.org_unit_id,
        "acquisition_channel": "web" if source in ("company website", "WeChat mini program") else household.channel,
        "acquisition_source": source,
        "bank_partner_id": household.bank_branch.partner_id if household.bank_branch else None,
        "referrer_id": household.referrer_id, "status": "prospect", "version": 1,
    }


def _organisation(ctx: BookContext, household: Household) -> Person:
    person_id = ctx.ids.next("policyholders")
    name = ctx.fake_zh.company()
    region_code = ctx.pick(region_codes(household.branch.definition.city_prefixes[0], ctx.today.year))
    row = ctx.rows.add("policyholders", {
        "id": person_id, "kind": "organisation", "name": name, "gender": None, "date_of_birth": None,
        "id_type": "prc_uscc", "id_number": credit_code(region_code, person_id),
        "phone": mobile_number(ctx.rng, ctx.next_phone_serial()), "phone_alt": None,
        "email": f"hr{person_id}@{ctx.fake_en.domain_word()}.example", "address": household.address,
        "region": household.branch.definition.region, "occupation": None, "industry": ctx.pick(ORGANISATION_INDUSTRIES),
        "income_band": None, "marital_status": None, "preferred_channel": "visit", "preferred_language": "zh",
        "consent_marketing": True, "consent_sms": True, "consent_email": True, **_ownership(ctx, household),
    })
    return Person(person_id, name, "organisation", row, has_car=True)


def _relationship_rows(ctx: BookContext, household: Household) -> None:
    for person in household.members:
        for other, relation in household.relatives(person):
            # (A, B, child) reads "A is B's child": ``other`` is ``relation`` of ``person``
            ctx.rows.add("policyholder_relationships", {
                "id": ctx.ids.next("policyholder_relationships"), "from_policyholder_id": other.id,
                "to_policyholder_id": person.id, "kind": relation, "note": None,
            })


def set_statuses(household: Household, statuses: dict[int, list[str]]) -> None:
    """Policyholder status from their policies: active if any is in force, lapsed if the best is lapsed,
    former when every policy has ended, prospect without policies."""
    for person in household.members:
        held = statuses.get(person.id, [])
        if any(s in ("in_force", "grace", "reinstated") for s in held):
            status = "active"
        elif "lapsed" in held:
            status = "lapsed"
        else:
            status = "former" if held else "prospect"
        person.row["status"] = status
