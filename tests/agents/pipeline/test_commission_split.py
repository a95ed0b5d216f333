"""The commission split of a bancassurance premium between the agent and the bank partner (policies/payments.py,
docs/metrics.md "Commission"): the partner earns its own commission rate on the premium paid, the agent the rest of
the product's commission, each part rounded half up to the cent and the two adding up to the product's commission."""

from __future__ import annotations

from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from insurecrm import clock
from insurecrm.models import Role
from policies.models import Commission, PremiumFrequency, SalesChannel
from policies.payments import split_commission
from policies.schedule import build_schedule

TODAY = clock.today()


def months_ago(months: int):
    return TODAY - relativedelta(months=months)


@pytest.fixture
def seller(make):
    agent = make.agent()
    return agent, make.user(Role.AGENT, agent_id=agent.id), make.policyholder(owner=agent)


@pytest.fixture
def scheduled_policy(make, session):
    def build(**kw):
        kw.setdefault("premium", Decimal("100.00"))
        policy = make.policy(**kw)
        session.add_all(build_schedule(policy))
        session.commit()
        return policy

    return build


def pay(api, user, policy, amount):
    return api(user).post(f"/api/v1/policies/{policy.id}/payments",
                          json={"amount": amount, "paid_on": TODAY.isoformat()})


def rows(session, policy) -> list[tuple]:
    found = session.scalars(select(Commission).where(Commission.policy_id == policy.id)
                            .order_by(Commission.kind, Commission.payee))
    return [(c.kind.value, c.payee.value, c.agent_id, c.bank_partner_id, str(c.rate), str(c.base_amount),
             str(c.amount)) for c in found]


@pytest.mark.parametrize(("premium", "product_rate", "partner_rate", "agent", "partner"), [
    # 333.33 × 0.15 = 49.9995 → 50.00; 333.33 × 0.035 = 11.66655 → 11.67; the agent 50.00 − 11.67 = 38.33
    ("333.33", "0.1500", "0.0350", "38.33", "11.67"),
    # 0.10 × 0.05 = 0.005 → 0.01 (half up); the bank 0.10 × 0.05 = 0.005 → 0.01; nothing left for the agent
    ("0.10", "0.0500", "0.0500", "0.00", "0.01"),
    # the bank's terms (10%) exceed the product's commission (4%): the bank is paid its terms, the agent nothing
    ("200.00", "0.0400", "0.1000", "0.00", "20.00"),
    # no partner: all to the agent
    ("200.00", "0.0400", None, "8.00", "0.00"),
])
def test_the_parts(premium, product_rate, partner_rate, agent, partner):
    parts = split_commission(Decimal(premium), Decimal(product_rate),
                             None if partner_rate is None else Decimal(partner_rate))
    assert parts == (Decimal(agent), Decimal(partner))


def test_a_payment_over_first_year_and_renewal_installments_splits_each_kind(api, make, seller, session,
                                                                             scheduled_policy):
    agent, user, holder = seller
    product = make.product(first_year_commission_rate=Decimal("0.2000"), renewal_commission_rate=Decimal("0.0500"),
                           bank_share_rate=Decimal("0.0900"))
    bank = make.bank_partner(commission_rate=Decimal("0.0125"))
    policy = scheduled_policy(policyholder=holder, product=product, frequency=PremiumFrequency.MONTHLY,
                              premium=Decimal("100.01"), channel=SalesChannel.BANCASSURANCE, bank_partner_id=bank.id,
                              effective_date=months_ago(13), expiry_date=months_ago(13) + relativedelta(years=2))
    # the payment fills the 14 oldest installments: 12 of the first year (1200.12) and 2 of the second (200.02)
    assert pay(api, user, policy, "1400.14").status_code == 201
    # first year: 1200.12 × 0.20 = 240.024 → 240.02; bank 1200.12 × 0.0125 = 15.0015 → 15.00; agent 225.02
    # renewal: 200.02 × 0.05 = 10.001 → 10.00; bank 200.02 × 0.0125 = 2.50025 → 2.50; agent 7.50
    assert rows(session, policy) == [
        ("first_year", "agent", agent.id, None, "0.1875", "1200.12", "225.02"),
        ("first_year", "bank_partner", None, bank.id, "0.0125", "1200.12", "15.00"),
        ("renewal", "agent", agent.id, None, "0.0375", "200.02", "7.50"),
        ("renewal", "bank_partner", None, bank.id, "0.0125", "200.02", "2.50"),
    ]
    # the parts add up to the product's commission on each kind, to the cent: 240.02 and 10.00
    total = sum(Decimal(row[-1]) for row in rows(session, policy))
    assert total == Decimal("250.02")


def test_the_bank_is_paid_without_a_servicing_agent(api, make, session, scheduled_policy):
    admin = make.user(Role.ADMIN)
    bank = make.bank_partner(commission_rate=Decimal("0.0300"))
    policy = scheduled_policy(product=make.product(first_year_commission_rate=Decimal("0.1000")),
                              channel=SalesChannel.BANCASSURANCE, bank_partner_id=bank.id,
                              effective_date=months_ago(1), servicing_agent_id=None)
    assert pay(api, admin, policy, "100.00").status_code == 201
    assert rows(session, policy) == [("first_year", "bank_partner", None, bank.id, "0.0300", "100.00", "3.00")]


def test_a_policy_without_a_partner_pays_the_agent_the_whole_commission(api, make, seller, session,
                                                                         scheduled_policy):
    agent, user, holder = seller
    product = make.product(first_year_commission_rate=Decimal("0.1500"), bank_share_rate=Decimal("0.0500"))
    policy = scheduled_policy(policyholder=holder, product=product, effective_date=months_ago(1))
    assert pay(api, user, policy, "100.00").status_code == 201
    assert rows(session, policy) == [("first_year", "agent", agent.id, None, "0.1500", "100.00", "15.00")]
