"""The renewal board's numbers on a small book, worked out by hand (docs/metrics.md), and its CSV export.

Period September–October 2026, the branch manager's scope (the team's agent and colleague, and the pool):

| case | due | annualised | outcome | counts as |
| --- | --- | --- | --- | --- |
| A | 10 Sep | 1,000 | renewed from the worklist at 950 | renewed |
| B | 15 Sep | 1,200 (100 monthly) | rewritten on another product at 110 monthly | renewed |
| C | 20 Sep | 2,000 | lost: price | lost |
| D | 5 Oct | 500 | lost: other | lost |
| E | 10 Oct | 800 | lapsed | due, not renewed |
| F | 12 Oct | 3,000 | policy cancelled by the insurer, case lost | left out |
| G | 15 Oct | 400 | policy cancelled and rewritten at 450 | renewed |
| H | 20 Oct | 600 | still open, in the pool | still open |

Due 7, renewed 3 (3/7); premium due 6,500, renewed 2,600 (40%); renewals written 950 + 1,320 + 450 = 2,720.
Outside: a case due 5 November (after the period) and one of the sibling branch (another manager's).
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest

from agents.models import AgentStatus
from insurecrm import clock
from insurecrm.db import db
from policies import renewal_queries as queries
from policies import renewals
from policies.models import BusinessType, LostReason, PolicyStatus, PremiumFrequency, RenewalStatus
from tests.helpers import counted_queries
from tests.renewals.conftest import TODAY

PERIOD = "from=2026-09-01&to=2026-10-31"
START, END = date(2026, 9, 1), date(2026, 10, 31)


def due(day: date) -> dict:
    return {"expiry_date": day, "effective_date": day - timedelta(days=365)}


@pytest.fixture
def book(org, renewal_case, make, session):
    pool_agent = make.agent(org.team, status=AgentStatus.INACTIVE)
    other_product = make.product()
    cases = {
        "A": renewal_case(**due(date(2026, 9, 10))),
        "B": renewal_case(premium=Decimal("100.00"), frequency=PremiumFrequency.MONTHLY, **due(date(2026, 9, 15))),
        "C": renewal_case(org.colleague, premium=Decimal("2000.00"), **due(date(2026, 9, 20))),
        "D": renewal_case(org.colleague, premium=Decimal("500.00"), **due(date(2026, 10, 5))),
        "E": renewal_case(premium=Decimal("800.00"), case_status=RenewalStatus.LAPSED, **due(date(2026, 10, 10))),
        "F": renewal_case(premium=Decimal("3000.00"), status=PolicyStatus.CANCELLED, **due(date(2026, 10, 12))),
        "G": renewal_case(org.colleague, premium=Decimal("400.00"), status=PolicyStatus.CANCELLED,
                          **due(date(2026, 10, 15))),
        "H": renewal_case(pool_agent, premium=Decimal("600.00"), **due(date(2026, 10, 20))),
        "later": renewal_case(**due(date(2026, 11, 5))),
        "sibling": renewal_case(org.other_agent, **due(date(2026, 9, 10))),
    }
    renewals.renew(cases["A"], premium=Decimal("950.00"), actor=org.agent_user)
    renewals.lose(cases["C"], reason=LostReason.PRICE, actor=org.colleague_user)
    renewals.lose(cases["D"], reason=LostReason.OTHER, note="Bought a house abroad", actor=org.colleague_user)
    renewals.lose(cases["F"], reason=LostReason.SERVICE, actor=org.agent_user)
    renewals.renew(cases["later"], premium=Decimal("1000.00"), actor=org.agent_user)
    for key, product, premium in (("B", other_product, Decimal("110.00")), ("G", None, Decimal("450.00"))):
        old = cases[key].policy
        make.policy(old.policyholder, product or old.product, business_type=BusinessType.RENEWAL,
                    renews_policy_id=old.id, premium=premium, frequency=old.frequency,
                    effective_date=old.expiry_date, expiry_date=old.expiry_date + timedelta(days=365))
    session.commit()
    return cases


def test_the_renewal_rate_by_count_and_premium(org, book):
    months = queries.rate_by_month(org.manager, START, END)
    total = queries.Rate()
    for _month, rate in months:
        total.add(rate)
    assert [month for month, _rate in months] == [date(2026, 9, 1), date(2026, 10, 1)]
    assert (total.due, total.renewed, total.lost, total.still_open, total.excluded) == (7, 3, 2, 1, 1)
    assert (total.due_premium, total.renewed_premium, total.renewal_premium) == (
        Decimal("6500.00"), Decimal("2600.00"), Decimal("2720.00"))
    assert (total.by_count, total.by_premium) == (Decimal("0.4286"), Decimal("0.4000"))
    september, october = months[0][1], months[1][1]
    assert (september.due, september.renewed, september.due_premium, september.renewed_premium) == (
        3, 2, Decimal("4200.00"), Decimal("2200.00"))
    assert (october.due, october.renewed, october.due_premium, october.renewed_premium, october.excluded) == (
        4, 1, Decimal("2300.00"), Decimal("400.00"), 1)


def test_the_rate_by_agent_and_the_lost_reasons(org, book):
    by_agent = {(agent.id if agent else None): rate for agent, rate in queries.rate_by_agent(org.manager, START, END)}
    assert {key: (rate.due, rate.renewed) for key, rate in by_agent.items()} == {
        org.agent.id: (3, 2), org.colleague.id: (3, 1), None: (1, 0)}
    assert queries.lost_reasons(org.manager, START, END) == [
        (LostReason.PRICE, 1, Decimal("2000.00")), (LostReason.OTHER, 1, Decimal("500.00"))]
    admin = queries.rate_by_month(org.admin, START, END)
    assert sum(rate.due for _month, rate in admin) == 8  # with the sibling branch's case


def test_the_board_page_shows_the_numbers(web, org, book):
    html = web(org.manager).get(f"/renewals/board?{PERIOD}").get_data(as_text=True)
    for text in ("42.9%", "40.0%", "CN¥6,500.00", "CN¥2,600.00", "CN¥2,720.00", "Price", "Sep 2026", "Oct 2026",
                 "/vendor/plotly.min.js", 'data-chart="chart-months"', 'data-chart="chart-agents"'):
        assert text in html, text
    assert "cdn" not in html.lower()


def test_the_csv_export_lists_every_case_of_the_period(web, org, book):
    response = web(org.manager).get(f"/renewals/board.csv?{PERIOD}")
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).removeprefix("\ufeff"))))
    by_policy = {row["Policy"]: row for row in table}
    assert len(table) == 8
    numbers = {key: book[key].policy.number for key in "ABCDEFGH"}
    assert {key: (by_policy[n]["Counted as due"], by_policy[n]["Renewed"]) for key, n in numbers.items()} == {
        "A": ("yes", "yes"), "B": ("yes", "yes"), "C": ("yes", "no"), "D": ("yes", "no"), "E": ("yes", "no"),
        "F": ("no", "no"), "G": ("yes", "yes"), "H": ("yes", "no")}
    assert by_policy[numbers["B"]]["Expiring annualised premium"] == "1200.00"
    assert by_policy[numbers["B"]]["Renewing annualised premium"] == "1320.00"
    # each premium says what it is: per installment at its frequency, or annualised
    b = by_policy[numbers["B"]]
    assert (b["Expiring frequency"], b["Expiring premium per installment"]) == ("monthly", "100.00")
    assert (b["Renewing frequency"], b["Renewing premium per installment"]) == ("monthly", "110.00")
    a = by_policy[numbers["A"]]
    assert (a["Renewing premium per installment"], a["Renewing annualised premium"]) == ("950.00", "950.00")
    assert "Quoted premium" not in b and "Premium" not in b
    assert by_policy[numbers["C"]]["Lost reason"] == "price"
    counted = [row for row in table if row["Counted as due"] == "yes"]
    renewed = [row for row in counted if row["Renewed"] == "yes"]
    assert (len(renewed), len(counted)) == (3, 7)
    assert sum(Decimal(row["Expiring annualised premium"]) for row in renewed) == Decimal("2600.00")
    assert book["sibling"].policy.number not in by_policy


def test_cases_due_soon_by_agent_and_status(web, org, renewal_case, session):
    not_contacted = renewal_case(expiry_date=TODAY + timedelta(days=10))
    at_risk = renewal_case(paid=False, expiry_date=TODAY + timedelta(days=5))
    escalated = renewal_case(org.colleague, expiry_date=TODAY + timedelta(days=20),
                             case_status=RenewalStatus.CONTACTED)
    escalated.first_contacted_at = escalated.escalated_at = clock.now()
    renewal_case(expiry_date=TODAY + timedelta(days=40))  # beyond 30 days
    session.commit()
    rows = {row.agent.id: row for row in queries.due_by_agent(org.manager, TODAY, 30)}
    assert {agent: (dict(row.by_status), row.not_contacted, row.escalated, row.at_risk)
            for agent, row in rows.items()} == {
        org.agent.id: ({RenewalStatus.OPEN: 2}, 2, 0, 1),
        org.colleague.id: ({RenewalStatus.CONTACTED: 1}, 0, 1, 0)}
    assert sum(row.total for row in queries.due_by_agent(org.manager, TODAY, 45)) == 4
    client = web(org.manager)
    for focus, shown in (("not_contacted", {not_contacted, at_risk}), ("escalated", {escalated}),
                         ("at_risk", {at_risk}), ("all", {not_contacted, at_risk, escalated})):
        html = client.get(f"/renewals/board?focus={focus}").get_data(as_text=True)
        assert {case.policy.number for case in (not_contacted, at_risk, escalated)
                if f'id="case-{case.id}"' in html} == {case.policy.number for case in shown}, focus


def test_the_board_costs_the_same_queries_for_any_book(web, org, renewal_case, session):
    client = web(org.manager)
    renewal_case()
    with counted_queries() as few:
        assert client.get(f"/renewals/board?{PERIOD}").status_code == 200
    for index in range(6):
        agent = org.colleague if index % 2 else org.agent
        renewal_case(agent, paid=bool(index % 3), **due(date(2026, 9 + index % 2, 10 + index)))
        renewal_case(agent, expiry_date=TODAY + timedelta(days=index + 1))
    with counted_queries() as many:
        assert client.get(f"/renewals/board?{PERIOD}").status_code == 200
    assert len(many) == len(few) <= 12


def test_board_arguments_are_checked(web, org):
    client = web(org.manager)
    assert client.get("/renewals/board?days=0").status_code == 422
    assert client.get("/renewals/board?from=2026-10-01&to=2026-09-01").status_code == 422
    assert client.get("/renewals/board?from=2000-01-01&to=2026-09-01").status_code == 422
    assert client.get("/renewals/board?focus=everything").status_code == 422
    assert client.get("/renewals/board.csv?from=yesterday").status_code == 422


def test_the_csv_export_names_each_premium_per_installment_or_annualised(web, org, renewal_case):
    monthly = renewal_case(premium=Decimal("100.00"), frequency=PremiumFrequency.MONTHLY,
                           **due(date(2026, 10, 20)))
    renewals.quote(monthly, premium=Decimal("95.00"), actor=org.agent_user)
    db.session.commit()
    response = web(org.manager).get(f"/renewals/board.csv?{PERIOD}")
    (row,) = csv.DictReader(io.StringIO(response.get_data(as_text=True).removeprefix("\ufeff")))
    assert (row["Expiring frequency"], row["Expiring premium per installment"], row["Expiring annualised premium"]) \
        == ("monthly", "100.00", "1200.00")
    assert (row["Quoted premium per installment"], row["Quoted annualised premium"]) == ("95.00", "1140.00")
    assert (row["Renewing policy"], row["Renewing premium per installment"], row["Renewing annualised premium"]) \
        == ("", "", "")
