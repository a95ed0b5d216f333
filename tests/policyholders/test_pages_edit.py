"""The profile edit keeps its promises: the form is sent as a browser sends it (every field), an emptied required
field is refused next to it, an emptied optional field clears the value, and "saved" is said only when
something changed."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from insurecrm.models import AuditLog
from policyholders.models import Gender, IdType, MaritalStatus, Policyholder
from tests.api_client import csrf_token
from tests.policyholders.common import RIC_1990
from tests.policyholders.forms import form_fields


@pytest.fixture
def holder(org, make):
    return make.policyholder(org.agent, name="张伟", phone="+8613800138000", phone_alt="+8613900139000",
                             email="zhang.wei@example.com", region="北京", occupation="Teacher", gender=Gender.MALE,
                             marital_status=MaritalStatus.MARRIED, date_of_birth=date(1990, 3, 7),
                             id_type=IdType.PRC_RESIDENT, id_number=RIC_1990)


def edit_url(holder) -> str:
    return f"/policyholders/{holder.id}/edit"


def submit(client, holder, **changes):
    """GET the edit page, change ``changes`` in the form as a user would, and send all of it."""
    form = form_fields(client.get(edit_url(holder)).get_data(as_text=True), edit_url(holder))
    assert form["name"] == holder.name and form["csrf_token"]  # the reader found the form
    return client.post(edit_url(holder), data={**form, **changes, "csrf_token": csrf_token(client)})


def reloaded(session, holder) -> Policyholder:
    session.expire_all()
    return session.get(Policyholder, holder.id)


def test_the_form_sent_unchanged_changes_nothing_and_says_so(web, org, holder, session):
    client = web(org.agent_user)
    version = holder.version
    response = submit(client, holder)
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Nothing to save: the profile is as it was." in html and "Profile saved." not in html
    after = reloaded(session, holder)
    assert (after.version, after.id_number, after.id_type, after.email) == (version, RIC_1990, IdType.PRC_RESIDENT,
                                                                            "zhang.wei@example.com")


def test_a_change_is_saved_and_said_so(web, org, holder, session):
    client = web(org.agent_user)
    response = submit(client, holder, occupation="Engineer")
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Profile saved." in html
    assert reloaded(session, holder).occupation == "Engineer"


@pytest.mark.parametrize(("field", "kind"), [
    ("name", "text"),
    ("preferred_language", "text"),
    ("kind", "select"),
    ("status", "select"),
    ("acquisition_channel", "select"),
])
def test_an_emptied_required_field_is_refused_next_to_it(web, org, holder, session, field, kind):
    client = web(org.agent_user)
    version = holder.version
    response = submit(client, holder, **{field: "", "occupation": "Engineer"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422, kind
    assert f'<p class="field-error" id="profile-{field}-error">Missing data for required field.</p>' in html
    assert 'value="Engineer"' in html  # the rest of what was typed stays in the form
    after = reloaded(session, holder)
    assert (after.version, after.occupation, after.name) == (version, "Teacher", "张伟")


@pytest.mark.parametrize(("field", "attribute"), [
    ("email", "email"),
    ("phone", "phone"),
    ("phone_alt", "phone_alt"),
    ("region", "region"),
    ("occupation", "occupation"),
    ("gender", "gender"),  # a select: "Not said"
    ("marital_status", "marital_status"),
    ("date_of_birth", "date_of_birth"),  # a date
])
def test_an_emptied_optional_field_clears_it(web, org, holder, session, field, attribute):
    client = web(org.agent_user)
    assert getattr(holder, attribute) is not None
    response = submit(client, holder, **{field: ""})
    assert response.status_code == 302
    assert "Profile saved." in client.get(response.headers["Location"]).get_data(as_text=True)
    after = reloaded(session, holder)
    assert getattr(after, attribute) is None
    assert after.id_number == RIC_1990  # the empty "new ID number" box keeps the one on file


def test_clearing_the_email_is_audited(web, org, holder, session):
    submit(web(org.agent_user), holder, email="")
    row = session.scalars(select(AuditLog).where(AuditLog.entity_type == "policyholders",
                                                 AuditLog.entity_id == holder.id, AuditLog.action == "update")).one()
    assert row.changes["email"] == ["zhang.wei@example.com", None] and row.actor_user_id == org.agent_user.id


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"date_of_birth": "1990-13-45"}, "date_of_birth", "Not a valid date."),
    ({"date_of_birth": "2999-01-01"}, "date_of_birth", "Must be between"),
    ({"gender": "unknown"}, "gender", "Must be one of"),
    ({"phone": "12"}, "phone", "Not a valid phone number"),
    ({"name": "x" * 121}, "name", "Length must be between 1 and 120."),
])
def test_a_bad_value_is_refused_next_to_its_field(web, org, holder, session, changes, field, message):
    response = submit(web(org.agent_user), holder, **changes)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="profile-{field}-error"' in html and message in html
    assert reloaded(session, holder).version == holder.version


def test_a_new_id_number_replaces_the_one_on_file(web, org, holder, session):
    response = submit(web(org.agent_user), holder, id_type="passport", id_number="e1234567 ")
    assert response.status_code == 302
    after = reloaded(session, holder)
    assert (after.id_type, after.id_number) == (IdType.PASSPORT, "E1234567")
