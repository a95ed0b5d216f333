"""/api/v1/renewals and /api/v1/renewal-approvals: lists with risk flags, actions, 422/409/403/404, actuary."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from policies.models import Installment, InstallmentStatus, LostReason, Policy, RenewalCase, RenewalStatus
from policies.models.approvals import RenewalDiscountApproval
from policyholders.models import Interaction
from tests.renewals.conftest import TODAY


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json
    return [item["id"] for item in response.json["items"]]


def rows(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def book(org, renewal_case, make, session):
    """Cases of the branch and one of the sibling branch, with each risk flag once."""
    plain = renewal_case()
    unpaid = renewal_case(paid=False)  # its only installment fell due a year ago
    unreachable = renewal_case(org.colleague, holder=make.policyholder(owner=org.colleague, consent_email=False,
                                                                       consent_sms=True, phone=None))
    repriced = renewal_case(expiry_date=TODAY + timedelta(days=50), case_status=RenewalStatus.QUOTED)
    repriced.quoted_premium = Decimal("1150.01")
    lost = renewal_case(case_status=RenewalStatus.LOST)
    lost.lost_reason, lost.lost_note = LostReason.OTHER, "Moved to Hainan with the family"
    foreign = renewal_case(org.other_agent)
    session.commit()
    return dict(plain=plain, unpaid=unpaid, unreachable=unreachable, repriced=repriced, lost=lost, foreign=foreign)


def test_the_list_carries_the_risk_flags_and_the_scope(api, org, book):
    response = api(org.manager).get("/api/v1/renewals?per_page=100")
    by_id = {item["id"]: item for item in response.json["items"]}
    assert set(by_id) == {book[k].id for k in ("plain", "unpaid", "unreachable", "repriced", "lost")}
    assert {k: by_id[book[k].id]["risk"] for k in ("plain", "unpaid", "unreachable", "repriced")} == {
        "plain": {"premium_change": False, "no_reachable_channel": False, "missed_payments": False},
        "unpaid": {"premium_change": False, "no_reachable_channel": False, "missed_payments": True},
        "unreachable": {"premium_change": False, "no_reachable_channel": True, "missed_payments": False},
        "repriced": {"premium_change": True, "no_reachable_channel": False, "missed_payments": False},
    }
    repriced = by_id[book["repriced"].id]
    assert (repriced["at_risk"], repriced["premium_change"], repriced["days_left"], repriced["current_premium"]) == (
        True, "0.1500", 50, "1000.00")
    assert set(ids(api(org.agent_user).get("/api/v1/renewals"))) == {
        book[k].id for k in ("plain", "unpaid", "repriced", "lost")}
    assert set(ids(api(org.admin).get("/api/v1/renewals?per_page=100"))) >= {book["foreign"].id}


def test_list_filters(api, org, book):
    client = api(org.manager)
    assert set(ids(client.get("/api/v1/renewals?at_risk=true"))) == {
        book[k].id for k in ("unpaid", "unreachable", "repriced")}
    assert set(ids(client.get("/api/v1/renewals?at_risk=false"))) == {book["plain"].id, book["lost"].id}
    assert ids(client.get("/api/v1/renewals?status=lost")) == [book["lost"].id]
    assert set(ids(client.get("/api/v1/renewals?status=lost&status=quoted"))) == {book["lost"].id,
                                                                                  book["repriced"].id}
    due_to = (TODAY + timedelta(days=30)).isoformat()
    assert book["repriced"].id not in ids(client.get(f"/api/v1/renewals?due_to={due_to}"))
    assert ids(client.get(f"/api/v1/renewals?due_from={due_to}")) == [book["repriced"].id]
    assert ids(client.get(f"/api/v1/renewals?assigned_agent_id={org.colleague.id}")) == [book["unreachable"].id]
    assert len(ids(client.get(f"/api/v1/renewals?unit={org.team.id}"))) == 5
    assert ids(client.get(f"/api/v1/renewals?unit={org.sibling.id}")) == []  # another subtree stays hidden
    assert client.get("/api/v1/renewals?status=nope").status_code == 422
    assert client.get("/api/v1/renewals?sort=policyholder").status_code == 422


def test_one_case_and_scope(api, org, book):
    assert api(org.agent_user).get(f"/api/v1/renewals/{book['plain'].id}").json["version"] == 1
    assert api(org.agent_user).get(f"/api/v1/renewals/{book['foreign'].id}").status_code == 404
    assert api(org.colleague_user).get(f"/api/v1/renewals/{book['plain'].id}").status_code == 404
    assert api(org.sibling_manager).get(f"/api/v1/renewals/{book['plain'].id}").status_code == 404
    assert api(org.referrer).get("/api/v1/renewals").status_code == 403
    assert api(org.referrer).get("/api/v1/renewal-approvals").status_code == 403


def test_actions_through_the_api(api, org, book, session):
    client, case = api(org.agent_user), book["plain"]
    response = client.post(f"/api/v1/renewals/{case.id}/contacts",
                           json={"version": 1, "channel": "phone", "summary": "Called", "outcome": "Interested"})
    assert (response.status_code, response.json["status"], response.json["version"]) == (200, "contacted", 2)
    response = client.post(f"/api/v1/renewals/{case.id}/quote", json={"version": 2, "premium": "920.00"})
    assert (response.json["status"], response.json["quoted_premium"]) == ("quoted", "920.00")
    response = client.post(f"/api/v1/renewals/{case.id}/renew", json={"version": 3, "premium": "920.00"})
    assert response.json["status"] == "renewed"
    renewing = session.get(Policy, response.json["renewing_policy_id"])
    assert renewing.renews_policy_id == case.policy_id and renewing.effective_date == case.due_date
    lost = client.post(f"/api/v1/renewals/{book['unpaid'].id}/lose", json={"version": 1, "reason": "price"})
    assert (lost.json["status"], lost.json["lost_reason"]) == ("lost", "price")


def test_refusals_write_nothing(api, org, book, session):
    client, case = api(org.agent_user), book["plain"]
    before = (rows(session, Interaction), rows(session, Policy), rows(session, RenewalDiscountApproval))
    for path, body, field in (
        ("contacts", {"version": 1, "channel": "pigeon", "summary": "x"}, "channel"),
        ("contacts", {"version": 1, "channel": "phone"}, "summary"),
        ("quote", {"version": 1, "premium": "-5"}, "premium"),
        ("quote", {"version": 1, "premium": "900.001"}, "premium"),
        ("renew", {"version": 1, "premium": "500.00"}, "premium"),
        ("renew", {"version": 1, "premium": "1000.00", "effective_date": "2026-01-01"}, "effective_date"),
        ("lose", {"version": 1, "reason": "other"}, "note"),
        ("lose", {"reason": "price"}, "version"),
    ):
        response = client.post(f"/api/v1/renewals/{case.id}/{path}", json=body)
        assert response.status_code == 422 and field in response.json["errors"], (path, body, response.json)
    stale = client.post(f"/api/v1/renewals/{case.id}/lose", json={"version": 9, "reason": "price"})
    assert stale.status_code == 409
    closed = client.post(f"/api/v1/renewals/{book['lost'].id}/quote",
                         json={"version": book["lost"].version, "premium": "900.00"})
    assert closed.status_code == 422 and "status" in closed.json["errors"]
    assert client.post(f"/api/v1/renewals/{book['foreign'].id}/contacts",
                       json={"version": 1, "channel": "phone", "summary": "x"}).status_code == 404
    session.expire_all()
    assert session.get(RenewalCase, case.id).status == RenewalStatus.OPEN
    assert (rows(session, Interaction), rows(session, Policy), rows(session, RenewalDiscountApproval)) == before


def test_the_approval_queue(api, org, book, session):
    case = book["plain"]
    response = api(org.agent_user).post(f"/api/v1/renewals/{case.id}/quote", json={"version": 1, "premium": "700"})
    assert (response.json["status"], response.json["pending_approval_premium"]) == ("open", "700.00")
    queue = api(org.manager).get("/api/v1/renewal-approvals").json["items"]
    assert [(item["renewal_case_id"], item["discount"], item["status"]) for item in queue] == [
        (case.id, "0.3000", "pending")]
    approval_id = queue[0]["id"]
    assert api(org.agent_user).get(f"/api/v1/renewal-approvals/{approval_id}").status_code == 200
    assert api(org.colleague_user).get(f"/api/v1/renewal-approvals/{approval_id}").status_code == 404
    assert api(org.agent_user).post(f"/api/v1/renewal-approvals/{approval_id}/approve", json={}).status_code == 403
    assert api(org.sibling_manager).post(f"/api/v1/renewal-approvals/{approval_id}/approve",
                                         json={}).status_code == 404
    assert api(org.manager).post(f"/api/v1/renewal-approvals/{approval_id}/approve",
                                 json={"version": 0}).status_code == 409
    decided = api(org.manager).post(f"/api/v1/renewal-approvals/{approval_id}/approve", json={"note": "ok"})
    assert (decided.status_code, decided.json["status"], decided.json["decided_by_user_id"]) == (
        200, "approved", org.manager.id)
    assert api(org.manager).post(f"/api/v1/renewal-approvals/{approval_id}/reject", json={}).status_code == 422
    assert api(org.manager).get("/api/v1/renewal-approvals").json["items"] == []
    assert len(api(org.manager).get("/api/v1/renewal-approvals?status=approved").json["items"]) == 1
    assert api(org.agent_user).get(f"/api/v1/renewals/{case.id}").json["quoted_premium"] == "700.00"


def test_bulk_reassignment(api, org, book, session):
    body = {"case_ids": [book["plain"].id, book["unpaid"].id], "agent_id": org.colleague.id}
    assert api(org.agent_user).post("/api/v1/renewals/reassign", json=body).status_code == 403
    assert api(org.actuary).post("/api/v1/renewals/reassign", json=body).status_code == 403
    refused = api(org.manager).post("/api/v1/renewals/reassign",
                                    json={**body, "case_ids": [book["plain"].id, book["foreign"].id]})
    assert refused.status_code == 422 and "case_ids" in refused.json["errors"]
    response = api(org.manager).post("/api/v1/renewals/reassign", json=body)
    assert response.json == {"reassigned": 2}
    assert set(ids(api(org.colleague_user).get("/api/v1/renewals"))) >= {book["plain"].id, book["unpaid"].id}


def test_the_actuary_reads_pseudonymised_and_writes_nothing(api, org, book, session):
    actuary = api(org.actuary)
    listed = {item["id"]: item for item in actuary.get("/api/v1/renewals?per_page=100").json["items"]}
    assert book["foreign"].id in listed and listed[book["lost"].id]["lost_note"] is None
    assert "Hainan" not in actuary.get(f"/api/v1/renewals/{book['lost'].id}").get_data(as_text=True)
    assert "Hainan" in api(org.manager).get(f"/api/v1/renewals/{book['lost'].id}").get_data(as_text=True)
    for path, body in (("contacts", {"version": 1, "channel": "phone", "summary": "x"}),
                       ("quote", {"version": 1, "premium": "900"}), ("lose", {"version": 1, "reason": "price"})):
        assert actuary.post(f"/api/v1/renewals/{book['plain'].id}/{path}", json=body).status_code == 403
    assert rows(session, Interaction) == 0


def test_missed_payments_clear_when_paid(api, org, book, session):
    installment = session.scalar(select(Installment).where(Installment.policy_id == book["unpaid"].policy_id))
    installment.status, installment.paid_amount = InstallmentStatus.PAID, installment.amount
    session.commit()
    assert api(org.agent_user).get(f"/api/v1/renewals/{book['unpaid'].id}").json["at_risk"] is False
