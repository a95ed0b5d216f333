"""Segments (contribution × loyalty, four quadrants with their treatment, drilled down on the page) and key
customers (80/20: the boundary exactly, ties, zero and negative contributions), inside each role's scope."""

from __future__ import annotations

import html as markup
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import marshmallow as ma
import pytest

from insurecrm.models import Role
from insurecrm.pii import pseudonym
from policies.models import Installment, InstallmentStatus
from reports.catalogue import REPORTS, WITH_AGENTS
from reports.loyalty import save_weights
from reports.segments import KeyCustomerArgs, SegmentArgs, key_customers, segments
from tests.reports.test_earned import claim, table_rows

YEAR = {"start": "2026-01-01", "end": "2026-12-31"}
TODAY = date(2027, 1, 15)
#: the loyalty score is then 100 × the on-time ratio: 100 for a premium paid on its due date, 0 for one paid late
ON_TIME_ONLY = {"tenure": 0, "renewals": 0, "product_lines": 0, "on_time": 100, "referrals": 0, "complaints": 0}


def D(text: str) -> Decimal:  # noqa: N802 - reads like the literal it is
    return Decimal(text)


def customer(make, owner, contribution: str, *, late: bool = False, premium: str = "365.00"):
    """A policyholder of ``owner`` whose 2026 contribution is ``contribution``: ``premium`` for 2026 (one a day
    for 365.00), paid on its due date (or 4 days late), less a claim of the difference."""
    holder = make.policyholder(owner=owner)
    policy = make.policy(holder, effective_date=date(2026, 1, 1), expiry_date=date(2027, 1, 1), premium=D(premium))
    make._add(Installment(policy_id=policy.id, sequence=1, due_date=date(2026, 1, 1), amount=D(premium),
                          paid_amount=D(premium), paid_date=date(2026, 1, 5) if late else date(2026, 1, 1),
                          status=InstallmentStatus.PAID))
    if D(premium) - D(contribution):
        claim(make, policy, date(2026, 6, 1), str(D(premium) - D(contribution)))
    return holder


@pytest.fixture
def units(make):
    company = make.org_unit()
    mine, far = make.org_unit(company), make.org_unit(company)
    return SimpleNamespace(mine=mine, far=far, me=make.agent(mine), colleague=make.agent(mine),
                           stranger=make.agent(far))


@pytest.fixture
def book(make, units, session):
    """Contributions −100, 0, 100, 365, 365 in the agent's book: the median is the third, 100.00."""
    save_weights(ON_TIME_ONLY)
    session.commit()
    me = units.me
    return SimpleNamespace(
        units=units,
        s1=customer(make, me, "365.00"),  # high, loyal
        s2=customer(make, me, "0.00", premium="730.00"),  # low, loyal
        s3=customer(make, me, "365.00", late=True),  # high, not loyal
        s4=customer(make, me, "-100.00", late=True),  # low, not loyal
        s5=customer(make, me, "100.00"),  # at the median: low, loyal
        s6=customer(make, units.colleague, "1000.00", premium="1095.00"),  # the branch's
        s7=customer(make, units.stranger, "50.00", late=True),  # the other branch's
    )


def run_segments(user, **args):
    return segments(user, SegmentArgs().load({**YEAR, **args}), TODAY)


def quadrants(result) -> dict:
    return {row["quadrant"]: (row["policyholders"], row["earned"], row["contribution"], row["treatment"])
            for row in table_rows(result, "summary")}


def listed(result) -> list[tuple]:
    return [(row["policyholder"], row["contribution"], row["score"], row["quadrant"])
            for row in table_rows(result, "policyholders")]


def test_four_quadrants_split_at_the_median_and_at_50(make, book):
    result = run_segments(make.user(Role.AGENT, agent_id=book.units.me.id))
    # contributions −100, 0, 100, 365, 365: the median is 100.00, and 100.00 itself is not above it
    assert quadrants(result) == {
        "High contribution, loyal": (1, D("365.00"), D("365.00"), "Reward and keep"),
        "Low contribution, loyal": (2, D("1095.00"), D("100.00"), "Cross-sell"),  # 730 + 365 earned; 0 + 100
        "High contribution, not loyal": (1, D("365.00"), D("365.00"), "Secure"),
        "Low contribution, not loyal": (1, D("365.00"), D("-100.00"), "Lower the cost of serving"),
    }
    assert [row["quadrant"] for row in table_rows(result, "summary")] == [
        "High contribution, loyal", "Low contribution, loyal", "High contribution, not loyal",
        "Low contribution, not loyal"]
    assert listed(result) == [
        (book.s1.name, D("365.00"), D("100.0000"), "High contribution, loyal"),
        (book.s5.name, D("100.00"), D("100.0000"), "Low contribution, loyal"),
        (book.s2.name, D("0.00"), D("100.0000"), "Low contribution, loyal"),
        (book.s3.name, D("365.00"), D("0.0000"), "High contribution, not loyal"),
        (book.s4.name, D("-100.00"), D("0.0000"), "Low contribution, not loyal"),
    ]
    assert "100.00, the median" in str(result.notes[0])


def test_the_quadrant_filter_lists_one_quadrant_and_the_summary_stays_whole(make, book):
    result = run_segments(make.user(Role.AGENT, agent_id=book.units.me.id), quadrant="cross_sell")
    assert [row[0] for row in listed(result)] == [book.s5.name, book.s2.name]
    assert sum(row["policyholders"] for row in table_rows(result, "summary")) == 5


def test_thresholds_given_as_args(make, book):
    agent = make.user(Role.AGENT, agent_id=book.units.me.id)
    # above 0.00: s5 (100.00) becomes high; s2 (0.00) stays low
    counts = [row[0] for row in quadrants(run_segments(agent, contribution_above="0")).values()]
    assert counts == [2, 1, 1, 1]
    # loyal from 0: everyone is loyal
    counts = [row[0] for row in quadrants(run_segments(agent, loyal_from="0")).values()]
    assert counts == [2, 3, 0, 0]
    with pytest.raises(ma.ValidationError) as refused:
        SegmentArgs().load({"loyal_from": "101", "quadrant": "gold", "contribution_above": "lots"})
    assert set(refused.value.messages) == {"loyal_from", "quadrant", "contribution_above"}


def test_a_manager_splits_the_branch_at_its_own_median(make, book):
    result = run_segments(make.user(Role.BRANCH_MANAGER, org_unit_id=book.units.mine.id))
    # six contributions −100, 0, 100, 365, 365, 1000: the median is (100 + 365) ÷ 2 = 232.50
    assert "232.50, the median" in str(result.notes[0])
    assert {row[0] for row in listed(result)} == {book.s1.name, book.s2.name, book.s3.name, book.s4.name,
                                                  book.s5.name, book.s6.name}
    assert quadrants(result)["High contribution, loyal"][:3] == (2, D("1460.00"), D("1365.00"))


def test_the_page_drills_down_from_a_quadrant(make, book, web):
    client = web(make.user(Role.AGENT, agent_id=book.units.me.id))
    page = client.get("/reports/segments?start=2026-01-01&end=2026-12-31")
    assert page.status_code == 200
    text = markup.unescape(page.get_data(as_text=True))
    assert "/reports/segments?quadrant=secure&start=2026-01-01&end=2026-12-31" in text
    drilled = client.get("/reports/segments?quadrant=secure&start=2026-01-01&end=2026-12-31")
    body = drilled.get_data(as_text=True)
    assert book.s3.name in body and book.s1.name not in body and book.s7.name not in body
    assert f'href="/policyholders/{book.s3.id}"' in body  # each policyholder opens their record


def test_the_actuary_sees_pseudonyms(make, book):
    result = run_segments(make.user(Role.ACTUARY))
    shown = table_rows(result, "policyholders", pseudonymise=True)
    holders = (book.s1, book.s2, book.s3, book.s4, book.s5, book.s6, book.s7)
    assert {row["policyholder"] for row in shown} == {pseudonym("policyholder", h.id) for h in holders}
    assert not {h.name for h in holders} & {str(v) for row in shown for v in row.values()}


# -- key customers ---------------------------------------------------------------------------------------------

def run_key(user, **args):
    return key_customers(user, KeyCustomerArgs().load({**YEAR, **args}), TODAY)


def ranking(result) -> list[tuple]:
    return [(row["rank"], row["policyholder"], row["contribution"], row["cumulative_share"], row["key"])
            for row in table_rows(result, "customers")]


def test_key_customers_with_a_tie_and_non_positive_contributions(make, units):
    me = units.me
    k1, k2 = customer(make, me, "50.00"), customer(make, me, "30.00")
    k3, k4 = customer(make, me, "20.00"), customer(make, me, "20.00")  # a tie: k3, the older record, first
    k5, k6 = customer(make, me, "0.00"), customer(make, me, "-40.00")
    result = run_key(make.user(Role.AGENT, agent_id=me.id))
    # positive total 120.00; before k1 0%, k2 50/120, k3 80/120 = 66.7% (key), k4 100/120 = 83.3% (not key)
    assert ranking(result) == [
        (1, k1.name, D("50.00"), D("0.416667"), "Yes"),
        (2, k2.name, D("30.00"), D("0.666667"), "Yes"),
        (3, k3.name, D("20.00"), D("0.833333"), "Yes"),
        (4, k4.name, D("20.00"), D("1.000000"), "No"),
        (5, k5.name, D("0.00"), D("1.000000"), "No"),  # adds nothing, never key
        (6, k6.name, D("-40.00"), D("1.000000"), "No"),
    ]
    # 3 of 6 policyholders; 100.00 of 120.00 positive contribution
    assert table_rows(result, "summary") == [{
        "key_customers": 3, "policyholders": 6, "share_of_count": D("0.500000"), "key_contribution": D("100.00"),
        "positive_contribution": D("120.00"), "share_of_contribution": D("0.833333")}]
    assert [row[1] for row in ranking(run_key(make.user(Role.AGENT, agent_id=me.id), key_only="true"))] == [
        k1.name, k2.name, k3.name]


def test_exactly_80_percent_before_is_not_key(make, units):
    me = units.me
    first, second, third = customer(make, me, "40.00"), customer(make, me, "40.00"), customer(make, me, "20.00")
    result = run_key(make.user(Role.AGENT, agent_id=me.id))
    # before the third: 80.00 of 100.00, exactly 80%: the first two already make 80%
    assert ranking(result) == [(1, first.name, D("40.00"), D("0.400000"), "Yes"),
                               (2, second.name, D("40.00"), D("0.800000"), "Yes"),
                               (3, third.name, D("20.00"), D("1.000000"), "No")]
    assert table_rows(result, "summary")[0]["share_of_contribution"] == D("0.800000")


def test_no_positive_contribution_means_no_key_customer(make, units):
    me = units.me
    holder = customer(make, me, "-10.00")
    result = run_key(make.user(Role.AGENT, agent_id=me.id))
    assert ranking(result) == [(1, holder.name, D("-10.00"), None, "No")]
    assert table_rows(result, "summary") == [{
        "key_customers": 0, "policyholders": 1, "share_of_count": D("0.000000"), "key_contribution": D("0.00"),
        "positive_contribution": D("0.00"), "share_of_contribution": None}]


def test_key_customers_in_each_scope_and_the_pareto_chart(make, units):
    mine = customer(make, units.me, "300.00")
    theirs = customer(make, units.colleague, "100.00")
    far = customer(make, units.stranger, "600.00")
    agent = [row[1] for row in ranking(run_key(make.user(Role.AGENT, agent_id=units.me.id)))]
    assert agent == [mine.name]
    manager = ranking(run_key(make.user(Role.BRANCH_MANAGER, org_unit_id=units.mine.id)))
    # 300 of 400: 75%; the colleague's 100 is needed to pass 80%
    assert [(row[1], row[4]) for row in manager] == [(mine.name, "Yes"), (theirs.name, "Yes")]
    # the company: 600 of 1000 (60%), then 300 (90%): the colleague's 100 is not key
    admin = ranking(run_key(make.user(Role.ADMIN)))
    assert [(row[1], row[4]) for row in admin] == [(far.name, "Yes"), (mine.name, "Yes"), (theirs.name, "No")]
    result = run_key(make.user(Role.ACTUARY))
    shown = table_rows(result, "customers", pseudonymise=True)
    assert [row["policyholder"] for row in shown] == [pseudonym("policyholder", h.id) for h in (far, mine, theirs)]
    chart = result.charts[0]
    assert (chart.kind, chart.table, chart.series, chart.secondary) == (
        "pareto", "customers", ["contribution", "cumulative_share"], ["cumulative_share"])


def test_the_catalogue(app):
    for name in ("segments", "key-customers"):
        assert REPORTS[name].roles == WITH_AGENTS
        assert 1 <= len(REPORTS[name].help) <= 2
