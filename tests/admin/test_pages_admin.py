"""Admin pages: admins only; every list and form renders; forms write through the API's schemas and services."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from agents.models import Agent, AgentChannel, BankBranch, BankPartner, OrgUnit, Referrer
from insurecrm.db import db
from insurecrm.models import Role, User
from insurecrm.passwords import verify_password
from policies.models import Product
from tests.api_client import csrf_token

LISTS = ["users", "org-units", "agents", "products", "bank-partners", "bank-branches", "referrers"]


@pytest.fixture
def admin(web, make):
    return web(make.user(Role.ADMIN))


@pytest.fixture
def world(make):
    """One of everything, so that every list and form has something to show."""
    company = make.org_unit(name="Company")
    branch = make.org_unit(company, name="Branch North")
    partner = make.bank_partner(name="Harbour Bank")
    bank_branch = make.bank_branch(partner, branch, name="Harbour Bank Pier Road")
    specialist = make.agent(branch, name="Sam Specialist", channel=AgentChannel.BANCASSURANCE)
    specialist.bank_partners = [partner]
    make.referrer(bank_branch, name="Rita Referrer", phone="+8613900000009")
    make.product(code="HEALTH-1", name="Health Plus")
    make.user(Role.AGENT, agent_id=specialist.id, username="sam")
    db.session.commit()
    return {"company": company, "branch": branch, "partner": partner, "specialist": specialist}


def post(client, path: str, data: dict):
    return client.post(path, data={"csrf_token": csrf_token(client), **data})


def total(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("role", [Role.BRANCH_MANAGER, Role.AGENT, Role.ACTUARY, Role.BANK_REFERRER,
                                  Role.BANCASSURANCE_SPECIALIST])
def test_only_admins(web, make, role):
    client = web(make.user(role))
    assert client.get("/admin").status_code == 403
    for path in LISTS:
        assert client.get(f"/admin/{path}").status_code == 403
        assert client.get(f"/admin/{path}/new").status_code == 403
    assert post(client, "/admin/products/new", {"code": "NOPE", "name": "No"}).status_code == 403
    assert total(Product) == 0


def test_anonymous_goes_to_login(client):
    assert client.get("/admin/products").status_code == 302


@pytest.mark.parametrize("path", LISTS)
def test_lists_and_forms_render(admin, world, path):
    page = admin.get(f"/admin/{path}")
    assert page.status_code == 200
    assert '<div class="table-wrap">' in page.get_data(as_text=True)
    assert admin.get(f"/admin/{path}/new").status_code == 200
    edits = re.findall(rf'href="/admin/{path}/(\d+)"', page.get_data(as_text=True))
    assert edits
    assert admin.get(f"/admin/{path}/{edits[0]}").status_code == 200


def test_index_links_every_section(admin):
    html = admin.get("/admin").get_data(as_text=True)
    for path in LISTS:
        assert f'href="/admin/{path}"' in html


def test_org_tree_is_indented_in_tree_order(admin, world, make):
    make.org_unit(world["branch"], name="Team Harbour")
    html = admin.get("/admin/org-units").get_data(as_text=True)
    assert html.index("Company") < html.index("Branch North") < html.index("Team Harbour")
    assert "padding-left:3.5em" in html  # the team sits two levels down


def test_filters_narrow_the_list(admin, world):
    html = admin.get("/admin/agents?channel=bancassurance&q=Sam").get_data(as_text=True)
    assert "Sam Specialist" in html and "Harbour Bank" in html
    assert "Sam Specialist" not in admin.get("/admin/agents?channel=agency").get_data(as_text=True)
    assert admin.get("/admin/agents?channel=nonsense").status_code == 422


PRODUCT = {"code": "LIFE-20", "name": "Term life 20", "line": "life", "term_months": "240",
           "frequencies": ["annual", "monthly"], "first_year_commission_rate": "0.3500",
           "renewal_commission_rate": "0.0500", "bank_share_rate": "0", "max_renewal_discount": "0.1",
           "grace_period_days": "60", "cooling_off_days": "20", "renewable__present": "1",
           "callback_required": "true", "callback_required__present": "1", "active": "true", "active__present": "1"}


def test_create_product(admin):
    response = post(admin, "/admin/products/new", PRODUCT)
    assert response.status_code == 302 and response.headers["Location"] == "/admin/products"
    product = db.session.scalar(select(Product).where(Product.code == "LIFE-20"))
    assert product.frequencies == ["annual", "monthly"] and product.term_months == 240
    assert product.first_year_commission_rate == Decimal("0.35") and product.cooling_off_days == 20
    assert product.callback_required and not product.renewable and product.active
    assert "LIFE-20 created." in admin.get("/admin/products").get_data(as_text=True)


def test_bad_product_is_422_with_messages_and_nothing_written(admin):
    response = post(admin, "/admin/products/new", {**PRODUCT, "code": "bad code", "first_year_commission_rate": "2",
                                                   "frequencies": []})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Use 2–32 capitals, digits" in html  # the API schema's own message, next to the field
    assert 'id="f-code-error"' in html and 'aria-invalid="true"' in html
    assert 'id="f-first_year_commission_rate-error"' in html and 'id="f-frequencies-error"' in html
    assert 'value="Term life 20"' in html  # what was typed is kept
    assert total(Product) == 0


def test_duplicate_code_is_the_services_422(admin, make):
    make.product(code="LIFE-20")
    response = post(admin, "/admin/products/new", PRODUCT)
    assert response.status_code == 422
    assert "A product with code LIFE-20 already exists." in response.get_data(as_text=True)
    assert total(Product) == 1


def test_edit_product_terms(admin, make):
    product = make.product(code="MOTOR-1", frequencies=["annual"], renewable=True)
    form = {"code": "MOTOR-1", "name": "Motor", "line": "motor", "term_months": "12", "frequencies": ["annual",
            "quarterly"], "grace_period_days": "30", "renewable__present": "1", "active__present": "1"}
    assert post(admin, f"/admin/products/{product.id}", form).status_code == 302
    db.session.refresh(product)
    assert product.frequencies == ["annual", "quarterly"] and product.grace_period_days == 30
    assert not product.renewable and not product.active


def test_create_user_linked_to_an_agent(admin, make):
    agent = make.agent(name="Ann Agent")
    response = post(admin, "/admin/users/new", {"username": "ann", "display_name": "Ann", "role": "agent",
                                                "agent_id": str(agent.id), "password": "a long enough secret",
                                                "preferred_language": "zh", "active": "true",
                                                "active__present": "1"})
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.username == "ann"))
    assert user.role == Role.AGENT and user.agent_id == agent.id and user.preferred_language == "zh"
    assert verify_password(user.password_hash, "a long enough secret")


def test_user_without_the_link_its_role_needs_is_422(admin, make):
    before = total(User)
    form = {"username": "bob", "display_name": "Bob", "role": "branch_manager", "password": "a long enough secret"}
    response = post(admin, "/admin/users/new", form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Required for the role branch_manager." in html and 'id="f-org_unit_id-error"' in html
    assert "a long enough secret" not in html  # a password is never sent back
    short = post(admin, "/admin/users/new", {**form, "password": "short"})
    assert short.status_code == 422 and 'id="f-password-error"' in short.get_data(as_text=True)
    assert total(User) == before


def test_change_role_and_links(admin, world, make):
    user = db.session.scalar(select(User).where(User.username == "sam"))
    form = {"display_name": "Sam", "role": "branch_manager", "org_unit_id": str(world["branch"].id),
            "agent_id": "", "referrer_id": "", "email": "", "active__present": "1"}
    assert post(admin, f"/admin/users/{user.id}", form).status_code == 302
    db.session.refresh(user)
    assert user.role == Role.BRANCH_MANAGER and user.agent_id is None and user.org_unit_id == world["branch"].id
    assert not user.active


def test_reset_password(admin, make):
    user = make.user(Role.AGENT, agent_id=make.agent().id)
    assert post(admin, f"/admin/users/{user.id}/password", {"password": "too short"}).status_code == 422
    assert post(admin, f"/admin/users/{user.id}/password", {"password": "a brand new secret"}).status_code == 302
    db.session.refresh(user)
    assert verify_password(user.password_hash, "a brand new secret")


def test_create_and_move_org_unit(admin, world):
    assert post(admin, "/admin/org-units/new", {"code": "TEAM-7", "name": "Team 7", "kind": "team",
                                                "parent_id": str(world["branch"].id)}).status_code == 302
    team = db.session.scalar(select(OrgUnit).where(OrgUnit.code == "TEAM-7"))
    assert team.path == f"{world['branch'].path}{team.id}/"
    form = {"code": "TEAM-7", "name": "Team Seven", "kind": "team", "parent_id": str(world["company"].id)}
    assert post(admin, f"/admin/org-units/{team.id}", form).status_code == 302
    db.session.refresh(team)
    assert team.name == "Team Seven" and team.path == f"{world['company'].path}{team.id}/"
    under_itself = {**form, "parent_id": str(team.id)}
    response = post(admin, f"/admin/org-units/{world['company'].id}", {**under_itself, "code": "U-ROOT"})
    assert response.status_code == 422
    assert "cannot move under itself" in response.get_data(as_text=True)


def test_agent_bank_partners_and_status(admin, world):
    specialist = world["specialist"]
    form = {"code": specialist.code, "name": specialist.name, "org_unit_id": str(world["branch"].id),
            "channel": "bancassurance", "status": "suspended", "hire_date": "2020-01-01", "bank_partner_ids": ""}
    assert post(admin, f"/admin/agents/{specialist.id}", form).status_code == 302
    db.session.refresh(specialist)
    assert specialist.status == "suspended" and specialist.bank_partners == []
    agency = {**form, "channel": "agency", "bank_partner_ids": ["", str(world["partner"].id)]}
    response = post(admin, f"/admin/agents/{specialist.id}", agency)
    assert response.status_code == 422
    assert "Only bancassurance specialists are stationed at bank partners." in response.get_data(as_text=True)
    db.session.refresh(specialist)
    assert specialist.channel == AgentChannel.BANCASSURANCE


def test_create_agent(admin, world):
    form = {"code": "A-NEW", "name": "New Agent", "org_unit_id": str(world["branch"].id), "channel": "agency",
            "hire_date": "2026-01-05", "phone": "13800138000", "bank_partner_ids": ""}
    assert post(admin, "/admin/agents/new", form).status_code == 302
    agent = db.session.scalar(select(Agent).where(Agent.code == "A-NEW"))
    assert agent.phone == "+8613800138000" and agent.status == "active"


def test_bank_partner_branch_and_referrer(admin, world):
    assert post(admin, "/admin/bank-partners/new", {"code": "RIVER", "name": "River Bank",
                                                    "commission_rate": "0.02"}).status_code == 302
    partner = db.session.scalar(select(BankPartner).where(BankPartner.code == "RIVER"))
    assert post(admin, "/admin/bank-branches/new", {"code": "RIVER-1", "name": "River Bank Main",
                                                    "bank_partner_id": str(partner.id)}).status_code == 302
    branch = db.session.scalar(select(BankBranch).where(BankBranch.code == "RIVER-1"))
    assert post(admin, "/admin/referrers/new", {"code": "RR-1", "name": "Rui", "bank_branch_id": str(branch.id),
                                                "phone": "not a phone"}).status_code == 422
    assert total(Referrer) == 1
    assert post(admin, "/admin/referrers/new", {"code": "RR-1", "name": "Rui",
                                                "bank_branch_id": str(branch.id)}).status_code == 302
    assert post(admin, f"/admin/bank-partners/{partner.id}", {"code": "RIVER", "name": "River Bank",
                                                             "status": "ended"}).status_code == 302
    db.session.refresh(partner)
    assert partner.status == "ended" and partner.commission_rate == Decimal("0.02")


def test_missing_record_is_404(admin):
    assert admin.get("/admin/products/999999").status_code == 404


def test_new_forms_start_from_the_api_defaults(admin):
    html = admin.get("/admin/products/new").get_data(as_text=True)
    assert 'name="grace_period_days" type="number" value="60"' in html
    assert re.search(r'id="f-active" name="active" value="true"\s+checked', html)
    assert not re.search(r'id="f-renewable" name="renewable" value="true"\s+checked', html)
