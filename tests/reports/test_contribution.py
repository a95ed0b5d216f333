"""Contribution per policyholder: earned premium − incurred claims − commissions − service costs, inside each role's
scope, with the margin (none when nothing was earned); the actuary sees pseudonyms."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import marshmallow as ma
import pytest

from insurecrm.models import Role
from insurecrm.pii import pseudonym
from policies.models import ClaimStatus, PremiumFrequency, SalesChannel
from policyholders.models import ServiceKind
from reports.catalogue import REPORTS, WITH_AGENTS
from reports.contribution import ContributionArgs, contribution
from tests.reports.test_earned import (
    claim,
    commission,
    interaction,
    local,
    monthly,
    pay_schedule,
    service_request,
    table_rows,
)

YEAR = {"start": "2026-01-01", "end": "2026-12-31"}
TODAY = date(2027, 1, 15)  # the default period: the 12 complete months before, 2026-01-01 .. 2026-12-31


def run(user, **args):
    return contribution(user, ContributionArgs().load(args), TODAY)


def figures(result, key="policyholders") -> list[tuple]:
    return [(row.get("policyholder"), row["earned"], row["incurred"], row["commission"], row["service_cost"],
             row["contribution"], row["margin"]) for row in table_rows(result, key)]


@pytest.fixture
def book(make):
    """Branch ``mine`` with agents ``me`` and ``colleague``; branch ``far`` with ``stranger``.

    - ``h1`` (me): 365.00 a year from 2026-01-01 (1.00 a day); a 100.00 claim; 73.00 commission; service costs
      10.00 (request, no policy) + 5.00 (complaint on the policy) + 2.00 (interaction) in 2026, 50.00 on 2025-12-31
      and 10.00 in June 2025 (before 2026).
    - ``h2`` (me): 100.00 a month from 2026-07-01, six paid (Jul–Dec: 600.00 earned in 2026); a 900.00 claim and a
      rejected 5000.00 one.
    - ``h3`` (me): a policy from 2026-06-01 never paid; a 20.00 request: contribution −20.00 and no margin.
    - ``h6`` (me): 366.00 for 2024 (a leap year), before the period.
    - ``h4`` (colleague): 730.00 a year from 2026-01-01. ``h5`` (stranger, other branch): 365.00 a year.
    """
    company = make.org_unit()
    mine, far = make.org_unit(company), make.org_unit(company)
    me, colleague, stranger = make.agent(mine), make.agent(mine), make.agent(far)
    h1, h2, h3, h6 = (make.policyholder(owner=me) for _ in range(4))
    h4, h5 = make.policyholder(owner=colleague), make.policyholder(owner=stranger)

    p1 = make.policy(h1, effective_date=date(2026, 1, 1), expiry_date=date(2027, 1, 1), premium=Decimal("365.00"))
    pay_schedule(make, p1, [(date(2026, 1, 1), "365.00")])
    claim(make, p1, date(2026, 5, 1), "100.00")
    commission(make, p1, date(2026, 1, 10), "73.00")
    service_request(make, h1, local(date(2026, 2, 1)), "10.00")
    service_request(make, h1, local(date(2026, 3, 1)), "5.00", p1, kind=ServiceKind.COMPLAINT)
    interaction(make, h1, local(date(2026, 4, 1)), "2.00")
    interaction(make, h1, local(date(2026, 4, 2)), None)
    service_request(make, h1, local(date(2025, 12, 31)), "50.00")
    service_request(make, h1, local(date(2025, 6, 1)), "10.00")

    p2 = make.policy(h2, effective_date=date(2026, 7, 1), expiry_date=date(2027, 7, 1), premium=Decimal("100.00"),
                     frequency=PremiumFrequency.MONTHLY)
    pay_schedule(make, p2, monthly(date(2026, 7, 1), 12, "100.00"), paid=6)
    claim(make, p2, date(2026, 8, 1), "900.00")
    claim(make, p2, date(2026, 8, 2), "5000.00", status=ClaimStatus.REJECTED)

    p3 = make.policy(h3, effective_date=date(2026, 6, 1), expiry_date=date(2027, 6, 1))
    pay_schedule(make, p3, [(date(2026, 6, 1), "1200.00")], paid=0)
    service_request(make, h3, local(date(2026, 6, 5)), "20.00")

    p6 = make.policy(h6, effective_date=date(2024, 1, 1), expiry_date=date(2025, 1, 1), premium=Decimal("366.00"))
    pay_schedule(make, p6, [(date(2024, 1, 1), "366.00")])

    p4 = make.policy(h4, effective_date=date(2026, 1, 1), expiry_date=date(2027, 1, 1), premium=Decimal("730.00"),
                     channel=SalesChannel.BANCASSURANCE)
    pay_schedule(make, p4, [(date(2026, 1, 1), "730.00")])
    p5 = make.policy(h5, effective_date=date(2026, 1, 1), expiry_date=date(2027, 1, 1), premium=Decimal("365.00"))
    pay_schedule(make, p5, [(date(2026, 1, 1), "365.00")])
    return {"mine": mine, "me": me, "h1": h1, "h2": h2, "h3": h3, "h4": h4, "h5": h5, "h6": h6}


def D(text: str) -> Decimal:  # noqa: N802 - reads like the literal it is
    return Decimal(text)


def test_an_agent_sees_the_parts_of_their_own_book(make, book):
    result = run(make.user(Role.AGENT, agent_id=book["me"].id), **YEAR)
    assert figures(result) == [
        # 365 − 100 − 73 − (10 + 5 + 2) = 175.00; 175 ÷ 365 = 0.479452
        (book["h1"].name, D("365.00"), D("100.00"), D("73.00"), D("17.00"), D("175.00"), D("0.479452")),
        # nothing earned: −20.00 and no margin (not an error, not 0)
        (book["h3"].name, D("0.00"), D("0.00"), D("0.00"), D("20.00"), D("-20.00"), None),
        # six paid months fully inside 2026: 600.00; the rejected claim left out: 600 − 900 = −300; −300 ÷ 600
        (book["h2"].name, D("600.00"), D("900.00"), D("0.00"), D("0.00"), D("-300.00"), D("-0.500000")),
    ]
    # three policyholders; 965 − 1000 − 73 − 37 = −145.00; −145 ÷ 965 = −0.150259
    assert figures(result, "summary") == [
        (None, D("965.00"), D("1000.00"), D("73.00"), D("37.00"), D("-145.00"), D("-0.150259"))]
    assert table_rows(result, "summary")[0]["policyholders"] == 3


def test_the_default_period_is_the_last_twelve_complete_months(make, book):
    agent = make.user(Role.AGENT, agent_id=book["me"].id)
    assert len(figures(run(agent))) == 3
    assert figures(run(agent)) == figures(run(agent, **YEAR))


def test_the_api_shows_the_same_figures(make, book, api):
    url = "/api/v1/reports/contribution?start=2026-01-01&end=2026-12-31"
    body = api(make.user(Role.AGENT, agent_id=book["me"].id)).get(url).json
    assert [(row["policyholder"], row["contribution"], row["margin"]) for row in body["rows"]] == [
        (book["h1"].name, "175.00", "0.479452"), (book["h3"].name, "-20.00", None),
        (book["h2"].name, "-300.00", "-0.500000")]
    response = api(make.user(Role.ACTUARY)).get(url)
    assert [row["policyholder"] for row in response.json["rows"]][:2] == [
        pseudonym("policyholder", book["h4"].id), pseudonym("policyholder", book["h5"].id)]
    assert not any(book[h].name in response.get_data(as_text=True) for h in ("h1", "h2", "h3", "h4", "h5"))


def test_a_manager_sees_their_branch_and_an_admin_the_company(make, book):
    manager = run(make.user(Role.BRANCH_MANAGER, org_unit_id=book["mine"].id), **YEAR)
    # the colleague's 730.00 a year first, then the agent's book as above
    assert [(row[0], row[5]) for row in figures(manager)] == [
        (book["h4"].name, D("730.00")), (book["h1"].name, D("175.00")), (book["h3"].name, D("-20.00")),
        (book["h2"].name, D("-300.00"))]
    admin = run(make.user(Role.ADMIN), **YEAR)
    assert [(row[0], row[5]) for row in figures(admin)] == [
        (book["h4"].name, D("730.00")), (book["h5"].name, D("365.00")), (book["h1"].name, D("175.00")),
        (book["h3"].name, D("-20.00")), (book["h2"].name, D("-300.00"))]
    # 730 + 365 + 175 − 20 − 300 = 950.00 over 965 + 730 + 365 = 2060.00 earned: 0.461165
    assert figures(admin, "summary")[0][1::4] == (D("2060.00"), D("950.00"))
    assert figures(admin, "summary")[0][6] == D("0.461165")


def test_the_actuary_sees_pseudonyms_never_names(make, book):
    result = run(make.user(Role.ACTUARY), **YEAR)
    names = {book[key].name for key in ("h1", "h2", "h3", "h4", "h5")}
    for key in ("policyholders", "top"):
        shown = table_rows(result, key, pseudonymise=True)
        assert {row["policyholder"] for row in shown} == {pseudonym("policyholder", book[h].id)
                                                          for h in ("h1", "h2", "h3", "h4", "h5")}
        assert not names & {str(value) for row in shown for value in row.values()}
    # the names are only ever in the column named by the person column (which outputs never show to the actuary)
    table = result.table("policyholders")
    assert [column.name_key for column in table.columns if column.kind == "policyholder"] == ["policyholder_name"]
    assert "policyholder_name" not in {column.key for column in table.columns}


def test_top_chart_and_catalogue(make, book):
    result = run(make.user(Role.ADMIN), **YEAR)
    assert [row["policyholder"] for row in table_rows(result, "top")] == [
        row["policyholder"] for row in table_rows(result, "policyholders")]
    chart = result.charts[0]
    assert (chart.table, chart.x, chart.series) == ("top", "policyholder", ["earned", "contribution"])
    assert REPORTS["contribution"].roles == WITH_AGENTS


def test_since_the_first_policy_covers_the_whole_relationship(make, book):
    result = run(make.user(Role.AGENT, agent_id=book["me"].id), since_first_policy="true", end="2026-12-31")
    assert [(row[0], row[1], row[5]) for row in figures(result)] == [
        # 2024's 366.00, earned before the last twelve months
        (book["h6"].name, D("366.00"), D("366.00")),
        # 175.00 as in 2026, less the 50.00 and 10.00 requests of 2025 (the first policy of the book began in 2024)
        (book["h1"].name, D("365.00"), D("115.00")),
        (book["h3"].name, D("0.00"), D("-20.00")),
        (book["h2"].name, D("600.00"), D("-300.00")),
    ]


def test_a_start_and_the_whole_relationship_are_refused_together(app):
    with pytest.raises(ma.ValidationError) as refused:
        ContributionArgs().load({"since_first_policy": "true", "start": "2026-01-01"})
    assert "start" in refused.value.messages


def test_a_channel_filter_keeps_its_policies_costs_and_the_holders_own(make, book):
    manager = make.user(Role.BRANCH_MANAGER, org_unit_id=book["mine"].id)
    assert [(row[0], row[5]) for row in figures(run(manager, channel="bancassurance", **YEAR))] == [
        (book["h4"].name, D("730.00"))]
    # agency: h1's complaint names its (agency) policy, its request and interaction name none: all three count
    agency = figures(run(manager, channel="agency", **YEAR))
    assert [row[0] for row in agency] == [book["h1"].name, book["h3"].name, book["h2"].name]
    assert agency[0][4] == D("17.00")


def test_half_a_cent_rounds_up_on_both_databases(make):
    holder = make.policyholder()
    single = {"frequency": PremiumFrequency.SINGLE, "effective_date": date(2026, 3, 1)}
    two_days = make.policy(holder, expiry_date=date(2026, 3, 3), premium=D("2.01"), **single)
    pay_schedule(make, two_days, [(date(2026, 3, 1), "2.01")])
    one_day = make.policy(holder, expiry_date=date(2026, 3, 2), premium=D("0.20"), **single)
    pay_schedule(make, one_day, [(date(2026, 3, 1), "0.20")])
    # on 2026-03-01: 2.01 × 1/2 = 1.005 and 0.20 × 1/1: 1.205 exactly, 1.21 half up (in floating point the sum is
    # 1.2049999999999998, which would show 1.20)
    result = run(make.user(Role.ADMIN), start="2026-03-01", end="2026-03-01")
    assert [row[1] for row in figures(result)] == [D("1.21")]
    assert [row[5] for row in figures(result)] == [D("1.21")]
