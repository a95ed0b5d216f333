"""Loss ratios by product, channel, agent, branch and issue year: incurred and paid claims of the period (by loss
date, rejected claims left out) over the premium earned in it; none when nothing was earned."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import marshmallow as ma
import pytest

from insurecrm.models import Role
from insurecrm.pii import pseudonym
from policies.models import ClaimStatus, PremiumFrequency, SalesChannel
from reports.catalogue import ANALYSTS, REPORTS
from reports.loss_ratio import LossRatioArgs, loss_ratio
from tests.reports.test_earned import claim, monthly, pay_schedule, table_rows

YEAR = {"start": "2026-01-01", "end": "2026-12-31"}
D = Decimal


def run(user, **args):
    return loss_ratio(user, LossRatioArgs().load({**YEAR, **args}), date(2027, 1, 15))


def figures(result, key="loss_ratio") -> list[tuple]:
    return [(row.get("group"), row["policies"], row["earned"], row["incurred"], row["paid"], row["claims"],
             row["loss_ratio"], row["paid_loss_ratio"]) for row in table_rows(result, key)]


@pytest.fixture
def book(make):
    """Over 2026:

    - p1 (Alpha, agency, agent a1 in unit North, issued 2025): 730.00 for 2025-07-01 .. 2026-06-30, 2.00 a day;
      181 days in 2026 (Jan–Jun) → 362.00. Claims: 181.00 incurred / 90.50 paid on 2026-02-01; a rejected 1000.00;
      500.00 lost on 2025-12-31 (before the period).
    - p2 (Alpha, bancassurance, a2 in South, 2026): 365.00 for 2026 → 365.00; 73.00 incurred on 2026-12-31 (in),
      999.00 on 2027-01-01 (out).
    - p3 (Beta, agency, a1, 2026): 100.00 a month from 2026-03-01, all paid: March–December → 1000.00;
      250.00 incurred and paid.
    - p4 (Beta, agency, a3 in South, 2026): nothing paid; a 100.00 claim: earned 0.
    """
    company = make.org_unit()
    north, south = make.org_unit(company, name="North"), make.org_unit(company, name="South")
    a1, a2 = make.agent(north, code="A1", name="Ann"), make.agent(south, code="A2", name="Bob")
    a3 = make.agent(south, code="A3", name="Cai")
    alpha, beta = make.product(name="Alpha"), make.product(name="Beta")

    def policy(agent, product, **kw):
        return make.policy(make.policyholder(owner=agent), product, **kw)

    p1 = policy(a1, alpha, effective_date=date(2025, 7, 1), expiry_date=date(2026, 7, 1), premium=D("730.00"))
    pay_schedule(make, p1, [(date(2025, 7, 1), "730.00")])
    claim(make, p1, date(2026, 2, 1), "181.00", "90.50")
    claim(make, p1, date(2026, 3, 1), "1000.00", status=ClaimStatus.REJECTED)
    claim(make, p1, date(2025, 12, 31), "500.00")
    p2 = policy(a2, alpha, effective_date=date(2026, 1, 1), expiry_date=date(2027, 1, 1), premium=D("365.00"),
                channel=SalesChannel.BANCASSURANCE)
    pay_schedule(make, p2, [(date(2026, 1, 1), "365.00")])
    claim(make, p2, date(2026, 12, 31), "73.00")
    claim(make, p2, date(2027, 1, 1), "999.00")
    p3 = policy(a1, beta, effective_date=date(2026, 3, 1), expiry_date=date(2027, 3, 1), premium=D("100.00"),
                frequency=PremiumFrequency.MONTHLY)
    pay_schedule(make, p3, monthly(date(2026, 3, 1), 12, "100.00"))
    claim(make, p3, date(2026, 9, 9), "250.00", "250.00", status=ClaimStatus.PAID)
    p4 = policy(a3, beta, effective_date=date(2026, 5, 1), expiry_date=date(2027, 5, 1))
    pay_schedule(make, p4, [(date(2026, 5, 1), "1200.00")], paid=0)
    claim(make, p4, date(2026, 6, 1), "100.00")
    return {"north": north, "south": south, "beta": beta, "a1": a1, "a2": a2, "a3": a3}


def test_by_product(make, book):
    result = run(make.user(Role.ADMIN), group_by="product")
    assert figures(result) == [
        # 362 + 365 = 727 earned; 181 + 73 = 254 incurred (254 ÷ 727 = 0.349381); 90.50 paid (÷ 727 = 0.124484)
        ("Alpha", 2, D("727.00"), D("254.00"), D("90.50"), 2, D("0.349381"), D("0.124484")),
        # 1000 earned (p4 earned nothing); 250 + 100 = 350 incurred; 250 paid
        ("Beta", 2, D("1000.00"), D("350.00"), D("250.00"), 2, D("0.350000"), D("0.250000")),
    ]
    # 1727 earned, 604 incurred (0.349739), 340.50 paid (0.197163)
    assert figures(result, "total") == [(None, 4, D("1727.00"), D("604.00"), D("340.50"), 4, D("0.349739"),
                                         D("0.197163"))]


def test_by_agent_with_nothing_earned(make, book):
    assert figures(run(make.user(Role.ADMIN), group_by="agent")) == [
        # p1 + p3: 1362 earned, 431 incurred (0.316446), 340.50 paid (0.25)
        ("Ann", 2, D("1362.00"), D("431.00"), D("340.50"), 2, D("0.316446"), D("0.250000")),
        ("Bob", 1, D("365.00"), D("73.00"), D("0.00"), 1, D("0.200000"), D("0.000000")),
        # p4: a claim and no premium received: no ratio rather than an error
        ("Cai", 1, D("0.00"), D("100.00"), D("0.00"), 1, None, None),
    ]


def test_by_channel_branch_and_issue_year(make, book):
    admin = make.user(Role.ADMIN)
    by_channel = {row[0]: row[6] for row in figures(run(admin, group_by="channel"))}
    # agency: p1, p3, p4: 531 ÷ 1362; bancassurance: p2: 73 ÷ 365
    assert by_channel == {"Agency": D("0.389868"), "Bancassurance": D("0.200000")}
    by_branch = {row[0]: row[2:4] + row[6:7] for row in figures(run(admin, group_by="branch"))}
    # North: p1, p3 as Ann; South: p2 + p4: 365 earned, 173 incurred (0.473973)
    assert by_branch == {"North": (D("1362.00"), D("431.00"), D("0.316446")),
                         "South": (D("365.00"), D("173.00"), D("0.473973"))}
    by_year = [(row[0], row[2], row[3], row[6]) for row in figures(run(admin, group_by="issue_year"))]
    # 2025: p1 (362, 181: 0.5); 2026: p2, p3, p4 (1365, 423: 0.309890)
    assert by_year == [("2025", D("362.00"), D("181.00"), D("0.500000")),
                       ("2026", D("1365.00"), D("423.00"), D("0.309890"))]


def test_a_manager_sees_their_branch_only(make, book):
    result = run(make.user(Role.BRANCH_MANAGER, org_unit_id=book["north"].id), group_by="product")
    # North's p1 (Alpha: 362 earned, 181 incurred) and p3 (Beta: 1000, 250)
    assert [row[:4] for row in figures(result)] == [("Alpha", 1, D("362.00"), D("181.00")),
                                                    ("Beta", 1, D("1000.00"), D("250.00"))]


def test_the_actuary_sees_agents_by_pseudonym(make, book):
    result = run(make.user(Role.ACTUARY), group_by="agent")
    shown = table_rows(result, "loss_ratio", pseudonymise=True)
    assert [row["group"] for row in shown] == [pseudonym("agent", book[a].id) for a in ("a1", "a2", "a3")]
    assert not {"Ann", "Bob", "Cai"} & {str(value) for row in shown for value in row.values()}


def test_analysts_only_and_bounded_choices(app):
    assert REPORTS["loss-ratio"].roles == ANALYSTS and Role.AGENT not in ANALYSTS
    with pytest.raises(ma.ValidationError) as refused:
        LossRatioArgs().load({"group_by": "policyholder"})
    assert "group_by" in refused.value.messages


def test_the_branch_and_product_filters(make, book):
    admin = make.user(Role.ADMIN)
    # South: p2 (Alpha: 365 earned, 73 incurred) and p4 (Beta: nothing earned, 100 incurred)
    south = run(admin, group_by="product", org_unit_id=book["south"].id)
    assert [row[:4] + row[6:7] for row in figures(south)] == [("Alpha", 1, D("365.00"), D("73.00"), D("0.200000")),
                                                              ("Beta", 1, D("0.00"), D("100.00"), None)]
    # Beta: p3 (Ann) and p4 (Cai)
    beta = run(admin, group_by="agent", product_id=book["beta"].id)
    assert [row[:4] for row in figures(beta)] == [("Ann", 1, D("1000.00"), D("250.00")),
                                                  ("Cai", 1, D("0.00"), D("100.00"))]
