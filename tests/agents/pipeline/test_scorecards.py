"""Agent scorecards: each figure of November 2026 counted by hand on a small team, the ranks within the team,
the targets a manager sets (and refuses), who sees which card, and a page cost that does not grow with the team."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from agents.models import (
    Activity,
    ActivityKind,
    ActivityStatus,
    Opportunity,
    OpportunityStatus,
    OrgUnitKind,
)
from agents.models.pipeline import AgentTarget, ScorecardMetric
from agents.pipeline.scorecards import figures_of, period_bounds, rank, scorecards
from insurecrm import clock
from insurecrm.db import db
from insurecrm.models import Role
from policies.models import BusinessType, PolicyStatus, PremiumFrequency, RenewalCase
from policyholders.models import ServiceCategory, ServiceKind, ServiceRequest
from tests.api_client import csrf_token
from tests.reports.test_earned import local

D = Decimal
M = ScorecardMetric
NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))
DECEMBER_6 = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _december(app):
    with clock.frozen(DECEMBER_6):
        yield


class Book:
    pass


def _done(session, agent, at, status=ActivityStatus.DONE):
    session.add(Activity(agent_id=agent.id, org_unit_id=agent.org_unit_id, kind=ActivityKind.VISIT, subject="Visit",
                         planned_start=at, status=status, actual_start=at, actual_end=at))


def _closed(session, agent, stage, status, at):
    session.add(Opportunity(title="Deal", owner_agent_id=agent.id, org_unit_id=agent.org_unit_id, stage_id=stage.id,
                            probability=stage.probability, status=status, closed_at=at, expected_premium=D("100")))


def _complaint(session, holder, at, kind=ServiceKind.COMPLAINT):
    session.add(ServiceRequest(policyholder_id=holder.id, kind=kind, category=ServiceCategory.CLAIM, subject="x",
                               opened_at=at, due_at=at))


@pytest.fixture
def book(make, session):
    """Branch B: team T (a1, a2, a3), team T2 (a4); branch F (a5). In November 2026:

    - new business issued: a1 1200.00 annual (the 10th) and 100.00 monthly (the 20th: 1200.00 a year); not counted: a1's
      renewal issued on the 12th, a quote, one issued on 31 October; a2 500.00 (the 5th); a4 10000.00;
    - renewal cases due: a1 two, one renewed by a written renewing policy (0.5);
    - 13th month in November: a1's policy effective 2025-10-15, in force (1.0); a2's effective 2025-10-20, lapsed
      on 2026-03-01 (0.0); a3 none (not yet computed);
    - activities done: a1 three (and one in October, one cancelled), a2 one;
    - opportunities closed: a1 won and lost (0.5), a2 two won (1.0), a3 one lost (0.0);
    - complaints on their policyholders: a1 one (and a request that is no complaint), a3 two.
    """
    b = Book()
    company = make.org_unit(kind=OrgUnitKind.COMPANY)
    b.branch = make.org_unit(company, kind=OrgUnitKind.BRANCH, name="Branch B")
    team, team2 = make.org_unit(b.branch, kind=OrgUnitKind.TEAM, name="Team T"), make.org_unit(b.branch, name="T2")
    b.far = make.org_unit(company, kind=OrgUnitKind.BRANCH, name="Branch F")
    b.a1, b.a2, b.a3 = (make.agent(team, name=name, code=code) for name, code in
                        (("Ann One", "K1"), ("Ben Two", "K2"), ("Cai Three", "K3")))
    b.a4, b.a5 = make.agent(team2, name="Dan Four", code="K4"), make.agent(b.far, name="Eve Far", code="K5")
    h1, h2, h3, h4 = (make.policyholder(owner=agent) for agent in (b.a1, b.a2, b.a3, b.a4))
    nov = date(2026, 11, 10)
    make.policy(h1, issue_date=nov, effective_date=nov, premium=D("1200.00"))
    make.policy(h1, issue_date=date(2026, 11, 20), effective_date=date(2026, 11, 20), premium=D("100.00"),
                frequency=PremiumFrequency.MONTHLY)
    make.policy(h1, issue_date=date(2026, 11, 12), effective_date=date(2026, 11, 12), premium=D("700.00"),
                business_type=BusinessType.RENEWAL)
    make.policy(h1, issue_date=nov, effective_date=nov, premium=D("900.00"), status=PolicyStatus.QUOTED)
    make.policy(h1, issue_date=date(2026, 10, 31), effective_date=date(2026, 10, 31), premium=D("800.00"))
    make.policy(h2, issue_date=date(2026, 11, 5), effective_date=date(2026, 11, 5), premium=D("500.00"))
    make.policy(h4, issue_date=nov, effective_date=nov, premium=D("10000.00"))
    for due, renewed in ((date(2026, 11, 8), True), (date(2026, 11, 25), False)):
        expiring = make.policy(h1, effective_date=date(2024, 1, 1), issue_date=date(2024, 1, 1),
                               expiry_date=due, business_type=BusinessType.RENEWAL)
        session.add(RenewalCase(policy_id=expiring.id, due_date=due, opened_on=date(2026, 9, 9),
                                assigned_agent_id=b.a1.id, org_unit_id=team.id))
        if renewed:
            make.policy(h1, effective_date=due, issue_date=date(2026, 10, 30), renews_policy_id=expiring.id,
                        business_type=BusinessType.RENEWAL)
    make.policy(h1, effective_date=date(2025, 10, 15), issue_date=date(2025, 10, 15),
                expiry_date=date(2027, 10, 15))
    make.policy(h2, effective_date=date(2025, 10, 20), issue_date=date(2025, 10, 20), expiry_date=date(2027, 10, 20),
                status=PolicyStatus.LAPSED, status_date=date(2026, 3, 1))
    for day in (2, 15, 30):
        _done(session, b.a1, local(date(2026, 11, day)))
    _done(session, b.a1, local(date(2026, 10, 31)))
    _done(session, b.a1, local(date(2026, 11, 3)), ActivityStatus.CANCELLED)
    _done(session, b.a2, local(date(2026, 11, 4)))
    stage = make.stage(position=1)
    _closed(session, b.a1, stage, OpportunityStatus.WON, local(date(2026, 11, 3)))
    _closed(session, b.a1, stage, OpportunityStatus.LOST, local(date(2026, 11, 4)))
    _closed(session, b.a2, stage, OpportunityStatus.WON, local(date(2026, 11, 5)))
    _closed(session, b.a2, stage, OpportunityStatus.WON, local(date(2026, 11, 6)))
    _closed(session, b.a3, stage, OpportunityStatus.LOST, local(date(2026, 11, 7)))
    _complaint(session, h1, local(date(2026, 11, 9)))
    _complaint(session, h1, local(date(2026, 11, 9)), ServiceKind.SERVICE)
    _complaint(session, h3, local(date(2026, 11, 9)))
    _complaint(session, h3, local(date(2026, 11, 19)))
    session.commit()
    b.manager = make.user(Role.BRANCH_MANAGER, org_unit_id=b.branch.id)
    b.agent_user = make.user(Role.AGENT, agent_id=b.a1.id)
    return b


def test_every_figure_of_november(book):
    found = figures_of([book.a1.id, book.a2.id, book.a3.id], *NOVEMBER, date(2026, 12, 6))
    assert found[book.a1.id] == {M.NEW_BUSINESS_PREMIUM: D("2400.00"), M.RENEWAL_RATE: D("0.5"),
                                 M.PERSISTENCY_13: D("1"), M.ACTIVITIES_DONE: 3, M.CONVERSION_RATE: D("0.5"),
                                 M.COMPLAINTS: 1}
    assert found[book.a2.id] == {M.NEW_BUSINESS_PREMIUM: D("500.00"), M.RENEWAL_RATE: None, M.PERSISTENCY_13: D("0"),
                                 M.ACTIVITIES_DONE: 1, M.CONVERSION_RATE: D("1"), M.COMPLAINTS: 0}
    assert found[book.a3.id] == {M.NEW_BUSINESS_PREMIUM: D("0.00"), M.RENEWAL_RATE: None, M.PERSISTENCY_13: None,
                                 M.ACTIVITIES_DONE: 0, M.CONVERSION_RATE: D("0"), M.COMPLAINTS: 2}


def test_ranks_within_the_team(book):
    [card] = scorecards([book.a1], "month", date(2026, 11, 17), date(2026, 12, 6))
    assert (card.start, card.end) == NOVEMBER
    ranks = {metric: (figure.rank, figure.ranked) for metric, figure in card.figures.items()}
    # a4's 10000.00 is in another team: a1 stays first of three
    assert ranks == {M.NEW_BUSINESS_PREMIUM: (1, 3), M.RENEWAL_RATE: (1, 1), M.PERSISTENCY_13: (1, 2),
                     M.ACTIVITIES_DONE: (1, 3), M.CONVERSION_RATE: (2, 3), M.COMPLAINTS: (2, 3)}
    [third] = scorecards([book.a3], "month", date(2026, 11, 17), date(2026, 12, 6))
    assert third.figures[M.PERSISTENCY_13].rank is None and third.figures[M.COMPLAINTS].rank == 3
    assert rank({1: 5, 2: 7, 3: 7, 4: None, 5: 1}, True) == {2: 1, 3: 1, 1: 3, 5: 4}
    assert rank({1: 0, 2: 2, 3: 0}, False) == {1: 1, 3: 1, 2: 3}


def test_quarters_and_years():
    assert period_bounds("quarter", date(2026, 11, 17)) == (date(2026, 10, 1), date(2026, 12, 31))
    assert period_bounds("quarter", date(2026, 2, 28)) == (date(2026, 1, 1), date(2026, 3, 31))
    assert period_bounds("year", date(2026, 11, 17)) == (date(2026, 1, 1), date(2026, 12, 31))
    assert period_bounds("month", date(2028, 2, 3)) == (date(2028, 2, 1), date(2028, 2, 29))


def test_the_manager_sets_targets_and_the_card_says_which_are_met(book, web, session):
    client = web(book.manager)
    url = f"/scorecards/{book.a1.id}"
    response = client.post(url, data={"csrf_token": csrf_token(client), "period": "month", "on": "2026-11-17",
                                      "new_business_premium": "2000", "renewal_rate": "60", "complaints": "0"})
    assert response.status_code == 302
    targets = {(t.metric, t.period_kind, t.period_start): t.target_value for t in session.scalars(select(AgentTarget))}
    assert targets == {(M.NEW_BUSINESS_PREMIUM, "month", date(2026, 11, 1)): D("2000.00"),
                       (M.RENEWAL_RATE, "month", date(2026, 11, 1)): D("60.00"),
                       (M.COMPLAINTS, "month", date(2026, 11, 1)): D("0.00")}
    [card] = scorecards([book.a1], "month", date(2026, 11, 1), date(2026, 12, 6))
    met = {metric: figure.met for metric, figure in card.figures.items()}
    assert met == {M.NEW_BUSINESS_PREMIUM: True, M.RENEWAL_RATE: False, M.PERSISTENCY_13: None,
                   M.ACTIVITIES_DONE: None, M.CONVERSION_RATE: None, M.COMPLAINTS: False}
    page = client.get(f"{url}?period=month&on=2026-11-17").get_data(as_text=True)
    assert "CN¥2,400.00" in page and "CN¥2,000.00" in page and "60.0%" in page and "1 of 3" in page
    # emptied: the target is removed
    client.post(url, data={"csrf_token": csrf_token(client), "period": "month", "on": "2026-11-17",
                           "new_business_premium": "2000", "renewal_rate": "", "complaints": "0"})
    assert session.scalar(select(func.count(AgentTarget.id))) == 2


@pytest.mark.parametrize("field, value", [("renewal_rate", "120"), ("activities_done", "2.5"),
                                          ("new_business_premium", "-1"), ("complaints", "lots")])
def test_a_bad_target_is_refused_with_its_field_and_nothing_is_written(book, web, session, field, value):
    client = web(book.manager)
    response = client.post(f"/scorecards/{book.a1.id}", data={
        "csrf_token": csrf_token(client), "period": "month", "on": "2026-11-17", "new_business_premium": "2000",
        field: value})
    assert response.status_code == 422
    assert f'id="f-{field}-error"' in response.get_data(as_text=True)
    assert session.scalar(select(func.count(AgentTarget.id))) == 0


def test_who_sees_which_card(book, web, make):
    agent = web(book.agent_user)
    own = agent.get("/scorecard?period=month&on=2026-11-17")
    assert own.status_code == 200
    text = own.get_data(as_text=True)
    assert "Ann One" in text and "CN¥2,400.00" in text and "not yet computed" not in text
    assert "Save targets" not in text
    assert agent.get("/scorecards").status_code == 403
    assert agent.get(f"/scorecards/{book.a1.id}").status_code == 403
    third = web(make.user(Role.AGENT, agent_id=book.a3.id)).get("/scorecard?period=month&on=2026-11-17")
    assert "not yet computed" in third.get_data(as_text=True)
    manager = web(book.manager)
    listing = manager.get("/scorecards?period=month&on=2026-11-17").get_data(as_text=True)
    assert all(name in listing for name in ("Ann One", "Ben Two", "Cai Three", "Dan Four"))
    assert "Eve Far" not in listing
    assert manager.get(f"/scorecards/{book.a5.id}").status_code == 404
    assert manager.get("/scorecard").status_code == 200  # a manager's own entry is the branch's table
    assert web(make.user(Role.ADMIN)).get(f"/scorecards/{book.a5.id}").status_code == 200
    for role in (Role.ACTUARY, Role.BANK_REFERRER):
        assert web(make.user(role)).get("/scorecard").status_code == 403
        assert web(make.user(role)).get("/scorecards").status_code == 403
    assert manager.get("/scorecards?period=decade").status_code == 422


def _statements(client, url: str) -> int:
    seen = []

    def record(*_args):
        seen.append(1)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return len(seen)


def test_the_branch_page_costs_the_same_for_a_larger_team(book, web, make, session):
    client = web(book.manager)
    url = "/scorecards?period=month&on=2026-11-17"
    before = _statements(client, url)
    for n in range(6):
        extra = make.agent(session.get(type(book.a1), book.a1.id).org_unit, name=f"Extra {n}")
        holder = make.policyholder(owner=extra)
        make.policy(holder, issue_date=date(2026, 11, 10), effective_date=date(2026, 11, 10))
        _done(session, extra, local(date(2026, 11, 11)))
    session.commit()
    assert _statements(client, url) == before


def test_the_branch_table_is_paged_and_ranks_still_compare_the_whole_team(book, web, monkeypatch):
    import agents.pipeline.scorecard_views as views

    monkeypatch.setattr(views, "PER_PAGE", 2)
    client = web(book.manager)
    first = client.get("/scorecards?period=month&on=2026-11-17").get_data(as_text=True)
    second = client.get("/scorecards?period=month&on=2026-11-17&page=2").get_data(as_text=True)
    assert "Ann One" in first and "Ben Two" in first and "Cai Three" not in first
    assert "Cai Three" in second and "Dan Four" in second and "Ann One" not in second
    # Cai has the most complaints of the three of team T, though alone of them on this page
    assert "#3 of 3" in second
