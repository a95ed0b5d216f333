"""Breakdowns of the book: counts, premium, new business and lapses by a dimension of the policyholders, computed
by hand on a small book; one dimension or two crossed; in the user's scope."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from insurecrm.db import db
from insurecrm.models import Role
from policies.models import Installment, InstallmentStatus, PolicyStatus, PolicyStatusChange, PremiumFrequency
from policyholders.models import Gender, ServiceCategory, ServiceKind, ServiceRequest
from reports.breakdowns import breakdowns
from reports.tables import cell

TODAY = date(2026, 12, 6)  # the default period: 2025-12-01 to 2026-11-30


pytestmark = pytest.mark.usefixtures("december")


@pytest.fixture
def book(make):
    branch_a, branch_b = make.org_unit(name="Branch A"), make.org_unit(name="Branch B")
    alice, bob = make.agent(branch_a, name="Alice"), make.agent(branch_b, name="Bob")
    # aged 30 on 2026-11-30 (born 1996-06-01), female: two policies in force, one new in the period (monthly 100)
    young = make.policyholder(owner=alice, date_of_birth=date(1996, 6, 1), gender=Gender.FEMALE, region="Shanghai")
    first = make.policy(young, effective_date=date(2025, 1, 1), expiry_date=date(2027, 1, 1),
                        premium=Decimal("1000.00"))
    # its second year's premium, paid: it covers 2026-01-01 to 2026-12-31 (365 days), 334 of them in the period
    db.session.add(Installment(policy_id=first.id, sequence=2, due_date=date(2026, 1, 1), amount=Decimal("1000.00"),
                               paid_amount=Decimal("1000.00"), paid_date=date(2026, 1, 1),
                               status=InstallmentStatus.PAID))
    # a complaint about no policy in particular, costing 50: charged to the policyholder once
    db.session.add(ServiceRequest(policyholder_id=young.id, kind=ServiceKind.COMPLAINT,
                                  category=ServiceCategory.OTHER, subject="Rude call", cost=Decimal("50.00"),
                                  opened_at=datetime(2026, 5, 1, 2, 0, tzinfo=UTC),
                                  due_at=datetime(2026, 5, 8, 2, 0, tzinfo=UTC)))
    make.policy(young, effective_date=date(2026, 3, 1), expiry_date=date(2027, 3, 1), premium=Decimal("100.00"),
                frequency=PremiumFrequency.MONTHLY)
    # 30 on 2026-12-01, so still 29 on the period's end: the same band; male; one policy that lapsed in the period
    turning = make.policyholder(owner=alice, date_of_birth=date(1996, 12, 1), gender=Gender.MALE, region="Shanghai")
    lapsed = make.policy(turning, effective_date=date(2025, 6, 1), expiry_date=date(2026, 6, 1),
                         premium=Decimal("500.00"), status=PolicyStatus.LAPSED, status_date=date(2026, 4, 2))
    db.session.add(PolicyStatusChange(policy_id=lapsed.id, from_status=PolicyStatus.GRACE,
                                      to_status=PolicyStatus.LAPSED, effective_date=date(2026, 4, 2)))
    # 60 on the period's end, Bob's: in force, 2,400 a year
    older = make.policyholder(owner=bob, date_of_birth=date(1966, 1, 15), gender=Gender.FEMALE, region="Beijing")
    make.policy(older, effective_date=date(2024, 1, 1), expiry_date=date(2034, 1, 1), premium=Decimal("2400.00"))
    db.session.commit()
    return {"alice": alice, "branch_a": branch_a, "young": young}


def rows(user, **args):
    result = breakdowns(user, {"by": "age_band", "then_by": "", **args}, TODAY)
    table = result.tables[0]
    return [{column.key: cell(column, row, pseudonymise=False) for column in table.columns} for row in table.rows()]


def test_by_age_band_for_the_company(make, book):
    by_band = {row["dim_0"]: row for row in rows(make.user(Role.ADMIN))}
    assert set(by_band) == {"25 to 34", "55 to 64"}
    young = by_band["25 to 34"]
    # in force on 2026-11-30: the two policies of the 30-year-old (the lapsed one is not)
    assert (young["policyholders"], young["in_force"]) == (1, 2)
    assert young["premium"] == Decimal("2200.00")  # 1,000 + 100 × 12
    assert young["new_policies"] == 1  # effective 2026-03-01, inside the period
    # 1,000 × 334 ÷ 365 = 915.068… earned, less the complaint's 50 (once, though the policyholder has two policies)
    assert young["contribution"] == Decimal("865.07")
    # one lapse in the period over the 2 policies in force on 2025-11-30: the first of the 30-year-old and the one
    # that lapsed later (the monthly one only started on 2026-03-01)
    assert young["lapses"] == 1 and young["lapse_rate"] == Decimal("0.500000")
    older = by_band["55 to 64"]
    assert (older["policyholders"], older["in_force"], older["lapses"]) == (1, 1, 0)
    assert older["premium"] == Decimal("2400.00") and older["contribution"] == Decimal("0.00")
    assert older["lapse_rate"] == Decimal("0")


def test_two_dimensions_crossed(make, book):
    crossed = {(row["dim_0"], row["dim_1"]): (row["in_force"], row["lapses"])
               for row in rows(make.user(Role.ADMIN), by="region", then_by="gender")}
    assert crossed == {("Beijing", "Female"): (1, 0), ("Shanghai", "Female"): (2, 0), ("Shanghai", "Male"): (0, 1)}


def test_an_agent_may_not_run_it_and_a_manager_sees_the_branch(make, book, web):
    assert web(make.user(Role.AGENT, agent_id=book["alice"].id)).get("/reports/breakdowns").status_code == 403
    manager = make.user(Role.BRANCH_MANAGER, org_unit_id=book["branch_a"].id)
    assert {row["dim_0"] for row in rows(manager)} == {"25 to 34"}
    assert sum(row["in_force"] for row in rows(manager, by="region")) == 2


def test_filters_of_branch_and_channel(make, book):
    admin = make.user(Role.ADMIN)
    assert {row["dim_0"] for row in rows(admin, org_unit_id=book["branch_a"].id)} == {"25 to 34"}
    assert rows(admin, channel="bancassurance") == []
