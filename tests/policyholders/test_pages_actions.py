"""Actions on the 360° page: logging a contact, opening a service request, editing the profile (with the
version loaded: a change made meanwhile is a 409 page that offers the latest version)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from insurecrm.db import db
from policyholders.models import (
    Direction,
    Interaction,
    InteractionChannel,
    Policyholder,
    ServiceKind,
    ServicePriority,
    ServiceRequest,
)
from tests.api_client import csrf_token
from tests.policyholders.common import count


@pytest.fixture
def holder(org, make):
    return make.policyholder(org.agent, name="张伟", phone="+8613800138000", email="zhang.wei@example.com",
                             region="北京")


def post(client, path: str, data: dict):
    return client.post(path, data={**data, "csrf_token": csrf_token(client)})


# -- contacts -------------------------------------------------------------------------------------------

def test_logging_a_contact(web, org, make, holder, session):
    policy = make.policy(holder)
    client = web(org.agent_user)
    response = post(client, f"/policyholders/{holder.id}/interactions", {
        "channel": "visit", "direction": "inbound", "summary": "Talked about the children's cover",
        "outcome": "Send a quote", "occurred_at": "2026-03-01T10:30", "policy_id": str(policy.id)})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/policyholders/{holder.id}#timeline")
    interaction = session.scalars(select(Interaction).where(Interaction.policyholder_id == holder.id)).one()
    assert (interaction.channel, interaction.direction, interaction.agent_id, interaction.policy_id) == (
        InteractionChannel.VISIT, Direction.INBOUND, org.agent.id, policy.id)
    assert interaction.occurred_at == datetime(2026, 3, 1, 2, 30, tzinfo=UTC)  # typed in Shanghai time
    html = client.get(f"/policyholders/{holder.id}").get_data(as_text=True)
    assert "Contact logged." in html and "Talked about the children&#39;s cover" in html


def test_a_contact_logged_now_by_default(web, org, holder, session):
    before = datetime.now(UTC)
    post(web(org.agent_user), f"/policyholders/{holder.id}/interactions", {"channel": "phone", "summary": "Hello"})
    interaction = session.scalars(select(Interaction)).one()
    assert interaction.occurred_at >= before - timedelta(seconds=1)


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"channel": "phone"}, "summary", "Missing data for required field."),
    ({"summary": "Hello", "channel": "pigeon"}, "channel", "Must be one of"),
    ({"summary": "Hello", "channel": "phone",
      "occurred_at": (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT10:00")}, "occurred_at",
     "A contact is logged once it has happened"),
])
def test_a_refused_contact_shows_the_message_by_its_field_and_writes_nothing(web, org, holder, session, data, field,
                                                                             message):
    response = post(web(org.agent_user), f"/policyholders/{holder.id}/interactions", {"outcome": "kept", **data})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="interaction-{field}-error"' in html and message in html
    assert 'value="kept"' in html  # what was typed stays
    assert count(session, Interaction) == 0


def test_the_actuary_may_not_log_a_contact(web, org, holder, session):
    response = post(web(org.actuary), f"/policyholders/{holder.id}/interactions", {"channel": "phone",
                                                                                    "summary": "Hello"})
    assert response.status_code == 403 and count(session, Interaction) == 0


def test_no_contact_for_another_agents_policyholder(web, org, holder, session):
    response = post(web(org.other_agent_user), f"/policyholders/{holder.id}/interactions",
                    {"channel": "phone", "summary": "Hello"})
    assert response.status_code == 404 and count(session, Interaction) == 0


# -- service requests -----------------------------------------------------------------------------------

def test_opening_a_complaint(web, org, holder, session):
    response = post(web(org.agent_user), f"/policyholders/{holder.id}/service-requests", {
        "kind": "complaint", "category": "payment", "priority": "high", "subject": "Debit taken twice",
        "description": "Both on 1 March", "channel": "call_centre"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/policyholders/{holder.id}#service")
    request = session.scalars(select(ServiceRequest)).one()
    assert (request.policyholder_id, request.kind, request.priority, request.assigned_agent_id) == (
        holder.id, ServiceKind.COMPLAINT, ServicePriority.HIGH, org.agent.id)
    assert request.due_at - request.opened_at == timedelta(days=3)  # the SLA of a high-priority complaint


def test_a_service_request_without_subject_is_refused(web, org, holder, session):
    response = post(web(org.agent_user), f"/policyholders/{holder.id}/service-requests",
                    {"kind": "service", "category": "enquiry", "description": "What is covered?"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="request-subject-error"' in html and "Missing data for required field." in html
    assert "What is covered?" in html
    assert count(session, ServiceRequest) == 0


def test_the_actuary_may_not_open_a_service_request(web, org, holder, session):
    response = post(web(org.actuary), f"/policyholders/{holder.id}/service-requests",
                    {"kind": "service", "category": "enquiry", "subject": "Hello"})
    assert response.status_code == 403 and count(session, ServiceRequest) == 0


# -- the profile ------------------------------------------------------------------------------------------

def profile_form(client, holder_id: int) -> dict:
    """The edit form as a browser would send it unchanged (the fields, the version, the consent markers)."""
    html = client.get(f"/policyholders/{holder_id}/edit").get_data(as_text=True)
    version = html.split('name="version" value="')[1].split('"')[0]
    return {"version": version, "name": "张伟", "kind": "person", "status": "active", "phone": "+8613800138000",
            "email": "zhang.wei@example.com", "region": "北京", "acquisition_channel": "agency",
            "preferred_language": "zh", "consent_marketing__present": "1", "consent_sms__present": "1",
            "consent_email__present": "1"}


def test_the_edit_page_shows_the_profile_with_its_version(web, org, holder):
    html = web(org.agent_user).get(f"/policyholders/{holder.id}/edit").get_data(as_text=True)
    assert f'name="version" value="{holder.version}"' in html
    assert 'value="zhang.wei@example.com"' in html and '<label for="profile-email">' in html


def test_editing_the_profile(web, org, holder, session):
    client = web(org.agent_user)
    form = profile_form(client, holder.id)
    response = client.post(f"/policyholders/{holder.id}/edit", data={
        **form, "name": "张伟明", "phone": "139 0013 9000", "consent_sms": "true", "tags": ["VIP", "", "renewal"],
        "csrf_token": csrf_token(client)})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/policyholders/{holder.id}")
    session.expire_all()
    changed = session.get(Policyholder, holder.id)
    assert (changed.name, changed.phone, changed.consent_sms, changed.consent_email) == (
        "张伟明", "+8613900139000", True, False)
    assert sorted(tag.tag for tag in changed.tags) == ["VIP", "renewal"]


def test_a_refused_edit_shows_the_message_by_its_field(web, org, holder, session):
    client = web(org.agent_user)
    response = client.post(f"/policyholders/{holder.id}/edit", data={
        **profile_form(client, holder.id), "name": "张伟明", "email": "not-an-email",
        "csrf_token": csrf_token(client)})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="profile-email-error"' in html and "Not a valid email address." in html
    assert 'value="张伟明"' in html
    session.expire_all()
    assert session.get(Policyholder, holder.id).name == "张伟"


def test_a_stale_version_is_explained_and_offers_the_latest(web, org, holder, session):
    client = web(org.agent_user)
    form = profile_form(client, holder.id)
    # someone else saves meanwhile
    session.execute(update(Policyholder).where(Policyholder.id == holder.id)
                    .values(region="上海", version=Policyholder.version + 1))
    session.commit()
    response = client.post(f"/policyholders/{holder.id}/edit", data={
        **form, "name": "张伟明", "csrf_token": csrf_token(client)})
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Changed meanwhile" in html
    assert f'href="/policyholders/{holder.id}/edit">Load the latest version' in html
    assert 'value="张伟明"' in html  # what the user typed is still there
    session.expire_all()
    assert (session.get(Policyholder, holder.id).name, session.get(Policyholder, holder.id).region) == ("张伟", "上海")


@pytest.mark.parametrize(("who", "status"), [("actuary", 403), ("other_agent_user", 404), ("referrer", 403)])
def test_who_may_not_edit(web, org, holder, who, status):
    assert web(getattr(org, who)).get(f"/policyholders/{holder.id}/edit").status_code == status


def test_a_manager_edits_a_policyholder_of_the_branch(web, org, holder, session):
    client = web(org.manager)
    response = client.post(f"/policyholders/{holder.id}/edit", data={
        **profile_form(client, holder.id), "region": "天津", "csrf_token": csrf_token(client)})
    assert response.status_code == 302
    db.session.expire_all()
    assert session.get(Policyholder, holder.id).region == "天津"
