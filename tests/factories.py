"""Factories: valid records with sensible defaults; pass keyword overrides for what a test cares about."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

from agents.models import (
    Agent,
    AgentChannel,
    BankBranch,
    BankPartner,
    OrgUnit,
    OrgUnitKind,
    PipelineStage,
    Referral,
    Referrer,
)
from insurecrm.models import Role, User
from insurecrm.passwords import hash_password
from policies.models import (
    BusinessType,
    Policy,
    PolicyStatus,
    PremiumFrequency,
    Product,
    ProductLine,
    SalesChannel,
)
from policyholders.models import Policyholder, PolicyholderStatus

_counter = itertools.count(1)
#: hashing is deliberately slow; tests share one hash of this password
PASSWORD = "correct horse battery staple"
_PASSWORD_HASH: list[str] = []


def _n() -> int:
    return next(_counter)


class Factory:
    def __init__(self, session):
        self.session = session

    def _add(self, obj):
        # commit (to the test's outer transaction): a request that rolls back must not undo the setup
        self.session.add(obj)
        self.session.commit()
        return obj

    # -- organisation -----------------------------------------------------------------------------
    def org_unit(self, parent: OrgUnit | None = None, **kw) -> OrgUnit:
        n = _n()
        unit = OrgUnit(code=kw.pop("code", f"U{n}"), name=kw.pop("name", f"Unit {n}"),
                       kind=kw.pop("kind", OrgUnitKind.BRANCH if parent else OrgUnitKind.COMPANY),
                       parent_id=parent.id if parent else None, **kw)
        self._add(unit)
        unit.path = f"{parent.path if parent else '/'}{unit.id}/"
        self.session.commit()
        return unit

    def agent(self, org_unit: OrgUnit | None = None, **kw) -> Agent:
        n = _n()
        org_unit = org_unit or self.org_unit()
        return self._add(Agent(code=kw.pop("code", f"A{n:05d}"), name=kw.pop("name", f"Agent {n}"),
                               org_unit_id=org_unit.id, channel=kw.pop("channel", AgentChannel.AGENCY),
                               hire_date=kw.pop("hire_date", date(2020, 1, 1)), **kw))

    def bank_partner(self, **kw) -> BankPartner:
        n = _n()
        return self._add(BankPartner(code=kw.pop("code", f"BANK{n}"), name=kw.pop("name", f"Bank {n}"),
                                     commission_rate=kw.pop("commission_rate", Decimal("0.05")), **kw))

    def bank_branch(self, bank_partner: BankPartner | None = None, org_unit: OrgUnit | None = None, **kw):
        n = _n()
        bank_partner = bank_partner or self.bank_partner()
        return self._add(BankBranch(bank_partner_id=bank_partner.id, code=kw.pop("code", f"BB{n}"),
                                    name=kw.pop("name", f"Bank branch {n}"),
                                    org_unit_id=org_unit.id if org_unit else None, **kw))

    def referrer(self, bank_branch: BankBranch | None = None, **kw) -> Referrer:
        n = _n()
        bank_branch = bank_branch or self.bank_branch()
        return self._add(Referrer(bank_branch_id=bank_branch.id, code=kw.pop("code", f"R{n}"),
                                  name=kw.pop("name", f"Referrer {n}"), **kw))

    def referral(self, referrer: Referrer, **kw) -> Referral:
        return self._add(Referral(referrer_id=referrer.id, bank_branch_id=referrer.bank_branch_id,
                                  prospect_name=kw.pop("prospect_name", f"Prospect {_n()}"), **kw))

    def stage(self, **kw) -> PipelineStage:
        n = _n()
        return self._add(PipelineStage(code=kw.pop("code", f"stage{n}"), name=kw.pop("name", f"Stage {n}"),
                                       position=kw.pop("position", n), probability=kw.pop("probability", Decimal("5")),
                                       **kw))

    # -- users --------------------------------------------------------------------------------------
    def user(self, role: Role = Role.ADMIN, **kw) -> User:
        if not _PASSWORD_HASH:
            _PASSWORD_HASH.append(hash_password(PASSWORD))
        n = _n()
        return self._add(User(username=kw.pop("username", f"{role.value}{n}"),
                              display_name=kw.pop("display_name", f"{role.value} {n}"),
                              password_hash=kw.pop("password_hash", _PASSWORD_HASH[0]), role=role, **kw))

    # -- book -----------------------------------------------------------------------------------------
    def product(self, **kw) -> Product:
        n = _n()
        return self._add(Product(code=kw.pop("code", f"PRD{n}"), name=kw.pop("name", f"Product {n}"),
                                 line=kw.pop("line", ProductLine.HEALTH), term_months=kw.pop("term_months", 12),
                                 renewable=kw.pop("renewable", True),
                                 frequencies=kw.pop("frequencies", ["annual", "monthly"]),
                                 first_year_commission_rate=kw.pop("first_year_commission_rate", Decimal("0.20")),
                                 renewal_commission_rate=kw.pop("renewal_commission_rate", Decimal("0.05")), **kw))

    def policyholder(self, owner: Agent | None = None, **kw) -> Policyholder:
        n = _n()
        owner = owner if owner is not None else self.agent()
        return self._add(Policyholder(name=kw.pop("name", f"Holder {n}"),
                                      owner_agent_id=owner.id if owner else None,
                                      org_unit_id=kw.pop("org_unit_id", owner.org_unit_id if owner else None),
                                      status=kw.pop("status", PolicyholderStatus.ACTIVE),
                                      phone=kw.pop("phone", f"+86138{n:08d}"),
                                      email=kw.pop("email", f"holder{n}@example.com"), **kw))

    def policy(self, policyholder: Policyholder | None = None, product: Product | None = None, **kw) -> Policy:
        n = _n()
        policyholder = policyholder or self.policyholder()
        product = product or self.product()
        effective = kw.pop("effective_date", date(2026, 1, 1))
        return self._add(Policy(
            number=kw.pop("number", f"T{n:012d}"), policyholder_id=policyholder.id, product_id=product.id,
            servicing_agent_id=kw.pop("servicing_agent_id", policyholder.owner_agent_id),
            org_unit_id=kw.pop("org_unit_id", policyholder.org_unit_id),
            channel=kw.pop("channel", SalesChannel.AGENCY), business_type=kw.pop("business_type", BusinessType.NEW),
            issue_date=kw.pop("issue_date", effective), effective_date=effective,
            expiry_date=kw.pop("expiry_date", effective + timedelta(days=365)),
            sum_insured=kw.pop("sum_insured", Decimal("100000.00")), premium=kw.pop("premium", Decimal("1200.00")),
            frequency=kw.pop("frequency", PremiumFrequency.ANNUAL), status=kw.pop("status", PolicyStatus.IN_FORCE),
            status_date=kw.pop("status_date", effective), **kw))
