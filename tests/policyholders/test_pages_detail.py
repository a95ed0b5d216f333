"""The policyholder 360° page: every section, who sees the audit, scope, pseudonyms, revealing an ID number, and
a fixed number of queries whatever the size of the record."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from agents.models import Opportunity
from insurecrm.models import AuditLog, Role
from policies.models import Claim, Installment, Payment
from policyholders.models import (
    IdType,
    Interaction,
    InteractionChannel,
    PolicyholderRelationship,
    RelationshipKind,
    ServiceCategory,
    ServiceKind,
    ServiceRequest,
)
from tests.api_client import csrf_token
from tests.helpers import counted_queries
from tests.policyholders.common import RIC_1990

NOW = datetime.now(UTC)


def _add(session, *rows):
    session.add_all(rows)
    session.commit()


def _enrich(make, holder, agent, *, n: int = 1, tag: str = "") -> None:
    """Give ``holder`` ``n`` of everything the 360° page shows: policies with an open installment, payments,
    claims, contacts, service requests and opportunities."""
    stage = make.stage(name=f"Needs identified{tag}")
    session = make.session
    for i in range(n):
        policy = make.policy(holder, number=f"HE2026{tag}{i:08d}", premium=Decimal("1234.50"))
        _add(session,
             Installment(policy_id=policy.id, sequence=1, due_date=date(2026, 7, 1), amount=Decimal("1234.50")),
             Payment(policy_id=policy.id, paid_on=date(2026, 1, 2), amount=Decimal("1234.50")),
             Claim(number=f"CL{tag}{i:010d}", policy_id=policy.id, loss_date=date(2026, 2, 1),
                   report_date=date(2026, 2, 3), incurred_amount=Decimal("800.00")),
             Interaction(policyholder_id=holder.id, agent_id=agent.id, channel=InteractionChannel.PHONE,
                         summary=f"Discussed the renewal {tag}{i}", outcome=f"Call back in May {i}",
                         occurred_at=NOW - timedelta(days=i + 1)),
             ServiceRequest(policyholder_id=holder.id, kind=ServiceKind.COMPLAINT, category=ServiceCategory.PAYMENT,
                            subject=f"Debit taken twice {tag}{i}", opened_at=NOW - timedelta(days=10),
                            due_at=NOW - timedelta(days=5), assigned_agent_id=agent.id),
             Opportunity(title=f"Family health plan {tag}{i}", policyholder_id=holder.id, owner_agent_id=agent.id,
                         org_unit_id=holder.org_unit_id, stage_id=stage.id, probability=Decimal("40"),
                         expected_premium=Decimal("5000.00")))


@pytest.fixture
def record(org, make):
    holder = make.policyholder(org.agent, name="张伟", phone="+8613800138000", email="zhang.wei@example.com",
                               id_type=IdType.PRC_RESIDENT, id_number=RIC_1990, date_of_birth=date(1990, 3, 7),
                               region="北京", bank_partner_id=org.partner.id)
    spouse = make.policyholder(org.agent, name="李娜", phone="+8613900139000", email="li.na@example.com")
    _add(make.session,
         PolicyholderRelationship(from_policyholder_id=holder.id, to_policyholder_id=spouse.id,
                                  kind=RelationshipKind.SPOUSE),
         PolicyholderRelationship(from_policyholder_id=spouse.id, to_policyholder_id=holder.id,
                                  kind=RelationshipKind.SPOUSE))
    _enrich(make, holder, org.agent)
    return SimpleNamespace(holder=holder, spouse=spouse)


def test_the_owner_agent_sees_every_section(web, org, record):
    html = web(org.agent_user).get(f"/policyholders/{record.holder.id}").get_data(as_text=True)
    for expected in ("张伟", "110105********1239", "+8613800138000", "zhang.wei@example.com",  # profile
                     f"/policyholders/{record.spouse.id}", "李娜",  # household, linked
                     'href="/policies/', "HE202600000000", "Jul 1, 2026",  # policies with the next due date
                     "¥1,234.50",  # premium and payment
                     "CL0000000000", "¥800.00",  # claims
                     "Discussed the renewal 0", "Call back in May 0", "Phone call",  # timeline
                     "Debit taken twice 0", "SLA breached",  # service
                     "Family health plan 0", "Needs identified", "40%",  # opportunities
                     'id="log-contact"', 'id="open-request"', "Edit profile", "Reveal"):
        assert expected in html, expected
    assert 'id="audit"' not in html  # agents do not see the audit section
    assert RIC_1990 not in html


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_managers_and_admins_see_the_audit(web, org, record, role):
    html = web(getattr(org, role)).get(f"/policyholders/{record.holder.id}").get_data(as_text=True)
    assert 'id="audit"' in html
    assert "Policy HE202600000000" in html  # the policy's creation is audited too


def test_another_agents_policyholder_is_not_found(web, org, record):
    assert web(org.other_agent_user).get(f"/policyholders/{record.holder.id}").status_code == 404
    assert web(org.sibling_manager).get(f"/policyholders/{record.holder.id}").status_code == 404


def test_referrers_may_not_open_it(web, org, record):
    assert web(org.referrer).get(f"/policyholders/{record.holder.id}").status_code == 403


def test_the_actuary_sees_no_personal_data_and_no_forms(web, org, record):
    response = web(org.actuary).get(f"/policyholders/{record.holder.id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for secret in ("张伟", "李娜", "+8613800138000", "13800138000", "zhang.wei@example.com", "li.na@example.com",
                   "110105", "Discussed the renewal", "Debit taken twice", "Family health plan"):
        assert secret not in html, secret
    assert "PO-" in html  # pseudonyms instead of names
    assert "HE202600000000" in html  # the book itself is there
    for form in ('id="log-contact"', 'id="open-request"', "Edit profile", "Reveal", 'id="audit"'):
        assert form not in html


def test_the_owner_reveals_the_id_number_once_and_it_is_audited(web, org, record, session):
    client = web(org.agent_user)
    response = client.post(f"/policyholders/{record.holder.id}/reveal-id", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 200
    assert RIC_1990 in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    rows = session.scalars(select(AuditLog).where(AuditLog.action == "reveal")).all()
    assert [(row.entity_type, row.entity_id, row.actor_user_id) for row in rows] == [
        ("policyholders", record.holder.id, org.agent_user.id)]
    assert RIC_1990 not in str(rows[0].changes)
    assert RIC_1990 not in client.get(f"/policyholders/{record.holder.id}").get_data(as_text=True)  # once


def test_a_branch_manager_may_reveal(web, org, record):
    client = web(org.manager)
    response = client.post(f"/policyholders/{record.holder.id}/reveal-id", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 200 and RIC_1990 in response.get_data(as_text=True)


def test_nothing_to_reveal_without_an_id_number(web, org, make, session):
    holder = make.policyholder(org.agent, name="王芳")
    client = web(org.agent_user)
    assert "Reveal" not in client.get(f"/policyholders/{holder.id}").get_data(as_text=True)
    response = client.post(f"/policyholders/{holder.id}/reveal-id", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert "No ID number is on file." in client.get(response.headers["Location"]).get_data(as_text=True)
    assert session.scalars(select(AuditLog).where(AuditLog.action == "reveal")).all() == []


@pytest.mark.parametrize(("who", "status"), [("actuary", 403), ("other_agent_user", 404), ("specialist_user", 403)])
def test_reveal_is_refused(web, org, record, session, who, status):
    client = web(getattr(org, who))
    response = client.post(f"/policyholders/{record.holder.id}/reveal-id", data={"csrf_token": csrf_token(client)})
    assert response.status_code == status
    assert RIC_1990 not in response.get_data(as_text=True)
    assert session.scalars(select(AuditLog).where(AuditLog.action == "reveal")).all() == []


@pytest.mark.parametrize("role", [Role.AGENT, Role.BRANCH_MANAGER])
def test_the_number_of_queries_does_not_grow_with_the_record(web, org, make, record, role):
    user = org.agent_user if role == Role.AGENT else org.manager
    big = make.policyholder(org.agent, name="王芳")
    _enrich(make, big, org.agent, n=6, tag="B")
    client = web(user)
    client.get(f"/policyholders/{record.holder.id}")  # warm up (first-use caches)
    with counted_queries() as small_queries:
        assert client.get(f"/policyholders/{record.holder.id}").status_code == 200
    with counted_queries() as big_queries:
        html = client.get(f"/policyholders/{big.id}").get_data(as_text=True)
    assert "Family health plan B5" in html
    assert len(big_queries) == len(small_queries)


def test_log_a_contact_opens_the_form_at_once(web, org, record):
    client = web(org.agent_user)
    html = client.get(f"/policyholders/{record.holder.id}").get_data(as_text=True)
    link = re.search(r'<a href="([^"]+)">Log a contact</a>', html).group(1)
    assert link == f"/policyholders/{record.holder.id}?log=contact#log-contact"
    assert '<details id="log-contact">' in html  # folded while the agent reads the page
    opened = client.get(link.split("#")[0]).get_data(as_text=True)
    assert '<details id="log-contact" open>' in opened
