"""The sales report: a day, an ISO week or a month of new opportunities, stage moves, won and lost premium,
activities planned and done and renewals worked, by agent, team and branch — counted by hand on a small book."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import marshmallow as ma
import pytest

from agents.models import (
    Activity,
    ActivityKind,
    ActivityStatus,
    Opportunity,
    OpportunityStatus,
    OrgUnitKind,
)
from agents.models.pipeline import OpportunityStageChange
from insurecrm.models import Role
from policies.models import RenewalCase, RenewalStatus
from reports.catalogue import REPORTS
from reports.sales import SalesArgs, last_closed, period_bounds, sales
from tests.reports.test_earned import local, table_rows

D = Decimal
#: the week of the book: Monday 2026-11-23 to Sunday 2026-11-29 (Shanghai time)
WEEK = {"period": "week", "day": "2026-11-25"}
FIGURES = ("new_opportunities", "new_premium", "stage_moves", "won", "won_premium", "lost", "lost_premium",
           "activities_planned", "activities_done", "renewals_worked", "renewals_renewed")


@dataclass
class SalesBook:
    company: object
    branch: object
    team1: object
    team2: object
    other_branch: object
    a1: object
    a2: object
    a3: object
    foreign: object
    manager: object


def _opportunity(session, agent, stage, *, created, premium, status=OpportunityStatus.OPEN, closed=None, title="Deal"):
    row = Opportunity(title=title, owner_agent_id=agent.id, org_unit_id=agent.org_unit_id, stage_id=stage.id,
                      probability=stage.probability, expected_premium=premium, status=status, closed_at=closed,
                      created_at=created)
    session.add(row)
    session.flush()
    session.add(OpportunityStageChange(opportunity_id=row.id, from_stage_id=None, to_stage_id=stage.id,
                                       changed_at=created))
    return row


def _activity(session, agent, *, planned, status=ActivityStatus.PLANNED, done=None):
    session.add(Activity(agent_id=agent.id, org_unit_id=agent.org_unit_id, kind=ActivityKind.CALL, subject="Call",
                         planned_start=planned, status=status, actual_start=done, actual_end=done))


def _case(session, make, agent, **kw):
    policy = make.policy(make.policyholder(owner=agent))
    session.add(RenewalCase(policy_id=policy.id, due_date=date(2026, 12, 20), opened_on=date(2026, 10, 21),
                            assigned_agent_id=agent.id, org_unit_id=agent.org_unit_id, **kw))


def build_sales_book(make, session) -> SalesBook:
    """Branch B (teams T1: a1, a2; T2: a3) and branch F (agent ``foreign``), in the week of 2026-11-23:

    - a1: o1 created Monday 00:30 local (1000.00); o2 created the week before (2500.50), moved from s1 to s2 on
      Tuesday and won on Wednesday; an activity planned on Tuesday, one planned and cancelled, one planned the week
      before and done on Thursday; case c1 first contacted on Friday, case c2 closed as renewed on Saturday;
    - a2: o3 created on Wednesday (300.00) and lost on Sunday 23:30 local; o4 created Sunday 2026-11-22 23:30 local
      (the week before: not counted); case c3 contacted the week before (not worked this week);
    - a3: an activity done on Monday; one done on Tuesday 1 December 00:10 local (next month);
    - foreign (branch F): o5 created on Wednesday (9999.00): the manager of B never sees it.
    """
    company = make.org_unit(kind=OrgUnitKind.COMPANY)
    branch = make.org_unit(company, kind=OrgUnitKind.BRANCH, name="Branch B")
    team1 = make.org_unit(branch, kind=OrgUnitKind.TEAM, name="Team T1")
    team2 = make.org_unit(branch, kind=OrgUnitKind.TEAM, name="Team T2")
    other_branch = make.org_unit(company, kind=OrgUnitKind.BRANCH, name="Branch F")
    a1, a2 = make.agent(team1, name="Agent One", code="S001"), make.agent(team1, name="Agent Two", code="S002")
    a3, foreign = make.agent(team2, name="Agent Three", code="S003"), make.agent(other_branch, name="Agent Far")
    s1, s2 = make.stage(position=1, probability=D("5")), make.stage(position=2, probability=D("15"))
    monday = date(2026, 11, 23)
    _opportunity(session, a1, s1, created=local(monday, 0, 30), premium=D("1000.00"), title="o1")
    o2 = _opportunity(session, a1, s2, created=local(monday - timedelta(days=3)), premium=D("2500.50"),
                      status=OpportunityStatus.WON, closed=local(monday + timedelta(days=2)), title="o2")
    session.add(OpportunityStageChange(opportunity_id=o2.id, from_stage_id=s1.id, to_stage_id=s2.id,
                                       changed_at=local(monday + timedelta(days=1))))
    _opportunity(session, a2, s1, created=local(monday + timedelta(days=2)), premium=D("300.00"),
                 status=OpportunityStatus.LOST, closed=local(monday + timedelta(days=6), 23, 30), title="o3")
    _opportunity(session, a2, s1, created=local(monday - timedelta(days=1), 23, 30), premium=D("50.00"), title="o4")
    _opportunity(session, foreign, s1, created=local(monday + timedelta(days=2)), premium=D("9999.00"), title="o5")
    _activity(session, a1, planned=local(monday + timedelta(days=1)))
    _activity(session, a1, planned=local(monday + timedelta(days=1)), status=ActivityStatus.CANCELLED)
    _activity(session, a1, planned=local(monday - timedelta(days=2)), status=ActivityStatus.DONE,
              done=local(monday + timedelta(days=3)))
    _activity(session, a3, planned=local(monday - timedelta(days=1)), status=ActivityStatus.DONE, done=local(monday))
    _activity(session, a3, planned=local(monday - timedelta(days=1)), status=ActivityStatus.DONE,
              done=local(monday + timedelta(days=8), 0, 10))
    _case(session, make, a1, status=RenewalStatus.CONTACTED, first_contacted_at=local(monday + timedelta(days=4)),
          last_contacted_at=local(monday + timedelta(days=4)))
    _case(session, make, a1, status=RenewalStatus.RENEWED, first_contacted_at=local(monday - timedelta(days=10)),
          last_contacted_at=local(monday - timedelta(days=10)), closed_at=local(monday + timedelta(days=5)))
    _case(session, make, a2, status=RenewalStatus.CONTACTED, first_contacted_at=local(monday - timedelta(days=1)),
          last_contacted_at=local(monday - timedelta(days=1)))
    manager = make.user(Role.BRANCH_MANAGER, org_unit_id=branch.id, email="manager.b@example.com")
    session.commit()
    return SalesBook(company, branch, team1, team2, other_branch, a1, a2, a3, foreign, manager)


@pytest.fixture
def book(make, session):
    return build_sales_book(make, session)


def run(user, **args):
    return sales(user, SalesArgs().load({**WEEK, **args}), date(2026, 12, 6))


def figures(row) -> tuple:
    return tuple(row[key] for key in FIGURES)


A1 = (1, D("1000.00"), 1, 1, D("2500.50"), 0, D("0.00"), 1, 1, 2, 1)
A2 = (1, D("300.00"), 0, 0, D("0.00"), 1, D("300.00"), 0, 0, 0, 0)
A3 = (0, D("0.00"), 0, 0, D("0.00"), 0, D("0.00"), 0, 1, 0, 0)
BRANCH = (2, D("1300.00"), 1, 1, D("2500.50"), 1, D("300.00"), 1, 2, 2, 1)


def test_the_week_by_agent_as_the_branch_manager(book):
    rows = table_rows(run(book.manager), "sales")
    assert [(row["group"], figures(row)) for row in rows] == [("Agent One", A1), ("Agent Two", A2),
                                                              ("Agent Three", A3)]
    assert [figures(row) for row in table_rows(run(book.manager), "total")] == [BRANCH]


def test_by_team_and_by_branch(book, make):
    by_team = table_rows(run(book.manager, group_by="team"), "sales")
    t1 = tuple(a + b for a, b in zip(A1, A2, strict=True))
    assert [(row["group"], figures(row)) for row in by_team] == [("Team T1", t1), ("Team T2", A3)]
    by_branch = table_rows(run(book.manager, group_by="branch"), "sales")
    assert [(row["group"], figures(row)) for row in by_branch] == [("Branch B", BRANCH)]
    admin = make.user(Role.ADMIN)
    everyone = table_rows(run(admin, group_by="branch"), "sales")
    far = (1, D("9999.00"), 0, 0, D("0.00"), 0, D("0.00"), 0, 0, 0, 0)
    assert [(row["group"], figures(row)) for row in everyone] == [("Branch B", BRANCH), ("Branch F", far)]


def test_an_agent_sees_their_own_figures_only(book, make):
    agent = make.user(Role.AGENT, agent_id=book.a2.id)
    assert [(row["group"], figures(row)) for row in table_rows(run(agent), "sales")] == [("Agent Two", A2)]


def test_a_day_and_a_month(book):
    wednesday = table_rows(run(book.manager, period="day", day="2026-11-25"), "total")
    # o3 created (300.00), o2 won (2500.50)
    assert [figures(row) for row in wednesday] == [(1, D("300.00"), 0, 1, D("2500.50"), 0, D("0.00"), 0, 0, 0, 0)]
    november = table_rows(run(book.manager, period="month", day="2026-11-02"), "total")
    # the month adds o2 (created on the 20th), o4 (the 22nd), the activities planned on the 21st and the 22nd
    # (done or not, they were planned) and c3's contact (the 22nd)
    assert [figures(row) for row in november] == [(4, D("3850.50"), 1, 1, D("2500.50"), 1, D("300.00"), 4, 2, 3, 1)]
    december = table_rows(run(book.manager, period="month", day="2026-12-01"), "total")
    # a3's activity done on 1 December 00:10 local, nothing else
    assert [figures(row) for row in december] == [(0, D("0.00"), 0, 0, D("0.00"), 0, D("0.00"), 0, 1, 0, 0)]


def test_periods_and_the_last_closed_one():
    assert period_bounds("week", date(2026, 11, 29)) == (date(2026, 11, 23), date(2026, 11, 29))
    assert period_bounds("month", date(2024, 2, 10)) == (date(2024, 2, 1), date(2024, 2, 29))
    assert last_closed("day", date(2026, 12, 1)) == (date(2026, 11, 30), date(2026, 11, 30))
    assert last_closed("week", date(2026, 12, 6)) == (date(2026, 11, 23), date(2026, 11, 29))
    assert last_closed("week", date(2026, 11, 30)) == (date(2026, 11, 23), date(2026, 11, 29))
    assert last_closed("month", date(2026, 12, 1)) == (date(2026, 11, 1), date(2026, 11, 30))
    assert last_closed("month", date(2026, 1, 31)) == (date(2025, 12, 1), date(2025, 12, 31))


def test_the_default_period_is_the_last_week_that_ended(book):
    result = sales(book.manager, SalesArgs().load({}), date(2026, 12, 2))
    assert [figures(row) for row in table_rows(result, "total")] == [BRANCH]
    assert "2026-11-23" in str(result.notes[0]) and "2026-11-29" in str(result.notes[0])


def test_bad_filters_are_refused_with_their_field():
    with pytest.raises(ma.ValidationError) as refused:
        SalesArgs().load({"period": "fortnight", "day": "2026-02-30", "group_by": "planet"})
    assert set(refused.value.messages) == {"period", "day", "group_by"}


def test_the_page_the_api_and_the_pdf_show_the_same_figures(book, web, api):
    page = web(book.manager).get("/reports/sales?period=week&day=2026-11-25")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Agent One" in text and "2,500.50" in text and "Agent Far" not in text
    body = api(book.manager).get("/api/v1/reports/sales?period=week&day=2026-11-25&table=total")
    assert body.status_code == 200, body.json
    assert body.json["rows"][0]["won_premium"] == "2500.50"
    assert body.json["rows"][0]["renewals_worked"] == 2
    refused = web(book.manager).get("/reports/sales?period=year")
    assert refused.status_code == 422
    assert "sales" in REPORTS and Role.AGENT in REPORTS["sales"].roles


def test_instants_at_the_edges_of_the_local_week(book, session):
    # the week begins at 2026-11-22 16:00 UTC (Monday 00:00 in Shanghai): a second before is the week before
    edge = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
    s = session.get(Opportunity, session.query(Opportunity.id).filter_by(title="o1").scalar())
    s.created_at = edge - timedelta(seconds=1)
    session.commit()
    assert table_rows(run(book.manager), "total")[0]["new_opportunities"] == 1
    s.created_at = edge
    session.commit()
    assert table_rows(run(book.manager), "total")[0]["new_opportunities"] == 2
