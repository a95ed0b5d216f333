"""A new prospect or policyholder in the browser (/policyholders/new): the form, refusals next to their fields,
the warning of a likely duplicate (open the existing record, or create anyway), the same service as the API,
audited, in the creator's book."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from insurecrm.models import AuditLog
from policyholders import services as policyholder_services
from policyholders.models import AcquisitionChannel, Gender, IdType, PartyKind, Policyholder, PolicyholderStatus
from tests.api_client import csrf_token
from tests.policyholders.common import RIC_1990, USCC, count
from tests.policyholders.forms import form_fields

URL = "/policyholders/new"


def fill(client, **fields):
    """The new-policyholder form as shown (defaults included), with ``fields`` typed in, sent."""
    form = form_fields(client.get(URL).get_data(as_text=True), URL)
    return client.post(URL, data={**form, **fields, "csrf_token": csrf_token(client)})


def created(session, name: str) -> Policyholder:
    return session.scalars(select(Policyholder).where(Policyholder.name == name)).one()


def test_the_form_shows_every_field_with_the_agents_defaults(web, org):
    html = web(org.agent_user).get(URL).get_data(as_text=True)
    for field in ("name", "kind", "status", "gender", "date_of_birth", "id_type", "id_number", "phone", "phone_alt",
                  "email", "address", "region", "occupation", "industry", "income_band", "marital_status",
                  "preferred_channel", "preferred_language", "consent_marketing", "acquisition_channel",
                  "acquisition_source"):
        assert f'id="new-{field}"' in html, field
    assert 'name="owner_agent_id"' not in html  # an agent's new records are their own
    assert '<option value="prospect" selected>' in html and '<option value="former"' not in html


def test_an_agent_creates_a_prospect_in_their_own_book(web, org, session):
    client = web(org.agent_user)
    response = fill(client, name="李娜", gender="female", date_of_birth="1990-03-07", id_type="prc_resident",
                    id_number=RIC_1990, phone="139 1234 5678", email="li.na@example.com", region="上海",
                    consent_sms="true", tags=["family", "VIP"])
    holder = created(session, "李娜")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/policyholders/{holder.id}")
    assert (holder.owner_agent_id, holder.org_unit_id, holder.status, holder.kind) == (
        org.agent.id, org.team.id, PolicyholderStatus.PROSPECT, PartyKind.PERSON)
    assert (holder.phone, holder.gender, holder.date_of_birth, holder.id_number, holder.consent_sms,
            holder.consent_email) == ("+8613912345678", Gender.FEMALE, date(1990, 3, 7), RIC_1990, True, False)
    assert sorted(tag.tag for tag in holder.tags) == ["VIP", "family"]
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "李娜 is in the book." in html
    audit = session.scalars(select(AuditLog).where(AuditLog.entity_type == "policyholders",
                                                   AuditLog.entity_id == holder.id)).one()
    assert audit.action == "create" and audit.actor_user_id == org.agent_user.id
    # in the agent's book and their manager's, nobody else's
    assert web(org.manager).get(f"/policyholders/{holder.id}").status_code == 200
    assert web(org.other_agent_user).get(f"/policyholders/{holder.id}").status_code == 404
    assert web(org.sibling_manager).get(f"/policyholders/{holder.id}").status_code == 404


def test_the_list_links_to_the_form_for_those_who_may_create(web, org):
    link = '<a href="/policyholders/new">New prospect or policyholder</a>'
    assert link in web(org.agent_user).get("/policyholders").get_data(as_text=True)
    assert link not in web(org.actuary).get("/policyholders").get_data(as_text=True)


def test_an_organisation_with_its_credit_code(web, org, session):
    response = fill(web(org.agent_user), name="Acme Trading Ltd", kind="organisation", id_type="prc_uscc",
                    id_number=USCC, status="active", industry="Trade")
    assert response.status_code == 302
    holder = created(session, "Acme Trading Ltd")
    assert (holder.kind, holder.id_type, holder.status) == (PartyKind.ORGANISATION, IdType.PRC_USCC,
                                                            PolicyholderStatus.ACTIVE)


def test_a_specialists_new_record_comes_through_bancassurance_by_default(web, org, session):
    assert fill(web(org.specialist_user), name="Wu Fang").status_code == 302
    holder = created(session, "Wu Fang")
    assert (holder.owner_agent_id, holder.acquisition_channel) == (org.specialist.id, AcquisitionChannel.BANCASSURANCE)


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"name": ""}, "name", "Missing data for required field."),
    ({"name": "X", "id_type": "prc_resident", "id_number": "110105199003071238"}, "id_number",
     "Not a valid PRC resident ID"),
    ({"name": "X", "id_type": "prc_resident", "id_number": RIC_1990, "date_of_birth": "1991-01-01"}, "date_of_birth",
     "Does not match the birth date"),
    ({"name": "X", "id_number": RIC_1990}, "id_type", "Give both the ID type and the ID number"),
    ({"name": "X", "phone": "12345"}, "phone", "Not a valid phone number"),
    ({"name": "X", "email": "nobody"}, "email", "Not a valid email address."),
    ({"name": "X", "date_of_birth": "2999-01-01"}, "date_of_birth", "Must be between"),
    ({"name": "X", "gender": "robot"}, "gender", "Must be one of"),
    ({"name": "X" * 121}, "name", "Length must be between 1 and 120."),
    ({"name": "X", "kind": "organisation", "id_type": "prc_resident", "id_number": RIC_1990}, "id_type",
     "does not identify a organisation"),
])
def test_a_refused_form_shows_the_message_next_to_its_field_and_writes_nothing(web, org, session, fields, field,
                                                                              message):
    before = count(session, Policyholder)
    response = fill(web(org.agent_user), region="Kept region", **fields)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="new-{field}-error"' in html and message in html
    assert 'value="Kept region"' in html  # what was typed stays
    assert count(session, Policyholder) == before


def test_an_agent_may_not_give_the_record_to_someone_else(web, org, session):
    before = count(session, Policyholder)
    response = fill(web(org.agent_user), name="Sneaky", owner_agent_id=str(org.colleague.id))
    assert response.status_code == 422 and "You may only keep policyholders in your own book." in response.get_data(
        as_text=True)
    assert count(session, Policyholder) == before


def test_a_manager_chooses_the_owner_within_the_branch(web, org, session):
    client = web(org.manager)
    html = client.get(URL).get_data(as_text=True)
    owners = html.split('id="new-owner_agent_id"')[1].split("</select>")[0]
    assert f'<option value="{org.colleague.id}">' in owners and f'<option value="{org.other_agent.id}">' not in owners
    assert fill(client, name="Chen Jie", owner_agent_id=str(org.colleague.id)).status_code == 302
    holder = created(session, "Chen Jie")
    assert (holder.owner_agent_id, holder.org_unit_id) == (org.colleague.id, org.team.id)
    refused = fill(client, name="Far Away", owner_agent_id=str(org.other_agent.id))
    assert refused.status_code == 422 and 'id="new-owner_agent_id-error"' in refused.get_data(as_text=True)


@pytest.mark.parametrize(("who", "status"), [("actuary", 403), ("referrer", 403)])
def test_who_may_not_create(web, org, session, who, status):
    client = web(getattr(org, who))
    assert client.get(URL).status_code == status
    assert client.post(URL, data={"name": "X", "csrf_token": csrf_token(client)}).status_code == status


# -- likely duplicates ------------------------------------------------------------------------------------

def test_the_same_phone_warns_and_names_the_visible_record(web, org, make, session):
    existing = make.policyholder(org.agent, name="王芳", phone="+8613912345678")
    client = web(org.agent_user)
    before = count(session, Policyholder)
    response = fill(client, name="王芳芳", phone="139-1234-5678", region="Kept region")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "This person may already be on file" in html
    assert f'<a href="/policyholders/{existing.id}">王芳</a>' in html and "has the same phone" in html
    assert 'value="Kept region"' in html and 'name="confirm_duplicate"' in html
    assert count(session, Policyholder) == before


def test_create_anyway_after_the_warning(web, org, make, session):
    make.policyholder(org.agent, name="王芳", phone="+8613912345678")
    client = web(org.agent_user)
    response = fill(client, name="王芳芳", phone="139-1234-5678", confirm_duplicate="1")
    assert response.status_code == 302
    assert created(session, "王芳芳").phone == "+8613912345678"


def test_a_record_outside_the_book_is_said_to_exist_and_nothing_more(web, org, make, session):
    make.policyholder(org.other_agent, name="Secret Person", phone="+8613912345678", email="secret@example.com",
                      date_of_birth=date(1980, 5, 6))
    html = fill(web(org.agent_user), name="Zhao Lei", phone="13912345678").get_data(as_text=True)
    assert "A record with the same phone exists outside your book; a manager can see it." in html
    assert "Secret Person" not in html and "secret@example.com" not in html and "1980" not in html
    # the branch manager of the other agent sees whose it is
    assert "Secret Person" not in fill(web(org.manager), name="Zhao Lei", phone="13912345678").get_data(as_text=True)
    assert "Secret Person" in fill(web(org.sibling_manager), name="Zhao Lei",
                                   phone="13912345678").get_data(as_text=True)


def test_the_same_name_and_birth_date_warns(web, org, make, session):
    existing = make.policyholder(org.agent, name="Liu Yang", date_of_birth=date(1985, 12, 24))
    html = fill(web(org.agent_user), name=" Liu  Yang ", date_of_birth="1985-12-24").get_data(as_text=True)
    assert f'href="/policyholders/{existing.id}"' in html and "has the same name and date of birth" in html
    # the same name born another day is another person
    assert "may already be on file" not in fill(web(org.agent_user), name="Liu Yang",
                                                date_of_birth="1985-12-25").get_data(as_text=True)


def test_the_same_id_number_warns_and_cannot_be_created_twice(web, org, make, session):
    existing = make.policyholder(org.agent, name="Sun Li", id_type=IdType.PRC_RESIDENT, id_number=RIC_1990)
    client = web(org.agent_user)
    html = fill(client, name="Sun Li 2", id_type="prc_resident", id_number=RIC_1990.lower()).get_data(as_text=True)
    assert f'href="/policyholders/{existing.id}"' in html and "has the same ID number" in html
    confirmed = fill(client, name="Sun Li 2", id_type="prc_resident", id_number=RIC_1990, confirm_duplicate="1")
    html = confirmed.get_data(as_text=True)
    assert confirmed.status_code == 422 and "A policyholder with this ID number is already on file." in html
    assert f'href="/policyholders/{existing.id}"' in html  # still offered to open


@pytest.mark.parametrize("owner", ["99999999999999999999", "2147483648", "-1", "abc"])
def test_an_owner_number_out_of_range_is_refused_not_an_error(web, org, session, owner):
    before = count(session, Policyholder)
    response = fill(web(org.manager), name="X", owner_agent_id=owner)
    assert response.status_code == 422 and 'id="new-owner_agent_id-error"' in response.get_data(as_text=True)
    assert count(session, Policyholder) == before


@pytest.mark.parametrize("query, status", [({"q": "a", "exclude": "99999999999999999999"}, 200),
                                           ({"q": "x" * 500}, 200), ({"q": "%_\\"}, 200), ({"q": "\x00"}, 422)])
def test_the_lookup_survives_odd_input(web, org, query, status):
    # a NUL is refused before any view runs (insurecrm/errors.py), like everywhere else
    response = web(org.agent_user).get("/policyholders/lookup", query_string=query)
    assert response.status_code == status


@pytest.mark.parametrize("fields", [{"name": "Zhang\x00Wei"}, {"name": "X", "phone": "138\x00"},
                                    {"name": "X", "tags": ["a\x00"]}])
def test_a_nul_character_is_refused_not_an_error(web, org, session, fields):
    before = count(session, Policyholder)
    response = fill(web(org.agent_user), **fields)
    assert response.status_code == 422 and "Must not contain the NUL character." in response.get_data(as_text=True)
    assert count(session, Policyholder) == before


def test_the_page_creates_through_the_apis_service(web, org, session, monkeypatch):
    calls = []
    real = policyholder_services.create_policyholder

    def spy(data, *, actor):
        calls.append((dict(data), actor.id))
        return real(data, actor=actor)

    monkeypatch.setattr(policyholder_services, "create_policyholder", spy)
    assert fill(web(org.agent_user), name="Via The Service", phone="13812345678").status_code == 302
    assert [(data["name"], data["phone"], actor) for data, actor in calls] == [
        ("Via The Service", "13812345678", org.agent_user.id)]  # normalised by the service, as for the API
    assert created(session, "Via The Service").phone == "+8613812345678"
