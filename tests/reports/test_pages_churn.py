"""The churn warning on the agent's My day (their 10 highest scores, each reason linked to the record behind it, a
fixed number of queries) and on the report's page, in each reader's scope."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from insurecrm import clock
from insurecrm.db import db
from insurecrm.models import Role
from insurecrm.pii import pseudonym
from policies.models import PolicyStatus, RenewalStatus
from reports.models import ChurnReason, ChurnScore
from reports.tasks import churn_scores
from tests.helpers import counted_queries
from tests.reports.test_churn import at, claim, contact, renewal_case, request

NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # noon in Shanghai
TODAY = date(2026, 11, 20)


@pytest.fixture
def desk(make):
    """An agent with a login, their policyholder with every reason, and another agent's policyholder at risk."""
    unit = make.org_unit(make.org_unit(), name="North")
    agent, other = make.agent(unit), make.agent(unit)
    holder = make.policyholder(agent, name="Wang Fang")
    policy = make.policy(holder, status=PolicyStatus.GRACE, premium=Decimal("1000.00"))
    silent = renewal_case(make, policy, due=TODAY + timedelta(days=7), opened=TODAY - timedelta(days=53))
    risen = renewal_case(make, make.policy(holder, premium=Decimal("100.00")), due=TODAY + timedelta(days=55),
                         opened=TODAY - timedelta(days=5), status=RenewalStatus.QUOTED, quoted=Decimal("150.00"))
    complaint = request(make, holder, at(TODAY - timedelta(days=3)))
    rejected = claim(make, policy, TODAY - timedelta(days=30))
    for day in (TODAY - timedelta(days=300), TODAY - timedelta(days=250)):
        contact(make, holder, at(day))
    theirs = make.policyholder(other, name="Zhao Lei")
    make.policy(theirs, status=PolicyStatus.GRACE)
    churn_scores(TODAY)
    return SimpleNamespace(agent=agent, holder=holder, theirs=theirs, policy=policy, silent=silent, risen=risen,
                           complaint=complaint, claim=rejected, unit=unit,
                           user=make.user(Role.AGENT, agent_id=agent.id))


def my_day(client) -> str:
    with clock.frozen(NOW):
        response = client.get("/my-day")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def churn_section(html: str) -> str:
    return html[html.index('id="churn"'):html.index("</section>", html.index('id="churn"'))]


def listed(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-churn="(\d+)"', html)]


def test_my_day_lists_the_agents_own_warnings_with_each_reason_linked_to_its_record(web, desk):
    html = my_day(web(desk.user))
    section = churn_section(html)

    assert listed(section) == [desk.holder.id]  # not the other agent's policyholder
    assert "Zhao Lei" not in html and "Wang Fang" in section
    links = re.findall(r'<a href="([^"]+)">([^<]+)</a>', section.split("<tbody>")[1].split("</tbody>")[0])
    assert links == [
        (f"/policyholders/{desk.holder.id}", "Wang Fang"),
        (f"/renewals?status=open&amp;due_within=30#contact-{desk.silent.id}-title",
         "Renewal due within 30 days, not contacted"),
        (f"/policies/{desk.policy.id}", "Premium overdue (installment missed or policy in grace)"),
        (f"/service-requests/{desk.complaint.id}", "Complaint in the last 90 days"),
        (f"/claims/{desk.claim.id}", "Claim rejected in the last 180 days"),
        (f"/policyholders/{desk.holder.id}", "Fewer contacts than in the six months before"),
        (f"/renewals#contact-{desk.risen.id}-title", "Renewal quoted more than 10% above the premium"),
    ]
    assert re.search(r'class="num">100</td>', section)
    assert "<strong>1</strong> policyholders at risk of leaving" in html


def test_the_link_to_the_whole_list_is_for_those_who_may_run_the_report(web, make, desk):
    assert 'href="/reports/churn"' in my_day(web(desk.user))
    specialist = make.user(Role.BANCASSURANCE_SPECIALIST, agent_id=desk.agent.id)
    assert 'href="/reports/churn"' not in my_day(web(specialist))  # the report is not theirs (403)
    assert web(specialist).get("/reports/churn").status_code == 403


def test_each_reasons_link_opens_for_the_agent(web, desk):
    client = web(desk.user)
    section = churn_section(my_day(client))
    for url in re.findall(r'<a href="([^"]+)">', section.split("<tbody>")[1].split("</tbody>")[0]):
        with clock.frozen(NOW):
            assert client.get(url.replace("&amp;", "&").split("#")[0]).status_code == 200, url
    assert f'id="contact-{desk.silent.id}-title"' in client.get("/renewals?status=open&due_within=30").text


def scored(make, agent, scores: list[int]) -> list:
    """Policyholders of ``agent`` with stored scores (a complaint reason behind each score above 0)."""
    holders = []
    for score in scores:
        holder = make.policyholder(agent)
        db.session.add(ChurnScore(policyholder_id=holder.id, scored_on=TODAY, score=score))
        if score:
            db.session.add(ChurnReason(policyholder_id=holder.id, code="complaint", weight=score, record_id=1))
        holders.append(holder)
    db.session.commit()
    return holders


def test_my_day_shows_the_ten_highest_scores_of_the_book(web, make, desk):
    scores = [5, 60, 15, 0, 35, 45, 10, 55, 20, 40, 30, 50, 25]
    holders = scored(make, desk.agent, scores)
    ranked = [holder.id for score, holder in sorted(zip(scores, holders, strict=True), key=lambda pair: -pair[0])]
    html = my_day(web(desk.user))
    assert listed(churn_section(html)) == [desk.holder.id, *ranked[:9]]  # 100, then 60, 55, 50, ... 25
    assert "<strong>13</strong> policyholders at risk of leaving" in html  # twelve above 0, and Wang Fang
    assert "Showing 10 of 13." in churn_section(html)


def test_my_day_says_so_when_nobody_is_at_risk(web, make):
    agent = make.agent()
    scored(make, agent, [0])
    html = my_day(web(make.user(Role.AGENT, agent_id=agent.id)))
    assert "No policyholder at risk." in churn_section(html)


def test_my_day_runs_the_same_number_of_queries_with_more_warnings(web, make, desk):
    client = web(desk.user)
    my_day(client)  # a first request, so that both counted ones start alike
    counted = []
    for size in (2, 30):
        scored(make, desk.agent, [n % 90 + 1 for n in range(size)])
        db.session.expunge_all()
        with counted_queries() as queries:
            html = my_day(client)
        counted.append(len(queries))
    assert len(listed(churn_section(html))) == 10
    assert counted[0] == counted[1]


# -- the report's page ------------------------------------------------------------------------------------------

def test_the_report_page_shows_each_reader_their_scope(web, make, desk):
    def page(user) -> str:
        with clock.frozen(NOW):
            response = web(user).get("/reports/churn")
        assert response.status_code == 200
        return response.get_data(as_text=True)

    mine = page(desk.user)
    assert "Wang Fang" in mine and "Zhao Lei" not in mine
    assert "Premium overdue (installment missed or policy in grace)" in mine

    other_branch = make.org_unit(make.org_unit(), name="South")
    make.policy(make.policyholder(make.agent(other_branch), name="Li Lei"), status=PolicyStatus.GRACE)
    churn_scores(TODAY + timedelta(days=1))
    manager = page(make.user(Role.BRANCH_MANAGER, org_unit_id=desk.unit.id))
    assert "Wang Fang" in manager and "Zhao Lei" in manager and "Li Lei" not in manager

    actuary = page(make.user(Role.ACTUARY))
    assert pseudonym("policyholder", desk.holder.id) in actuary
    assert not any(name in actuary for name in ("Wang Fang", "Zhao Lei", "Li Lei"))


def test_the_api_serves_the_same_rows_in_each_readers_scope(api, make, desk):
    with clock.frozen(NOW):
        mine = api(desk.user).get("/api/v1/reports/churn").json
        actuary = api(make.user(Role.ACTUARY)).get("/api/v1/reports/churn").json
        refused = api(make.user(Role.BANK_REFERRER)).get("/api/v1/reports/churn")
        bad = api(desk.user).get("/api/v1/reports/churn?min_score=101&reason=bored")
    assert [c["key"] for c in mine["columns"]] == ["policyholder", "score", "reasons", "agent", "scored_on"]
    assert [(r["policyholder"], r["score"], r["scored_on"]) for r in mine["rows"]] == [("Wang Fang", 100, "2026-11-20")]
    assert [r["policyholder"] for r in actuary["rows"]] == [pseudonym("policyholder", desk.holder.id),
                                                          pseudonym("policyholder", desk.theirs.id)]
    assert "Wang Fang" not in str(actuary) and "Zhao Lei" not in str(actuary)
    assert refused.status_code == 403
    assert bad.status_code == 422 and set(bad.json["errors"]) == {"min_score", "reason"}
