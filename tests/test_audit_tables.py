"""Everything users change is audited: each table, through the API and through the admin pages, with the actor,
the time and the values before and after. A login is not a change."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from agents.models import AgentChannel, AgentStatus
from insurecrm import clock
from insurecrm.auth import authenticate
from insurecrm.models import AuditLog, Role, User
from insurecrm.passwords import hash_password
from tests.api_client import csrf_token
from tests.factories import PASSWORD


def entries(session, entity_type: str, entity_id: int) -> list[AuditLog]:
    return list(session.scalars(select(AuditLog).where(AuditLog.entity_type == entity_type,
                                                       AuditLog.entity_id == entity_id).order_by(AuditLog.id)))


def assert_entry(row: AuditLog, action: str, actor: User, changes: dict) -> None:
    """``row`` is ``action`` by ``actor`` just now, and records at least ``changes`` ({field: [before, after]})."""
    assert (row.action, row.actor_user_id, row.actor_label) == (action, actor.id, actor.username)
    assert abs(row.occurred_at - clock.now()) < timedelta(minutes=1)
    assert {field: row.changes.get(field) for field in changes} == changes


@pytest.fixture
def admin(make):
    return make.user(Role.ADMIN, username="chief")


# -- through the API ---------------------------------------------------------------------------------------

def test_product_create_update_delete(api, admin, session):
    client = api(admin)
    created = client.post("/api/v1/products", json={
        "code": "HEALTH-9", "name": "Health Nine", "line": "health", "term_months": 12, "frequencies": ["annual"],
        "first_year_commission_rate": "0.2000"})
    assert created.status_code == 201, created.json
    product_id = created.json["id"]
    assert client.patch(f"/api/v1/products/{product_id}", json={"grace_period_days": 30,
                                                                "max_renewal_discount": "0.0500"}).status_code == 200
    assert client.delete(f"/api/v1/products/{product_id}").status_code == 204
    create, update, delete = entries(session, "products", product_id)
    assert_entry(create, "create", admin, {"code": [None, "HEALTH-9"], "first_year_commission_rate": [None, "0.2000"]})
    assert_entry(update, "update", admin, {"grace_period_days": [60, 30], "max_renewal_discount": ["0.1000", "0.0500"]})
    assert set(update.changes) == {"grace_period_days", "max_renewal_discount"}
    assert_entry(delete, "delete", admin, {"code": ["HEALTH-9", None], "grace_period_days": [30, None]})


def test_pipeline_stage_create_and_update(api, admin, session):
    client = api(admin)
    created = client.post("/api/v1/pipeline-stages", json={"code": "demo", "name": "Demonstration", "position": 6,
                                                           "probability": "60"})
    assert created.status_code == 201, created.json
    stage_id = created.json["id"]
    assert client.patch(f"/api/v1/pipeline-stages/{stage_id}", json={"probability": "65", "name": "Demo"}
                        ).status_code == 200
    create, update = entries(session, "pipeline_stages", stage_id)
    assert_entry(create, "create", admin, {"code": [None, "demo"], "probability": [None, "60.0000"]})
    assert_entry(update, "update", admin, {"probability": ["60.0000", "65.0000"], "name": ["Demonstration", "Demo"]})


def test_org_unit_create_rename_and_move(api, admin, make, session):
    company = make.org_unit()
    north, south = make.org_unit(company), make.org_unit(company)
    client = api(admin)
    created = client.post("/api/v1/org-units", json={"code": "TEAM-1", "name": "Team 1", "kind": "team",
                                                     "parent_id": north.id})
    assert created.status_code == 201, created.json
    unit_id = created.json["id"]
    assert client.patch(f"/api/v1/org-units/{unit_id}", json={"name": "Team One", "parent_id": south.id}
                        ).status_code == 200
    create, rename, move = entries(session, "org_units", unit_id)  # the service renames, then moves the subtree
    assert_entry(create, "create", admin, {"code": [None, "TEAM-1"], "parent_id": [None, north.id]})
    assert "path" not in create.changes  # derived from the parent
    assert_entry(rename, "update", admin, {"name": ["Team 1", "Team One"]})
    assert move.changes == {"parent_id": [north.id, south.id]}


def test_agent_create_update_and_bank_partners(api, admin, make, session):
    branch = make.org_unit(make.org_unit())
    harbour, river = make.bank_partner(), make.bank_partner()
    client = api(admin)
    created = client.post("/api/v1/agents", json={"code": "A-77", "name": "Li Na", "org_unit_id": branch.id,
                                                  "channel": "bancassurance", "hire_date": "2026-01-05",
                                                  "bank_partner_ids": [harbour.id]})
    assert created.status_code == 201, created.json
    agent_id = created.json["id"]
    assert client.patch(f"/api/v1/agents/{agent_id}", json={"status": "suspended",
                                                            "bank_partner_ids": [harbour.id, river.id]}
                        ).status_code == 200
    create, update = entries(session, "agents", agent_id)
    assert_entry(create, "create", admin, {"code": [None, "A-77"], "channel": [None, AgentChannel.BANCASSURANCE.value],
                                           "bank_partner_ids": [None, [harbour.id]]})
    assert_entry(update, "update", admin, {"status": ["active", AgentStatus.SUSPENDED.value],
                                           "bank_partner_ids": [[harbour.id], sorted([harbour.id, river.id])]})


def test_bank_partner_branch_and_referrer(api, admin, make, session):
    unit = make.org_unit()
    client = api(admin)
    partner = client.post("/api/v1/bank-partners", json={"code": "HARBOUR", "name": "Harbour Bank",
                                                         "commission_rate": "0.0200"}).json
    branch = client.post("/api/v1/bank-branches", json={"code": "HB-1", "name": "Pier Road",
                                                        "bank_partner_id": partner["id"]}).json
    referrer = client.post("/api/v1/referrers", json={"code": "R-1", "name": "Rui",
                                                     "bank_branch_id": branch["id"]}).json
    assert client.patch(f"/api/v1/bank-partners/{partner['id']}", json={"commission_rate": "0.0250"}).status_code == 200
    assert client.patch(f"/api/v1/bank-branches/{branch['id']}", json={"org_unit_id": unit.id}).status_code == 200
    assert client.patch(f"/api/v1/referrers/{referrer['id']}", json={"status": "ended"}).status_code == 200

    partner_rows = entries(session, "bank_partners", partner["id"])
    assert_entry(partner_rows[0], "create", admin, {"commission_rate": [None, "0.0200"]})
    assert_entry(partner_rows[1], "update", admin, {"commission_rate": ["0.0200", "0.0250"]})
    branch_rows = entries(session, "bank_branches", branch["id"])
    assert_entry(branch_rows[0], "create", admin, {"bank_partner_id": [None, partner["id"]]})
    assert_entry(branch_rows[1], "update", admin, {"org_unit_id": [None, unit.id]})
    referrer_rows = entries(session, "referrers", referrer["id"])
    assert_entry(referrer_rows[0], "create", admin, {"name": [None, "Rui"]})
    assert_entry(referrer_rows[1], "update", admin, {"status": ["active", "ended"]})


def test_referral_worked_by_a_specialist(api, admin, make, session):
    referral = make.referral(make.referrer())
    assert api(admin).patch(f"/api/v1/referrals/{referral.id}", json={
        "status": "rejected", "rejection_reason": "Already insured"}).status_code == 200
    [*_created, update] = entries(session, "referrals", referral.id)
    assert_entry(update, "update", admin, {"status": ["submitted", "rejected"],
                                           "rejection_reason": [None, "Already insured"]})


def test_service_request_cost_and_resolution(api, admin, make, session):
    holder = make.policyholder()
    client = api(admin)
    created = client.post("/api/v1/service-requests", json={"policyholder_id": holder.id, "kind": "complaint",
                                                            "category": "claim", "subject": "Slow claim"})
    assert created.status_code == 201, created.json
    request_id = created.json["id"]
    assert client.patch(f"/api/v1/service-requests/{request_id}", json={
        "status": "resolved", "resolution": "Paid with apologies", "cost": "150.00"}).status_code == 200
    create, update = entries(session, "service_requests", request_id)
    assert_entry(create, "create", admin, {"kind": [None, "complaint"], "subject": [None, "Slow claim"]})
    assert_entry(update, "update", admin, {"status": ["open", "resolved"], "resolution": [None, "Paid with apologies"],
                                           "cost": ["0.00", "150.00"]})
    assert update.changes["resolved_at"][0] is None and update.changes["resolved_at"][1]


# -- through the pages -------------------------------------------------------------------------------------

def post(client, path: str, data: dict):
    response = client.post(path, data={"csrf_token": csrf_token(client), **data})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response


def test_admin_pages_are_audited(web, admin, make, session):
    client = web(admin)
    product = make.product(code="MOTOR-1", name="Motor")
    post(client, f"/admin/products/{product.id}", {
        "code": "MOTOR-1", "name": "Motor cover", "line": "motor", "term_months": "12", "frequencies": ["annual"],
        "grace_period_days": "30", "renewable__present": "1", "active": "true", "active__present": "1"})
    partner = make.bank_partner(code="RIVER", name="River Bank")
    post(client, f"/admin/bank-partners/{partner.id}", {"code": "RIVER", "name": "River Bank", "status": "suspended"})
    post(client, "/admin/org-units/new", {"code": "TEAM-7", "name": "Team 7", "kind": "team",
                                          "parent_id": str(make.org_unit().id)})

    [*_, update] = entries(session, "products", product.id)
    assert_entry(update, "update", admin, {"name": ["Motor", "Motor cover"], "grace_period_days": [60, 30],
                                           "renewable": [True, False]})
    [*_, update] = entries(session, "bank_partners", partner.id)
    assert_entry(update, "update", admin, {"status": ["active", "suspended"]})
    created = session.scalar(select(AuditLog).where(AuditLog.entity_type == "org_units", AuditLog.action == "create")
                             .order_by(AuditLog.id.desc()).limit(1))
    assert_entry(created, "create", admin, {"code": [None, "TEAM-7"]})


def test_service_request_resolved_on_its_page(web, make, session):
    agent = make.agent()
    user = make.user(Role.AGENT, agent_id=agent.id)
    holder = make.policyholder(agent)
    client = web(user)
    post(client, f"/policyholders/{holder.id}/service-requests", {
        "kind": "service", "category": "enquiry", "subject": "Change of address", "priority": "normal"})
    request_id = session.scalar(select(AuditLog.entity_id).where(AuditLog.entity_type == "service_requests",
                                                                 AuditLog.action == "create"))
    post(client, f"/service-requests/{request_id}/resolve", {"status": "resolved", "resolution": "Updated",
                                                             "cost": "12.50"})
    create, update = entries(session, "service_requests", request_id)
    assert_entry(create, "create", user, {"subject": [None, "Change of address"]})
    assert_entry(update, "update", user, {"resolution": [None, "Updated"], "cost": ["0.00", "12.50"]})


# -- what is not a change ----------------------------------------------------------------------------------

def test_a_login_is_not_a_change(api, client, make, session):
    user = make.user(Role.AGENT, agent_id=make.agent().id, username="nina")
    before = len(entries(session, "users", user.id))
    assert client.post("/api/v1/auth/token", json={"username": "nina", "password": PASSWORD}).status_code == 201
    page = client.post("/login", data={"csrf_token": csrf_token(client), "username": "nina", "password": PASSWORD})
    assert page.status_code == 302
    session.expire_all()
    assert user.last_login_at is not None
    assert len(entries(session, "users", user.id)) == before


def test_a_password_rehashed_on_login_is_not_a_change(make, session, monkeypatch):
    user = make.user(Role.AGENT, agent_id=make.agent().id, username="olga")
    before = len(entries(session, "users", user.id))
    monkeypatch.setattr("insurecrm.auth.needs_rehash", lambda _hash: True)
    assert authenticate("olga", PASSWORD) is user
    session.commit()
    assert len(entries(session, "users", user.id)) == before
    # a password an admin sets is a change, and still only ever "***"
    user.password_hash = hash_password("another long secret")
    session.commit()
    [*_, update] = entries(session, "users", user.id)
    assert update.changes == {"password_hash": ["***", "***"]}
