"""The new-policy page (/policies/new?policyholder_id=…): the form, its refusals, the policy and its schedule."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select

from insurecrm.models import AuditLog, Role
from policies.models import Installment, Policy, PolicyStatus, PolicyStatusChange, SalesChannel
from tests.api_client import csrf_token
from tests.policies.conftest import TODAY


def rows(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def product(make):
    return make.product(name="Family Health Plan", code="FHP", term_months=12, frequencies=["annual", "monthly"])


def form(product, **overrides) -> dict:
    return {"product_id": str(product.id), "frequency": "monthly", "premium": "250.00", "sum_insured": "300000",
            "effective_date": TODAY.isoformat(), "issue_date": TODAY.isoformat(), "channel": "agency",
            "business_type": "new", "status": "in_force", **overrides}


def post(client, holder, data):
    return client.post(f"/policies/new?policyholder_id={holder.id}", data={"csrf_token": csrf_token(client), **data})


def test_the_policyholder_page_links_to_the_new_policy_form(web, seller):
    html = web(seller.user).get(f"/policyholders/{seller.holder.id}").get_data(as_text=True)
    assert f'href="/policies/new?policyholder_id={seller.holder.id}"' in html


def test_the_form_offers_active_products_and_the_sellers_own_agent(web, make, seller, product):
    make.product(name="Retired Plan", active=False)
    html = web(seller.user).get(f"/policies/new?policyholder_id={seller.holder.id}").get_data(as_text=True)
    assert "Family Health Plan" in html and "Retired Plan" not in html
    assert f'<option value="{seller.agent.id}" selected>' in html
    for label in ("Effective date", "Expiry date", "Premium frequency", "Sum insured", "Business type", "Bank partner"):
        assert label in html, label


def test_the_frequencies_offered_are_the_products_own(web, make, seller):
    annual_only = make.product(frequencies=["annual"])
    html = web(seller.user).get(f"/policies/new/frequencies?product_id={annual_only.id}").get_data(as_text=True)
    assert 'value="annual"' in html and 'value="monthly"' not in html
    assert "Choose a product first" in web(seller.user).get("/policies/new/frequencies?product_id=999999").get_data(
        as_text=True)


def test_a_new_policy_is_written_with_its_schedule_and_audited(web, seller, product, session):
    client = web(seller.user)
    response = post(client, seller.holder, form(product))
    assert response.status_code == 302, response.get_data(as_text=True)
    policy = session.scalars(select(Policy).where(Policy.policyholder_id == seller.holder.id)).one()
    assert response.headers["Location"].endswith(f"/policies/{policy.id}")
    assert (policy.product_id, policy.frequency, policy.premium, policy.status) == (
        product.id, "monthly", Decimal("250.00"), PolicyStatus.IN_FORCE)
    assert policy.servicing_agent_id == seller.agent.id
    assert policy.expiry_date == TODAY + relativedelta(months=12)  # the product's term
    assert rows(session, Installment) == 12
    change = session.scalars(select(PolicyStatusChange).where(PolicyStatusChange.policy_id == policy.id)).one()
    assert (change.to_status, change.actor_user_id) == (PolicyStatus.IN_FORCE, seller.user.id)
    audit = session.scalars(select(AuditLog).where(AuditLog.entity_type == "policies",
                                                   AuditLog.entity_id == policy.id)).one()
    assert (audit.action, audit.actor_user_id) == ("create", seller.user.id)
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "written; its premium schedule follows" in html
    assert html.count("¥250.00") >= 12  # every installment of the schedule is on the page


def test_a_quote_may_be_written_and_an_expiry_given(web, seller, product, session):
    response = post(web(seller.user), seller.holder, form(product, status="quoted", frequency="annual",
                                                          expiry_date=(TODAY + relativedelta(months=6)).isoformat()))
    assert response.status_code == 302
    policy = session.scalars(select(Policy)).one()
    assert (policy.status, policy.expiry_date) == (PolicyStatus.QUOTED, TODAY + relativedelta(months=6))


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"frequency": "quarterly"}, "frequency", "is sold with: annual, monthly"),
    ({"premium": "0"}, "premium", "Must be greater than zero."),
    ({"premium": "abc"}, "premium", "Not a valid number."),
    ({"sum_insured": ""}, "sum_insured", "Missing data for required field."),
    ({"effective_date": "someday"}, "effective_date", "Not a valid date."),
    ({"expiry_date": "2000-01-01"}, "expiry_date", "Must be after the effective date."),
    ({"status": "lapsed"}, "status", "A new policy is quoted or in_force."),
    ({"business_type": "renewal"}, "business_type", "A renewal is written from its renewal case."),
    ({"bank_partner_id": "1"}, "bank_partner_id", "Only bancassurance policies have bank fields."),
    ({"channel": "bancassurance"}, "bank_partner_id", "needs an existing bank partner"),
    ({"product_id": "999999"}, "product_id", "No such active product."),
])
def test_a_refused_policy_shows_the_message_next_to_its_field_and_writes_nothing(web, seller, product, session,
                                                                                 overrides, field, message):
    response = post(web(seller.user), seller.holder, form(product, **overrides))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-error"' in html and message in html
    assert 'value="250.00"' in html or overrides.get("premium") is not None  # the input is kept
    assert rows(session, Policy) == 0 and rows(session, Installment) == 0


def test_an_inactive_product_is_refused(web, make, seller, session):
    retired = make.product(active=False)
    response = post(web(seller.user), seller.holder, form(retired))
    assert response.status_code == 422 and "No such active product." in response.get_data(as_text=True)
    assert rows(session, Policy) == 0


def test_a_bancassurance_policy_names_its_bank(web, make, seller, product, session):
    branch = make.bank_branch(name="Lujiazui Branch")
    response = post(web(seller.user), seller.holder, form(
        product, channel="bancassurance", bank_partner_id=str(branch.bank_partner_id), bank_branch_id=str(branch.id)))
    assert response.status_code == 302, response.get_data(as_text=True)
    policy = session.scalars(select(Policy)).one()
    assert (policy.channel, policy.bank_branch_id) == (SalesChannel.BANCASSURANCE, branch.id)


def test_another_agents_policyholder_is_not_found(web, make, seller, product, session):
    theirs = make.policyholder()
    client = web(seller.user)
    assert client.get(f"/policies/new?policyholder_id={theirs.id}").status_code == 404
    assert post(client, theirs, form(product)).status_code == 404
    assert rows(session, Policy) == 0


def test_another_units_agent_may_not_service_it(web, make, seller, product, session):
    stranger = make.agent()
    response = post(web(seller.user), seller.holder, form(product, servicing_agent_id=str(stranger.id)))
    assert response.status_code == 422 and "No such active agent." in response.get_data(as_text=True)
    assert rows(session, Policy) == 0


def test_a_manager_writes_for_the_units_policyholder_with_its_agent(web, make, seller, product, session):
    manager = make.user(Role.BRANCH_MANAGER, org_unit_id=seller.agent.org_unit_id)
    response = post(web(manager), seller.holder, form(product, servicing_agent_id=str(seller.agent.id)))
    assert response.status_code == 302
    assert session.scalars(select(Policy)).one().servicing_agent_id == seller.agent.id


def test_without_a_policyholder_the_page_points_to_the_list(web, seller):
    response = web(seller.user).get("/policies/new")
    assert response.status_code == 200 and 'href="/policyholders"' in response.get_data(as_text=True)
    assert web(seller.user).get("/policies/new?policyholder_id=99999999999").status_code == 200


def test_the_actuary_and_the_referrer_may_not_write_policies(web, make, seller):
    for role in (Role.ACTUARY, Role.BANK_REFERRER):
        assert web(make.user(role)).get(f"/policies/new?policyholder_id={seller.holder.id}").status_code == 403


def test_the_form_speaks_chinese(web, seller, product):
    client = web(seller.user)
    client.post("/language", data={"csrf_token": csrf_token(client), "lang": "zh"})
    html = client.get(f"/policies/new?policyholder_id={seller.holder.id}").get_data(as_text=True)
    assert "新保单" in html and "生效日期" in html


def test_dates_keep_their_meaning(web, seller, product, session):
    start = date(TODAY.year, 1, 31) if date(TODAY.year, 1, 31) <= TODAY else date(TODAY.year - 1, 1, 31)
    post(web(seller.user), seller.holder, form(product, effective_date=start.isoformat(), issue_date=start.isoformat()))
    second = session.scalars(select(Installment.due_date).where(Installment.sequence == 2)).one()
    assert second == start + relativedelta(months=1)  # 28 or 29 February: the schedule's own rule
