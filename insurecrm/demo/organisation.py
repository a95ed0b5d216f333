"""The fixed part of the demo book: company, branches, teams, agents, bank partners, products, users.

Sized from the number of policyholders: roughly one agent per 200 policyholders, never fewer than
a small working organisation (a head and at least two agency agents per branch, a bancassurance
team per branch, a telesales centre and a direct sales team).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from itertools import accumulate

from insurecrm.demo.context import BookContext
from insurecrm.demo.identity import mobile_number
from insurecrm.demo.reference import BANK_PARTNERS, BRANCHES, COMPANY, PRODUCTS, BranchDef, ProductDef
from insurecrm.models import new_session_token

POLICYHOLDERS_PER_AGENT = 200
TEAM_SIZE = 8
#: share of policyholders each channel brings in
CHANNEL_WEIGHTS = {"agency": 62, "bancassurance": 20, "telesales": 10, "direct": 8}


@dataclass
class BranchUnit:
    definition: BranchDef
    unit_id: int
    banca_unit_id: int


@dataclass
class AgentRef:
    id: int
    code: str
    name: str
    channel: str
    org_unit_id: int
    branch: BranchUnit
    active: bool = True
    user_id: int | None = None
    partner_ids: list[int] = field(default_factory=list)
    #: head (of a branch), leader (of a team) or member
    rank: str = "member"

    @property
    def weight(self) -> float:
        """How often this agent is chosen as an owner: heads and team leaders sell less."""
        return {"head": 0.2, "leader": 0.5}.get(self.rank, 1.0)


@dataclass
class ProductRef:
    id: int
    definition: ProductDef
    first_year_rate: Decimal
    renewal_rate: Decimal
    bank_share: Decimal

    @property
    def code(self) -> str:
        return self.definition.code


@dataclass
class BankBranchRef:
    id: int
    partner_id: int
    branch_code: str
    referrers: list[tuple[int, str]]
    #: the partner's commission rate (its share of the premium paid: ``policies.payments.split_commission``)
    partner_rate: Decimal = Decimal("0")


@dataclass
class Organisation:
    company_unit_id: int
    branches: list[BranchUnit]
    agents: list[AgentRef]
    products: dict[str, ProductRef]
    partner_ids: list[int]
    bank_branches: list[BankBranchRef]
    admin_user_id: int = 0
    _owners: dict[str, tuple[list[AgentRef], list[float]]] = field(default_factory=dict)

    def owners(self, channel: str) -> tuple[list[AgentRef], list[float]]:
        """The agents of ``channel`` with cumulative weights, for ``random.choices``."""
        if channel not in self._owners:
            agents = [a for a in self.agents if a.channel == channel]
            self._owners[channel] = (agents, list(accumulate(a.weight for a in agents)))
        return self._owners[channel]

    def bank_branches_of_partner(self, partner_id: int) -> list[BankBranchRef]:
        return [b for b in self.bank_branches if b.partner_id == partner_id]

    def bank_branches_of(self, partner_id: int, branch_code: str) -> list[BankBranchRef]:
        return [b for b in self.bank_branches if b.partner_id == partner_id and b.branch_code == branch_code]


def build_organisation(ctx: BookContext) -> Organisation:
    """Generate the organisation, products and users into ``ctx.rows`` and describe them."""
    n_branches = ctx.pick((3, 4))
    company_id = _unit(ctx, COMPANY[0], COMPANY[1], "company", None, "/", COMPANY[2])
    branches = []
    for definition in BRANCHES[:n_branches]:
        unit_id = _unit(ctx, definition.code, definition.name, "branch", company_id, f"/{company_id}/",
                        definition.region)
        banca_id = _unit(ctx, f"{definition.code}-BA", f"{definition.region} Bancassurance Team", "team", unit_id,
                         f"/{company_id}/{unit_id}/", definition.region)
        branches.append(BranchUnit(definition, unit_id, banca_id))
    org = Organisation(company_id, branches, [], _products(ctx), [], [])
    _agents(ctx, org)
    _bank_side(ctx, org)
    _users(ctx, org)
    return org


def _unit(ctx: BookContext, code: str, name: str, kind: str, parent_id: int | None, parent_path: str,
          region: str) -> int:
    unit_id = ctx.ids.next("org_units")
    ctx.rows.add("org_units", {"id": unit_id, "code": code, "name": name, "kind": kind, "parent_id": parent_id,
                               "path": f"{parent_path}{unit_id}/", "region": region})
    return unit_id


def _unit_path(ctx: BookContext, unit_id: int) -> str:
    return next(row["path"] for row in ctx.rows.tables["org_units"] if row["id"] == unit_id)


def _products(ctx: BookContext) -> dict[str, ProductRef]:
    products = {}
    for d in PRODUCTS:
        product_id = ctx.ids.next("products")
        ctx.rows.add("products", {
            "id": product_id, "code": d.code, "name": d.name, "name_zh": d.name_zh, "line": d.line,
            "description": d.description, "term_months": d.term_months, "renewable": d.renewable,
            "frequencies": list(d.frequencies), "first_year_commission_rate": Decimal(d.first_year_rate),
            "renewal_commission_rate": Decimal(d.renewal_rate), "bank_share_rate": Decimal(d.bank_share),
            "grace_period_days": d.grace_days, "cooling_off_days": d.cooling_off_days,
            "callback_required": d.callback, "max_renewal_discount": Decimal("0.1000"), "active": True,
        })
        products[d.code] = ProductRef(product_id, d, Decimal(d.first_year_rate), Decimal(d.renewal_rate),
                                      Decimal(d.bank_share))
        _rate_table(ctx, product_id, d)
    return products


#: the demo's loadings per premium frequency (installment = annual premium × loading ÷ installments a year)
DEMO_LOADINGS = {"monthly": Decimal("1.0500"), "quarterly": Decimal("1.0300"), "semiannual": Decimal("1.0200")}


def _rate_table(ctx: BookContext, product_id: int, d) -> None:
    """The product's rate table for quotes, from the pricing the demo's policies are written with: bands of ten
    years of age (one band for a company's cover), each at the rate of its middle age (per 1,000 of sum insured),
    any gender; a product priced by its premium alone (an annuity) gets a flat premium; a loading for each frequency
    paid in installments."""
    if d.rate_base == 0 and d.rate_per_age == 0:
        ctx.rows.add("rate_table_settings", {"id": ctx.ids.next("rate_table_settings"), "product_id": product_id,
                                             "flat_premium": Decimal(d.min_premium)})
    else:
        low, high = d.min_age, min(d.max_age, 150)
        width = high - low + 1 if d.audience == "organisation" else 10  # a company's premium has no age
        for band_start in range(low, high + 1, width):
            band_end = min(band_start + width - 1, high)
            middle = (band_start + band_end) / 2
            rate = Decimal(str(round(1000 * (d.rate_base + d.rate_per_age * middle), 4)))
            ctx.rows.add("rate_rows", {"id": ctx.ids.next("rate_rows"), "product_id": product_id,
                                       "age_min": band_start, "age_max": band_end, "gender": None,
                                       "rate_per_thousand": rate})
    for frequency in d.frequencies:
        if frequency in DEMO_LOADINGS:
            ctx.rows.add("frequency_loadings", {"id": ctx.ids.next("frequency_loadings"), "product_id": product_id,
                                                "frequency": frequency, "loading": DEMO_LOADINGS[frequency]})


def _channel_sizes(ctx: BookContext, n_branches: int) -> dict[str, int]:
    total = max(6 * n_branches, round(ctx.plan.policyholders / POLICYHOLDERS_PER_AGENT)) - n_branches
    sizes = {"bancassurance": max(n_branches, round(total * 0.17)), "telesales": max(1, round(total * 0.10)),
             "direct": max(1, round(total * 0.08))}
    sizes["agency"] = max(2 * n_branches, total - sum(sizes.values()))
    return sizes


def _agents(ctx: BookContext, org: Organisation) -> None:
    sizes = _channel_sizes(ctx, len(org.branches))
    heads = [_agent(ctx, org, b, "agency", b.unit_id, None, rank="head") for b in org.branches]
    for index, branch in enumerate(org.branches):
        count = sizes["agency"] // len(org.branches) + (index < sizes["agency"] % len(org.branches))
        for team_no, start in enumerate(range(0, count, TEAM_SIZE), start=1):
            team_id = _unit(ctx, f"{branch.definition.code}-AG{team_no}",
                            f"{branch.definition.region} Agency Team {team_no}", "team", branch.unit_id,
                            _unit_path(ctx, branch.unit_id), branch.definition.region)
            _team(ctx, org, branch, "agency", team_id, heads[index], min(TEAM_SIZE, count - start))
        count = sizes["bancassurance"] // len(org.branches) + (index < sizes["bancassurance"] % len(org.branches))
        _team(ctx, org, branch, "bancassurance", branch.banca_unit_id, heads[index], count)
    first = org.branches[0]
    for channel, code, name in (("telesales", "TS", "Telesales Centre"), ("direct", "DS", "Direct Sales Team")):
        unit_id = _unit(ctx, f"{first.definition.code}-{code}", name, "team", first.unit_id,
                        _unit_path(ctx, first.unit_id), first.definition.region)
        _team(ctx, org, first, channel, unit_id, heads[0], sizes[channel])


def _team(ctx: BookContext, org: Organisation, branch: BranchUnit, channel: str, unit_id: int, head: AgentRef,
          size: int) -> None:
    leader = _agent(ctx, org, branch, channel, unit_id, head.id, rank="leader")
    for _ in range(size - 1):
        agent = _agent(ctx, org, branch, channel, unit_id, leader.id)
        # a few agency agents have left: their customers sit in the unit's pool
        if channel == "agency" and ctx.chance(0.03):
            agent.active = False
            ctx.rows.tables["agents"][-1]["status"] = "inactive"


def _agent(ctx: BookContext, org: Organisation, branch: BranchUnit, channel: str, unit_id: int,
           manager_id: int | None, rank: str = "member") -> AgentRef:
    agent_id = ctx.ids.next("agents")
    code = f"{branch.definition.code}{agent_id:05d}"
    male = ctx.chance(0.45)
    name = ctx.fake_zh.name_male() if male else ctx.fake_zh.name_female()
    hire = ctx.today - ctx.days(90 if rank == "member" else 2000, 5500)
    ctx.rows.add("agents", {
        "id": agent_id, "code": code, "name": name, "org_unit_id": unit_id, "manager_id": manager_id,
        "channel": channel, "status": "active", "hire_date": hire,
        "licence_number": f"0201{branch.definition.city_prefixes[0]}{hire:%Y}{agent_id:08d}",
        # licences are renewed every three years; a few are about to run out, a few already have
        "licence_expiry": ctx.today + timedelta(days=ctx.rng.randint(-30, 3 * 365)),
        "phone": mobile_number(ctx.rng, ctx.next_phone_serial()), "email": f"{code.lower()}@hengtai.example",
    })
    agent = AgentRef(agent_id, code, name, channel, unit_id, branch, rank=rank)
    org.agents.append(agent)
    return agent


def _bank_side(ctx: BookContext, org: Organisation) -> None:
    per_branch = max(1, round(ctx.plan.policyholders / 40_000))
    for code, name, rate in BANK_PARTNERS[:ctx.pick((2, 3))]:
        partner_id = ctx.ids.next("bank_partners")
        org.partner_ids.append(partner_id)
        ctx.rows.add("bank_partners", {
            "id": partner_id, "code": code, "name": name, "commission_rate": Decimal(rate), "status": "active",
            "commission_terms": f"{Decimal(rate) * 100:.2f}% of premium collected; paid monthly in arrears.",
        })
        for branch in org.branches:
            for number in range(1, per_branch + 1):
                _bank_branch(ctx, org, partner_id, code, name, branch, number)
        for bank_branch in org.bank_branches_of_partner(partner_id):
            bank_branch.partner_rate = Decimal(rate)
    for agent in org.agents:
        if agent.channel == "bancassurance":
            count = min(len(org.partner_ids), ctx.pick((1, 1, 2)))
            agent.partner_ids = ctx.rng.sample(org.partner_ids, count)
            for partner_id in agent.partner_ids:
                ctx.rows.add("agent_bank_partners", {"agent_id": agent.id, "bank_partner_id": partner_id})


def _bank_branch(ctx: BookContext, org: Organisation, partner_id: int, partner_code: str, partner_name: str,
                 branch: BranchUnit, number: int) -> None:
    bank_branch_id = ctx.ids.next("bank_branches")
    street = ctx.fake_zh.street_name()
    ctx.rows.add("bank_branches", {
        "id": bank_branch_id, "bank_partner_id": partner_id,
        "code": f"{partner_code}-{branch.definition.code}{number:03d}",
        "name": f"{partner_name} {branch.definition.region} {street} Sub-branch",
        "address": f"{branch.definition.address_prefix}{street}{ctx.rng.randint(1, 300)}号",
        "region": branch.definition.region, "org_unit_id": branch.banca_unit_id, "status": "active",
    })
    referrers = []
    for _ in range(2):
        referrer_id, name = ctx.ids.next("referrers"), ctx.fake_zh.name()
        ctx.rows.add("referrers", {
            "id": referrer_id, "bank_branch_id": bank_branch_id, "code": f"R{partner_code}{referrer_id:05d}",
            "name": name, "phone": mobile_number(ctx.rng, ctx.next_phone_serial()),
            "email": f"staff{referrer_id}@{partner_code.lower()}.example", "status": "active",
        })
        referrers.append((referrer_id, name))
    org.bank_branches.append(BankBranchRef(bank_branch_id, partner_id, branch.definition.code, referrers))


def _users(ctx: BookContext, org: Organisation) -> None:
    org.admin_user_id = _user(ctx, "admin", "Administrator", "admin")
    for number, branch in enumerate(org.branches, start=1):
        head = next(a for a in org.agents if a.rank == "head" and a.branch is branch)
        _user(ctx, f"manager{number}", head.name, "branch_manager", org_unit_id=branch.unit_id)
    for prefix, channel, role in (("agent", "agency", "agent"), ("specialist", "bancassurance",
                                                                  "bancassurance_specialist")):
        sellers = [a for a in org.agents if a.channel == channel and a.active and a.rank != "head"]
        for number, agent in enumerate(sellers, start=1):
            agent.user_id = _user(ctx, f"{prefix}{number}", agent.name, role, agent_id=agent.id)
    referrers = [referrer for bank_branch in org.bank_branches for referrer in bank_branch.referrers]
    for number, (referrer_id, name) in enumerate(referrers, start=1):
        _user(ctx, f"referrer{number}", name, "bank_referrer", referrer_id=referrer_id)
    _user(ctx, "actuary1", "Actuary", "actuary")


def _user(ctx: BookContext, username: str, display_name: str, role: str, **links: int) -> int:
    user_id = ctx.ids.next("users")
    ctx.rows.add("users", {
        "id": user_id, "username": username, "display_name": display_name, "role": role,
        "email": f"{username}@hengtai.example", "password_hash": ctx.plan.password_hash, "active": True,
        "preferred_language": "zh" if role in ("agent", "bancassurance_specialist", "bank_referrer") else "en",
        "agent_id": links.get("agent_id"), "org_unit_id": links.get("org_unit_id"),
        "referrer_id": links.get("referrer_id"), "last_login_at": None, "session_token": new_session_token(),
    })
    return user_id

