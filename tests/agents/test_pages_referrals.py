"""The referrals page (/referrals): referrers submit and follow theirs; specialists work their partners'."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from agents.models import AgentChannel, Referral, ReferralStatus
from insurecrm.db import db
from insurecrm.models import AuditLog, Role
from policyholders import services as policyholder_services
from policyholders.models import AcquisitionChannel, Policyholder, PolicyholderStatus
from tests.api_client import csrf_token
from tests.helpers import counted_queries


def referral_rows(session) -> int:
    return session.scalar(select(func.count()).select_from(Referral))


@pytest.fixture
def bank(make):
    """A partner's branch with two referrers (one with a login), its specialist, and another partner's."""
    branch = make.bank_branch(name="Pudong Branch")
    mine, colleague = make.referrer(branch, name="Teller Wu"), make.referrer(branch, name="Teller Ma")
    specialist = make.agent(channel=AgentChannel.BANCASSURANCE)
    specialist.bank_partners.append(branch.bank_partner)
    elsewhere = make.referrer(make.bank_branch(name="Far Branch"), name="Teller Far")
    make.session.commit()
    return SimpleNamespace(
        branch=branch, referrer=mine, colleague=colleague, specialist=specialist, elsewhere=elsewhere,
        referrer_user=make.user(Role.BANK_REFERRER, referrer_id=mine.id),
        specialist_user=make.user(Role.BANCASSURANCE_SPECIALIST, agent_id=specialist.id),
        own=make.referral(mine, prospect_name="Prospect Gao", prospect_phone="+8613800138000"),
        colleagues=make.referral(colleague, prospect_name="Prospect Hu"),
        far=make.referral(elsewhere, prospect_name="Prospect Far"),
        product=make.product(name="Critical Illness Plus"),
    )


def work(client, referral, **form):
    return client.post(f"/referrals/{referral.id}", data={"csrf_token": csrf_token(client), **form})


def test_a_referrer_sees_only_their_own_referrals(web, bank):
    response = web(bank.referrer_user).get("/referrals")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Prospect Gao" in html and "+8613800138000" in html and "Pudong Branch" in html and "Submitted" in html
    assert "Prospect Hu" not in html and "Prospect Far" not in html
    assert "Refer a customer" in html and "Work it" not in html and 'name="referrer_id"' not in html


def test_a_referrer_submits_a_referral(web, bank, session):
    client = web(bank.referrer_user)
    response = client.post("/referrals", data={
        "csrf_token": csrf_token(client), "prospect_name": "Prospect New", "prospect_phone": "138 0013 8001",
        "product_id": str(bank.product.id), "notes": "Asks about health cover"})
    assert response.status_code == 302
    referral = session.scalars(select(Referral).where(Referral.prospect_name == "Prospect New")).one()
    assert (referral.referrer_id, referral.bank_branch_id, referral.product_id, referral.prospect_phone) == (
        bank.referrer.id, bank.branch.id, bank.product.id, "+8613800138001")
    html = client.get("/referrals").get_data(as_text=True)
    assert "Prospect New" in html and "Critical Illness Plus" in html


@pytest.mark.parametrize(("form", "field", "message"), [
    ({"prospect_name": ""}, "prospect_name", "Missing data for required field."),
    ({"prospect_name": "Prospect X", "prospect_phone": "12"}, "prospect_phone", "phone number"),
    ({"prospect_name": "Prospect X", "product_id": "999999"}, "product_id", "No such active product."),
])
def test_a_bad_referral_shows_the_field_error_and_writes_nothing(web, bank, session, form, field, message):
    client = web(bank.referrer_user)
    before = referral_rows(session)
    response = client.post("/referrals", data={"csrf_token": csrf_token(client), **form})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and f'id="{field}-error"' in html and message in html
    assert referral_rows(session) == before


def test_a_referrer_may_not_work_a_referral(web, bank):
    assert work(web(bank.referrer_user), bank.own, status="accepted").status_code == 403


def test_a_specialist_sees_the_partners_referrals_with_actions(web, bank):
    html = web(bank.specialist_user).get("/referrals").get_data(as_text=True)
    assert "Prospect Gao" in html and "Prospect Hu" in html and "Teller Ma" in html
    assert "Prospect Far" not in html
    assert f'action="/referrals/{bank.own.id}"' in html and "Accept" in html and "Convert" in html


def test_the_status_filter(web, bank, session):
    bank.colleagues.status = ReferralStatus.ACCEPTED
    session.commit()
    html = web(bank.specialist_user).get("/referrals?status=accepted").get_data(as_text=True)
    assert "Prospect Hu" in html and "Prospect Gao" not in html


def test_a_specialist_accepts_rejects_and_converts(web, make, bank, session):
    client = web(bank.specialist_user)
    assert work(client, bank.own, status="accepted").status_code == 302
    assert bank.own.status == ReferralStatus.ACCEPTED
    assert work(client, bank.colleagues, status="rejected", rejection_reason="Not reachable").status_code == 302
    assert (bank.colleagues.status, bank.colleagues.rejection_reason) == (ReferralStatus.REJECTED, "Not reachable")
    holder = make.policyholder(owner=bank.specialist)
    assert work(client, bank.own, status="converted", policyholder_id=str(holder.id)).status_code == 302
    assert (bank.own.status, bank.own.policyholder_id) == (ReferralStatus.CONVERTED, holder.id)
    html = client.get("/referrals").get_data(as_text=True)
    assert "Converted" in html and f'href="/policyholders/{holder.id}"' in html and "Not reachable" in html


@pytest.mark.parametrize(("form", "field", "message"), [
    ({"status": "rejected"}, "rejection_reason", "Say why the referral is rejected."),
    ({"status": "converted"}, "policyholder_id", "Name the policyholder the referral became."),
    ({"status": "converted", "policyholder_id": "other"}, "policyholder_id", "No such policyholder in your book."),
])
def test_a_refused_change_shows_why_and_changes_nothing(web, make, bank, session, form, field, message):
    if form.get("policyholder_id") == "other":
        form = {**form, "policyholder_id": str(make.policyholder().id)}
    client = web(bank.specialist_user)
    response = work(client, bank.own, **form)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and message in html
    prefix = "r" if form["status"] == "rejected" else "c"
    assert f'id="{prefix}{bank.own.id}-{field}-error"' in html
    session.refresh(bank.own)
    assert (bank.own.status, bank.own.policyholder_id, bank.own.rejection_reason) == (
        ReferralStatus.SUBMITTED, None, None)


def test_another_partners_referral_is_not_found(web, bank):
    assert work(web(bank.specialist_user), bank.far, status="accepted").status_code == 404
    assert bank.far.status == ReferralStatus.SUBMITTED


def test_a_specialist_submits_for_a_referrer(web, bank, session):
    client = web(bank.specialist_user)
    html = client.get("/referrals").get_data(as_text=True)
    assert f'<option value="{bank.colleague.id}"' in html and f'<option value="{bank.elsewhere.id}"' not in html
    response = client.post("/referrals", data={"csrf_token": csrf_token(client), "referrer_id": str(bank.colleague.id),
                                               "prospect_name": "Prospect Walk-in"})
    assert response.status_code == 302
    referral = session.scalars(select(Referral).where(Referral.prospect_name == "Prospect Walk-in")).one()
    assert (referral.referrer_id, referral.specialist_agent_id) == (bank.colleague.id, bank.specialist.id)


def test_a_specialist_may_not_submit_for_another_partners_referrer(web, bank, session):
    client = web(bank.specialist_user)
    before = referral_rows(session)
    response = client.post("/referrals", data={"csrf_token": csrf_token(client), "referrer_id": str(bank.elsewhere.id),
                                               "prospect_name": "Prospect Sneaky"})
    assert response.status_code == 422 and "No such referrer among your bank partners." in response.get_data(
        as_text=True)
    assert referral_rows(session) == before


@pytest.mark.parametrize("role", [Role.AGENT, Role.BRANCH_MANAGER, Role.ADMIN, Role.ACTUARY])
def test_other_roles_may_not_open_the_referrals_page(web, make, role):
    assert web(make.user(role)).get("/referrals").status_code == 403


def test_the_list_runs_a_fixed_number_of_queries(web, make, bank):
    client = web(bank.specialist_user)
    client.get("/referrals")  # a first request, so that both counted ones start alike
    counted = []
    for size in (2, 30):
        for _ in range(size):
            make.referral(make.referrer(bank.branch), product_id=bank.product.id)
        db.session.expunge_all()  # the request shares the test's session: start from an empty identity map
        with counted_queries() as queries:
            assert client.get("/referrals").status_code == 200
        counted.append(len(queries))
    assert counted[0] == counted[1]


def test_the_pages_of_a_long_list_keep_the_status_filter(web, make, bank):
    for _ in range(30):
        make.referral(bank.referrer)
    html = web(bank.referrer_user).get("/referrals?status=submitted").get_data(as_text=True)
    assert "Page 1 of 2" in html and 'href="/referrals?status=submitted&amp;page=2"' in html


# -- converting: a policyholder of the book found by a search, or one created from the referral ------------

def test_converting_offers_a_search_of_the_book_never_a_typed_number(web, bank):
    html = web(bank.specialist_user).get("/referrals").get_data(as_text=True)
    row = html.split(f'id="referral-{bank.own.id}"')[1].split("</tr>")[0]
    assert 'hx-get="/policyholders/lookup"' in row and 'value="+8613800138000"' in row  # the search starts on the phone
    assert 'name="policyholder_id"' not in row  # only the search's choices carry it
    assert f'action="/referrals/{bank.own.id}/new-policyholder"' in row and 'value="Prospect Gao"' in row


def test_the_search_without_javascript_offers_the_specialists_book(web, make, bank):
    mine = make.policyholder(owner=bank.specialist, name="Gao Min", phone="+8613800138000")
    make.policyholder(name="Gao Other", phone="+8613800138000")  # another agent's book: never offered
    client = web(bank.specialist_user)
    html = client.get("/referrals", query_string={"convert": bank.own.id, "q": "138 0013 8000"}).get_data(as_text=True)
    row = html.split(f'id="referral-{bank.own.id}"')[1].split("</tr>")[0]
    assert f'name="policyholder_id" value="{mine.id}"' in row and "Gao Min" in row and "Gao Other" not in html
    fragment = client.get("/policyholders/lookup", query_string={"q": "Gao", "field": "policyholder_id",
                                                                 "prefix": f"r{bank.own.id}-"}).get_data(as_text=True)
    assert f'id="r{bank.own.id}-choice-{mine.id}"' in fragment and "Gao Other" not in fragment


def test_converting_into_a_new_policyholder_created_from_the_referral(web, bank, session):
    client = web(bank.specialist_user)
    response = work_new(client, bank.own, name="Prospect Gao", phone="+8613800138000", gender="female")
    holder = session.scalars(select(Policyholder).where(Policyholder.name == "Prospect Gao")).one()
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/policyholders/{holder.id}")
    assert (holder.owner_agent_id, holder.acquisition_channel, holder.referrer_id, holder.bank_partner_id,
            holder.status, holder.phone) == (bank.specialist.id, AcquisitionChannel.BANCASSURANCE, bank.referrer.id,
                                             bank.branch.bank_partner_id, PolicyholderStatus.PROSPECT, "+8613800138000")
    session.refresh(bank.own)
    assert (bank.own.status, bank.own.policyholder_id) == (ReferralStatus.CONVERTED, holder.id)
    assert session.scalar(select(AuditLog.action).where(AuditLog.entity_type == "policyholders",
                                                        AuditLog.entity_id == holder.id)) == "create"
    assert "Referral converted: Prospect Gao is in your book." in client.get(
        response.headers["Location"]).get_data(as_text=True)


def test_a_likely_duplicate_is_shown_before_converting_into_a_new_one(web, make, bank, session):
    existing = make.policyholder(owner=bank.specialist, name="Gao Min", phone="+8613800138000")
    client = web(bank.specialist_user)
    before = holder_rows(session)
    response = work_new(client, bank.own, name="Prospect Gao", phone="13800138000")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "This person may already be on file" in html
    assert f'<a href="/policyholders/{existing.id}">Gao Min</a>' in html
    assert f'form="new-holder-{bank.own.id}"' in html
    instead = html.split("Convert into this one")[0].rsplit("<form", 1)[1]
    assert f'action="/referrals/{bank.own.id}"' in instead and 'name="status" value="converted"' in instead
    assert f'name="policyholder_id" value="{existing.id}"' in instead
    session.refresh(bank.own)
    assert holder_rows(session) == before and bank.own.status == ReferralStatus.SUBMITTED
    confirmed = work_new(client, bank.own, name="Prospect Gao", phone="13800138000", confirm_duplicate="1")
    assert confirmed.status_code == 302 and holder_rows(session) == before + 1


@pytest.mark.parametrize(("form", "field", "message"), [
    ({"name": ""}, "name", "Missing data for required field."),
    ({"name": "X", "phone": "12"}, "phone", "Not a valid phone number"),
    ({"name": "X", "id_type": "prc_resident", "id_number": "123"}, "id_number", "Not a valid PRC resident ID"),
])
def test_a_refused_new_policyholder_shows_why_and_converts_nothing(web, bank, session, form, field, message):
    before = holder_rows(session)
    response = work_new(web(bank.specialist_user), bank.own, **form)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and f'id="n{bank.own.id}-{field}-error"' in html and message in html
    session.refresh(bank.own)
    assert holder_rows(session) == before and bank.own.status == ReferralStatus.SUBMITTED


def test_a_closed_referral_is_not_converted(web, bank, session):
    bank.own.status = ReferralStatus.REJECTED
    bank.own.rejection_reason = "Not reachable"
    session.commit()
    before = holder_rows(session)
    response = work_new(web(bank.specialist_user), bank.own, name="Prospect Gao")
    assert response.status_code == 422 and "A rejected referral cannot become converted." in response.get_data(
        as_text=True)
    assert holder_rows(session) == before


def test_another_partners_referral_is_not_converted(web, bank, session):
    before = holder_rows(session)
    assert work_new(web(bank.specialist_user), bank.far, name="Prospect Far").status_code == 404
    assert work_new(web(bank.referrer_user), bank.own, name="Prospect Gao").status_code == 403
    assert holder_rows(session) == before


def test_the_conversion_search_keeps_the_query_count(web, make, bank):
    client = web(bank.specialist_user)
    client.get("/referrals")
    counted = []
    for size in (2, 30):
        for _ in range(size):
            make.policyholder(owner=bank.specialist, name="Gao")
        db.session.expunge_all()
        with counted_queries() as queries:
            assert client.get("/referrals", query_string={"convert": bank.own.id, "q": "Gao"}).status_code == 200
        counted.append(len(queries))
    assert counted[0] == counted[1]


def work_new(client, referral, **form):
    return client.post(f"/referrals/{referral.id}/new-policyholder", data={"csrf_token": csrf_token(client), **form})


def holder_rows(session) -> int:
    return session.scalar(select(func.count()).select_from(Policyholder))


def test_the_conversion_creates_through_the_policyholders_service(web, bank, session, monkeypatch):
    calls = []
    real = policyholder_services.create_policyholder
    monkeypatch.setattr(policyholder_services, "create_policyholder",
                        lambda data, *, actor: calls.append(data["name"]) or real(data, actor=actor))
    assert work_new(web(bank.specialist_user), bank.own, name="Prospect Gao").status_code == 302
    assert calls == ["Prospect Gao"]
