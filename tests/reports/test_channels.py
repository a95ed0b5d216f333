"""Channel performance per channel, bank partner, bank branch and referrer: new premium, 13th-month persistency, loss
ratio, commission and contribution, each as its own report defines it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import marshmallow as ma
import pytest

from insurecrm.models import Role
from insurecrm.pii import pseudonym
from policies.models import BusinessType, CommissionPayee, PolicyStatus, PremiumFrequency, SalesChannel
from reports.catalogue import ANALYSTS, REPORTS
from reports.channels import ChannelArgs, channels
from tests.reports.test_earned import (
    claim,
    commission,
    local,
    monthly,
    pay_schedule,
    service_request,
    table_rows,
)

YEAR = {"start": "2026-01-01", "end": "2026-12-31"}
D = Decimal
KEYS = ("group", "new_policies", "new_premium", "base_13", "persistency_13", "earned", "incurred", "loss_ratio",
        "commission", "contribution")


def run(user, **args):
    return channels(user, ChannelArgs().load({**YEAR, **args}), date(2027, 1, 15))


def figures(result, key="channels") -> list[tuple]:
    return [tuple(row.get(k) for k in KEYS) for row in table_rows(result, key)]


@pytest.fixture
def book(make):
    """Over 2026 (the 13th-month base: new business from 2024-12-01 whose effective date + 13 months is in 2026):

    - agency (unit ``agency``): q1 new 2026-02-01, 365.00 a year (334 days in 2026 → 334.00); q2 new 2026-06-01,
      100.00 a month, seven paid (700.00; annualised 1200.00), 140.00 claimed, 70.00 commission, a 4.00 request on
      it; and a 1000.00 request of q1's policyholder naming no policy (no channel's).
    - bancassurance (unit ``bank``): q3 Bank Alpha, branch Alpha 1, referrer R1, new 2026-01-01, 730.00 (730.00
      earned), 365.00 claimed, 36.50 commission to the bank; q4 Alpha 2, new 2025-01-01, renewed on 2026-01-01 by
      q4r (a renewal: not new business), 365.00 earned in 2026; q5 Beta 1, referrer R2, new 2025-03-01 monthly,
      lapsed on 2025-07-01.
    - direct (unit ``agency``): q6 single premium 1095.00 for 2024-11-30 .. 2027-11-29 (one day before the base),
      q7 the same for 2024-12-01 .. 2027-11-30 (the base's first day): 365.00 each in 2026.
    """
    company = make.org_unit()
    agency, bank = make.org_unit(company), make.org_unit(company)
    seller, specialist = make.agent(agency), make.agent(bank)
    alpha, beta = make.bank_partner(name="Bank Alpha"), make.bank_partner(name="Bank Beta")
    alpha1, alpha2 = make.bank_branch(alpha, name="Alpha 1"), make.bank_branch(alpha, name="Alpha 2")
    beta1 = make.bank_branch(beta, name="Beta 1")
    r1, r2 = make.referrer(alpha1, code="R1", name="Rita"), make.referrer(beta1, code="R2", name="Rui")

    def policy(agent, **kw):
        holder = make.policyholder(owner=agent)
        return holder, make.policy(holder, **kw)

    holder1, q1 = policy(seller, effective_date=date(2026, 2, 1), expiry_date=date(2027, 2, 1), premium=D("365.00"))
    pay_schedule(make, q1, [(date(2026, 2, 1), "365.00")])
    service_request(make, holder1, local(date(2026, 5, 5)), "1000.00")
    _, q2 = policy(seller, effective_date=date(2026, 6, 1), expiry_date=date(2027, 6, 1), premium=D("100.00"),
                   frequency=PremiumFrequency.MONTHLY)
    pay_schedule(make, q2, monthly(date(2026, 6, 1), 12, "100.00"), paid=7)
    claim(make, q2, date(2026, 8, 1), "140.00")
    commission(make, q2, date(2026, 6, 10), "70.00")
    service_request(make, make.session.get(type(holder1), q2.policyholder_id), local(date(2026, 7, 7)), "4.00", q2)

    banca = {"channel": SalesChannel.BANCASSURANCE}
    _, q3 = policy(specialist, effective_date=date(2026, 1, 1), expiry_date=date(2027, 1, 1), premium=D("730.00"),
                   bank_partner_id=alpha.id, bank_branch_id=alpha1.id, referrer_id=r1.id, **banca)
    pay_schedule(make, q3, [(date(2026, 1, 1), "730.00")])
    claim(make, q3, date(2026, 4, 4), "365.00")
    bank_commission = commission(make, q3, date(2026, 1, 5), "36.50")
    bank_commission.payee, bank_commission.agent_id, bank_commission.bank_partner_id = \
        CommissionPayee.BANK_PARTNER, None, alpha.id
    make.session.commit()
    holder4, q4 = policy(specialist, effective_date=date(2025, 1, 1), expiry_date=date(2026, 1, 1),
                         premium=D("365.00"), status=PolicyStatus.RENEWED, status_date=date(2026, 1, 1),
                         bank_partner_id=alpha.id, bank_branch_id=alpha2.id, **banca)
    pay_schedule(make, q4, [(date(2025, 1, 1), "365.00")])
    q4r = make.policy(holder4, effective_date=date(2026, 1, 1), expiry_date=date(2027, 1, 1), premium=D("365.00"),
                      business_type=BusinessType.RENEWAL, renews_policy_id=q4.id, bank_partner_id=alpha.id,
                      bank_branch_id=alpha2.id, **banca)
    pay_schedule(make, q4r, [(date(2026, 1, 1), "365.00")])
    _, q5 = policy(specialist, effective_date=date(2025, 3, 1), expiry_date=date(2026, 3, 1), premium=D("50.00"),
                   frequency=PremiumFrequency.MONTHLY, status=PolicyStatus.LAPSED, status_date=date(2025, 7, 1),
                   bank_partner_id=beta.id, bank_branch_id=beta1.id, referrer_id=r2.id, **banca)
    pay_schedule(make, q5, monthly(date(2025, 3, 1), 12, "50.00"), paid=2)

    single = {"channel": SalesChannel.DIRECT, "frequency": PremiumFrequency.SINGLE, "premium": D("1095.00")}
    for effective, expiry in ((date(2024, 11, 30), date(2027, 11, 30)), (date(2024, 12, 1), date(2027, 12, 1))):
        _, direct = policy(seller, effective_date=effective, expiry_date=expiry, **single)
        pay_schedule(make, direct, [(effective, "1095.00")])
    return {"agency": agency, "r1": r1, "r2": r2}


def test_by_channel(make, book):
    result = run(make.user(Role.ADMIN), group_by="channel")
    assert figures(result) == [
        # new: q1 365 + q2 1200 = 1565; no policy at month 13 yet; earned 334 + 700 = 1034; 140 ÷ 1034 = 0.135397;
        # contribution 1034 − 140 − 70 − 4 = 820 (the 1000.00 request names no policy: no channel's)
        ("Agency", 2, D("1565.00"), 0, None, D("1034.00"), D("140.00"), D("0.135397"), D("70.00"), D("820.00")),
        # new: q3; month 13: q4 (renewed: persists) and q5 (lapsed) → 1 of 2; earned q3 730 + q4r 365 = 1095;
        # 365 ÷ 1095 = 0.333333; 1095 − 365 − 36.50 = 693.50
        ("Bancassurance", 1, D("730.00"), 2, D("0.500000"), D("1095.00"), D("365.00"), D("0.333333"), D("36.50"),
         D("693.50")),
        # q7 reaches month 13 on 2026-01-01 in force; q6 took effect a day too early for the base; 365 + 365 earned
        ("Direct", 0, D("0.00"), 1, D("1.000000"), D("730.00"), D("0.00"), D("0.000000"), D("0.00"), D("730.00")),
    ]
    # 3 new (2295.00); 2 of 3 persist; 2859 earned; 505 ÷ 2859 = 0.176635; 820 + 693.50 + 730 = 2243.50
    assert figures(result, "total") == [
        (None, 3, D("2295.00"), 3, D("0.666667"), D("2859.00"), D("505.00"), D("0.176635"), D("106.50"),
         D("2243.50"))]


def test_per_bank_partner_branch_and_referrer(make, book):
    admin = make.user(Role.ADMIN)
    assert figures(run(admin, group_by="bank_partner")) == [
        ("Bank Alpha", 1, D("730.00"), 1, D("1.000000"), D("1095.00"), D("365.00"), D("0.333333"), D("36.50"),
         D("693.50")),
        # q5 alone: nothing earned in 2026, but in the month-13 base, lapsed
        ("Bank Beta", 0, D("0.00"), 1, D("0.000000"), D("0.00"), D("0.00"), None, D("0.00"), D("0.00")),
    ]
    assert figures(run(admin, group_by="bank_branch")) == [
        # q3: 730 − 365 − 36.50 = 328.50
        ("Alpha 1", 1, D("730.00"), 0, None, D("730.00"), D("365.00"), D("0.500000"), D("36.50"), D("328.50")),
        # q4 (month 13, renewed) and q4r (365.00 earned)
        ("Alpha 2", 0, D("0.00"), 1, D("1.000000"), D("365.00"), D("0.00"), D("0.000000"), D("0.00"), D("365.00")),
        ("Beta 1", 0, D("0.00"), 1, D("0.000000"), D("0.00"), D("0.00"), None, D("0.00"), D("0.00")),
    ]
    by_referrer = run(admin, group_by="referrer")
    assert [row[:5] for row in figures(by_referrer)] == [("Rita", 1, D("730.00"), 0, None),
                                                         ("Rui", 0, D("0.00"), 1, D("0.000000"))]
    # policies sold without a partner or referrer are in no row, nor in the total
    assert figures(by_referrer, "total")[0][1:3] == (1, D("730.00"))


def test_a_manager_sees_their_units_channels(make, book):
    result = run(make.user(Role.BRANCH_MANAGER, org_unit_id=book["agency"].id), group_by="channel")
    assert [(row[0], row[5], row[9]) for row in figures(result)] == [("Agency", D("1034.00"), D("820.00")),
                                                                     ("Direct", D("730.00"), D("730.00"))]


def test_the_actuary_sees_referrers_by_pseudonym(make, book):
    shown = table_rows(run(make.user(Role.ACTUARY), group_by="referrer"), "channels", pseudonymise=True)
    assert [row["group"] for row in shown] == [pseudonym("referrer", book[r].id) for r in ("r1", "r2")]
    assert not {"Rita", "Rui"} & {str(value) for row in shown for value in row.values()}


def test_analysts_only_and_bounded_choices(app):
    assert REPORTS["channels"].roles == ANALYSTS
    with pytest.raises(ma.ValidationError) as refused:
        ChannelArgs().load({"group_by": "agent"})
    assert "group_by" in refused.value.messages
