"""The renewal pages: the worklist with its actions in place and approval queue, the board's reassignment form,
who may open what (403/404), and a fixed number of queries."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from policies import renewals
from policies.models import Policy, RenewalCase, RenewalStatus
from policies.models.approvals import ApprovalStatus, RenewalDiscountApproval
from policyholders.models import Interaction
from tests.api_client import csrf_token
from tests.helpers import counted_queries
from tests.renewals.conftest import TODAY


def post(client, url, **data):
    return client.post(url, data={"csrf_token": csrf_token(client), **data})


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def cases(org, renewal_case):
    return {"mine": renewal_case(paid=False), "colleague": renewal_case(org.colleague),
            "foreign": renewal_case(org.other_agent)}


def test_who_opens_which_page(web, org, cases, client):
    for user, worklist, board in ((org.agent_user, 200, 403), (org.specialist_user, 200, 403), (org.manager, 200, 200),
                                  (org.admin, 200, 200), (org.actuary, 403, 403), (org.referrer, 403, 403)):
        session_client = web(user)
        assert session_client.get("/renewals").status_code == worklist, user
        assert session_client.get("/renewals/board").status_code == board, user
        assert session_client.get("/renewals/board.csv").status_code == board, user
    assert client.get("/renewals").status_code == 302  # to the login page


def test_the_worklist_shows_the_users_cases_with_their_figures(web, org, cases):
    html = web(org.agent_user).get("/renewals").get_data(as_text=True)
    mine = cases["mine"]
    assert mine.policy.number in html and "Missed payments" in html and "CN¥1,000.00" in html
    assert '<td class="num" data-label="Days left">28</td>' in html  # days left
    assert cases["colleague"].policy.number not in html and cases["foreign"].policy.number not in html
    assert "Discounts waiting for your approval" not in html
    manager = web(org.manager).get("/renewals").get_data(as_text=True)
    assert cases["colleague"].policy.number in manager and cases["foreign"].policy.number not in manager
    assert "Discounts waiting for your approval" in manager
    at_risk_only = web(org.manager).get("/renewals?at_risk=true").get_data(as_text=True)
    assert mine.policy.number in at_risk_only and cases["colleague"].policy.number not in at_risk_only
    assert web(org.manager).get("/renewals?status=nope").status_code == 422


def test_actions_in_place(web, org, cases, session):
    client, case = web(org.agent_user), cases["mine"]
    response = post(client, f"/renewals/{case.id}/contacts?due_within=30", version=1, channel="phone",
                    summary="Called about the renewal")
    assert response.status_code == 302 and response.headers["Location"].endswith("/renewals?due_within=30")
    assert "Contact logged." in client.get("/renewals").get_data(as_text=True)
    assert post(client, f"/renewals/{case.id}/quote", version=2, premium="950.00").status_code == 302
    assert post(client, f"/renewals/{case.id}/renew", version=3, premium="950.00").status_code == 302
    session.expire_all()
    renewed = session.get(RenewalCase, case.id)
    assert renewed.status == RenewalStatus.RENEWED
    assert session.get(Policy, renewed.renewing_policy_id).premium == Decimal("950.00")
    other = cases["colleague"]
    assert post(web(org.colleague_user), f"/renewals/{other.id}/lose", version=1, reason="moved_away",
                note="").status_code == 302
    session.expire_all()
    assert session.get(RenewalCase, other.id).lost_reason == "moved_away"


def test_refused_actions_show_the_messages_and_write_nothing(web, org, cases, session):
    client, case = web(org.agent_user), cases["mine"]
    response = post(client, f"/renewals/{case.id}/quote", version=1, premium="12.345")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Use at most 2 decimal places." in html
    assert f'id="quote-{case.id}-premium"' in html and 'aria-invalid="true"' in html
    response = post(client, f"/renewals/{case.id}/lose", version=1, reason="other", note=" ")
    assert response.status_code == 422 and "Say why the renewal was lost." in response.get_data(as_text=True)
    response = post(client, f"/renewals/{case.id}/renew", version=1, premium="500.00")
    assert response.status_code == 422 and "exceeds the product" in response.get_data(as_text=True)
    response = post(client, f"/renewals/{case.id}/contacts", version=0, channel="phone", summary="x")
    assert response.status_code == 409 and "Someone changed" in response.get_data(as_text=True)
    assert post(client, f"/renewals/{cases['foreign'].id}/contacts", version=1, channel="phone",
                summary="x").status_code == 404
    assert post(web(org.actuary), f"/renewals/{case.id}/contacts", version=1, channel="phone",
                summary="x").status_code == 403
    session.expire_all()
    assert session.get(RenewalCase, case.id).status == RenewalStatus.OPEN
    assert (count(session, Interaction), count(session, RenewalDiscountApproval)) == (0, 0)


def test_the_approval_queue_on_the_worklist(web, org, cases, session):
    case = cases["mine"]
    agent = web(org.agent_user)
    assert post(agent, f"/renewals/{case.id}/quote", version=1, premium="600.00").status_code == 302
    html = agent.get("/renewals").get_data(as_text=True)
    assert "waits for the branch manager" in html and "awaiting approval" in html
    approval = session.scalar(select(RenewalDiscountApproval))
    manager = web(org.manager)
    html = manager.get("/renewals").get_data(as_text=True)
    assert f"/renewal-approvals/{approval.id}/approve" in html and "40.0%" in html
    assert post(web(org.agent_user), f"/renewal-approvals/{approval.id}/approve").status_code == 403
    assert post(web(org.sibling_manager), f"/renewal-approvals/{approval.id}/approve").status_code == 404
    assert post(manager, f"/renewal-approvals/{approval.id}/approve", version=approval.version,
                note="Long-standing customer").status_code == 302
    session.expire_all()
    assert session.get(RenewalDiscountApproval, approval.id).status == ApprovalStatus.APPROVED
    assert session.get(RenewalCase, case.id).quoted_premium == Decimal("600.00")
    response = post(manager, f"/renewal-approvals/{approval.id}/reject")
    assert response.status_code == 422 and "only a pending one" in response.get_data(as_text=True)


def test_a_rejection_from_the_page(web, org, cases, session):
    approval = renewals.quote(cases["mine"], premium=Decimal("600.00"), actor=org.agent_user)
    session.commit()
    assert post(web(org.admin), f"/renewal-approvals/{approval.id}/reject", note="No").status_code == 302
    session.expire_all()
    assert session.get(RenewalDiscountApproval, approval.id).status == ApprovalStatus.REJECTED


def test_bulk_reassignment_from_the_board(web, org, cases, session):
    manager = web(org.manager)
    ids = [str(cases["mine"].id), str(cases["colleague"].id)]
    response = manager.post("/renewals/board/reassign?days=60", data={
        "csrf_token": csrf_token(manager), "case_ids": ids})
    assert response.status_code == 422 and 'id="reassign-agent_id-error"' in response.get_data(as_text=True)
    response = manager.post("/renewals/board/reassign?days=60", data={
        "csrf_token": csrf_token(manager), "case_ids": [*ids, str(cases["foreign"].id)],
        "agent_id": str(org.colleague.id)})
    assert response.status_code == 422 and "No such renewal case" in response.get_data(as_text=True)
    response = manager.post("/renewals/board/reassign", data={
        "csrf_token": csrf_token(manager), "case_ids": [ids[0], "x"], "agent_id": str(org.colleague.id)})
    assert response.status_code == 422 and "Not a valid integer." in response.get_data(as_text=True)
    response = manager.post("/renewals/board/reassign?days=60", data={
        "csrf_token": csrf_token(manager), "case_ids": ids, "agent_id": str(org.colleague.id)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/renewals/board?days=60")
    session.expire_all()
    assert {session.get(RenewalCase, int(i)).assigned_agent_id for i in ids} == {org.colleague.id}
    assert session.get(RenewalCase, cases["foreign"].id).assigned_agent_id == org.other_agent.id
    assert post(web(org.agent_user), "/renewals/board/reassign", case_ids=ids[0],
                agent_id=str(org.agent.id)).status_code == 403


def test_the_worklist_costs_the_same_queries_for_any_book(web, org, renewal_case, session):
    renewal_case()
    client = web(org.manager)
    with counted_queries() as few:
        assert client.get("/renewals").status_code == 200
    for day in range(1, 12):
        renewal_case(org.colleague if day % 2 else org.agent, paid=bool(day % 3),
                     expiry_date=TODAY + timedelta(days=day))
    renewals.quote(renewal_case(), premium=Decimal("500.00"), actor=org.agent_user)
    session.commit()
    with counted_queries() as many:
        assert client.get("/renewals").status_code == 200
    assert len(many) == len(few) <= 10
