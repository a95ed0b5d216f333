"""Claims in the browser: reported from the policy page, worked on the claim page, audited, in scope."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from insurecrm.models import AuditLog, Role
from policies.models import Claim, ClaimStatus, PolicyStatus
from tests.api_client import csrf_token
from tests.policies.conftest import TODAY, months_ago


@pytest.fixture
def policy(make, seller):
    return make.policy(policyholder=seller.holder, product=make.product(line="life"), effective_date=months_ago(6),
                       status_date=months_ago(6), number="LI-CLAIMS")


def claims(session) -> list[Claim]:
    return session.scalars(select(Claim).order_by(Claim.id)).all()


def report(client, policy, **data):
    return client.post(f"/policies/{policy.id}/claims", data={
        "csrf_token": csrf_token(client), "loss_date": months_ago(1).isoformat(), "kind": "other", **data})


def update(client, claim, **data):
    return client.post(f"/claims/{claim.id}", data={"csrf_token": csrf_token(client), **data})


def test_the_policy_page_offers_the_kinds_its_line_covers(web, seller, policy):
    html = web(seller.user).get(f"/policies/{policy.id}").get_data(as_text=True)
    assert "Report a claim" in html and "No claims." in html
    assert '<option value="death"' in html and '<option value="total_disability"' in html
    assert '<option value="damage"' not in html  # a life policy covers no damage to property


def test_a_claim_is_reported_audited_and_its_page_opens(web, seller, policy, session):
    client = web(seller.user)
    response = report(client, policy, kind="death", incurred_amount="200000.00", description="Died in hospital")
    assert response.status_code == 302
    [claim] = claims(session)
    assert response.headers["Location"].endswith(f"/claims/{claim.id}")
    assert (claim.kind, claim.incurred_amount, claim.report_date, claim.status) == (
        "death", Decimal("200000.00"), TODAY, ClaimStatus.REPORTED)
    audit = session.scalars(select(AuditLog).where(AuditLog.entity_type == "claims")).one()
    assert (audit.action, audit.actor_user_id) == ("create", seller.user.id)
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Claim {claim.number} reported." in html and "Died in hospital" in html and "LI-CLAIMS" in html
    assert claim.number in client.get(f"/policies/{policy.id}").get_data(as_text=True)


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"loss_date": ""}, "claim-loss_date", "Missing data for required field."),
    ({"loss_date": "2001-01-01"}, "claim-loss_date", "Must lie within the cover period"),
    ({"report_date": (TODAY + timedelta(days=2)).isoformat()}, "claim-report_date", "Must not be in the future."),
    ({"incurred_amount": "-5"}, "claim-incurred_amount", "Must not be negative."),
    ({"incurred_amount": "1.234"}, "claim-incurred_amount", "Use at most 2 decimal places."),
    ({"kind": "damage"}, "claim-kind", "A life policy covers: death, total_disability, other."),
    ({"kind": "volcano"}, "claim-kind", "Must be one of"),
])
def test_a_refused_claim_shows_the_message_next_to_its_field(web, seller, policy, session, data, field, message):
    response = report(web(seller.user), policy, **data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-error"' in html and message in html
    assert '<details class="move" id="report-claim" open>' in html
    assert claims(session) == []


@pytest.fixture
def claim(make, policy, session):
    claim = Claim(policy_id=policy.id, number="CL2026000000017", loss_date=months_ago(1), report_date=TODAY,
                  kind="death", incurred_amount=Decimal("100000.00"))
    session.add(claim)
    session.commit()
    return claim


def test_a_manager_updates_the_claim_and_a_full_death_settlement_ends_the_policy(web, make, seller, policy, claim,
                                                                                 session):
    manager = make.user(Role.BRANCH_MANAGER, org_unit_id=seller.agent.org_unit_id)
    client = web(manager)
    assert update(client, claim, status="under_review", incurred_amount="120000.00", paid_amount="0").status_code \
        == 302
    session.refresh(claim)
    assert (claim.status, claim.incurred_amount) == (ClaimStatus.UNDER_REVIEW, Decimal("120000.00"))
    assert update(client, claim, status="paid", incurred_amount="120000.00",
                  paid_amount="120000.00").status_code == 302
    session.refresh(claim)
    session.refresh(policy)
    assert (claim.status, claim.paid_amount) == (ClaimStatus.PAID, Decimal("120000.00"))
    assert policy.status == PolicyStatus.TERMINATED_BY_CLAIM
    html = client.get(f"/claims/{claim.id}").get_data(as_text=True)
    assert "saved: Paid." in html and "Terminated by claim" in html
    changes = session.scalars(select(AuditLog.changes).where(AuditLog.entity_type == "claims",
                                                             AuditLog.action == "update")).all()
    assert any("paid_amount" in change for change in changes)


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"paid_amount": "100000.01"}, "paid_amount", "Must not exceed the incurred amount"),
    ({"status": "rejected"}, "rejection_reason", "A rejected claim needs its reason."),
    ({"status": "paid"}, "paid_amount", "A paid claim needs the amount paid."),
    ({"status": "lost"}, "status", "Must be one of"),
    ({"incurred_amount": "lots"}, "incurred_amount", "Not a valid number."),
])
def test_a_refused_update_shows_why_and_changes_nothing(web, seller, claim, policy, session, data, field, message):
    response = update(web(seller.user), claim, **data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-error"' in html and message in html
    session.refresh(claim)
    session.refresh(policy)
    assert (claim.status, claim.paid_amount, policy.status) == (ClaimStatus.REPORTED, 0, PolicyStatus.IN_FORCE)


def test_another_agents_claim_is_not_found(web, make, seller, session):
    theirs = make.policy(effective_date=months_ago(6))
    claim = Claim(policy_id=theirs.id, number="CL2026000000025", loss_date=months_ago(1), report_date=TODAY)
    session.add(claim)
    session.commit()
    client = web(seller.user)
    assert client.get(f"/claims/{claim.id}").status_code == 404
    assert update(client, claim, status="closed").status_code == 404
    assert report(client, theirs).status_code == 404
    assert session.scalar(select(func.count(Claim.id))) == 1
    session.refresh(claim)
    assert claim.status == ClaimStatus.REPORTED


def test_the_actuary_reads_the_claim_without_personal_data_or_forms(web, make, claim, session):
    claim.description = "Died in hospital"
    session.commit()
    client = web(make.user(Role.ACTUARY))
    html = client.get(f"/claims/{claim.id}").get_data(as_text=True)
    assert claim.number in html and "Died in hospital" not in html and "Update the claim" not in html
    assert update(client, claim, status="closed").status_code == 403


def test_the_claim_page_speaks_chinese(web, seller, claim):
    client = web(seller.user)
    client.post("/language", data={"csrf_token": csrf_token(client), "lang": "zh"})
    html = client.get(f"/claims/{claim.id}").get_data(as_text=True)
    assert "理赔" in html and "身故" in html


def test_the_claim_page_offers_only_the_next_statuses(web, seller, claim, session):
    client = web(seller.user)
    claim.status, claim.paid_amount, claim.incurred_amount = ClaimStatus.PAID, Decimal("10.00"), Decimal("10.00")
    session.commit()
    html = client.get(f"/claims/{claim.id}").get_data(as_text=True)
    assert '<option value="paid" selected>' in html and '<option value="closed"' in html
    assert '<option value="rejected"' not in html and '<option value="reported"' not in html
    response = update(client, claim, status="reported")
    assert response.status_code == 422
    assert 'id="status-error"' in response.get_data(as_text=True)
    assert "A paid claim cannot become reported. Allowed: closed." in response.get_data(as_text=True)
