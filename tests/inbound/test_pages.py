"""The public unsubscribe page, the managers' list of unmatched messages, and what the 360° page shows of both."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from agents.models import Activity, TaskReason
from insurecrm.models import AuditLog, Outbox, OutboxChannel, OutboxStatus
from insurecrm.outbox.sender import send_pending
from policyholders.messaging.consent import unsubscribe_token
from policyholders.messaging.models import ConsentWithdrawal, InboundMessage
from policyholders.models import Interaction


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


# -- the unsubscribe link -----------------------------------------------------------------------------------------

def test_opening_the_link_changes_nothing_and_confirming_withdraws_audited(app, book, session):
    client = app.test_client()
    url = f"/unsubscribe/{unsubscribe_token(book.li.id, 'email')}"
    page = client.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Stop emails from us" in html and 'lang="en"' in html
    session.refresh(book.li)
    assert book.li.consent_email is True  # a mail scanner following the link withdraws nothing

    done = client.post(url, data={"csrf_token": csrf_of(html)})
    assert done.status_code == 200 and 'id="unsubscribed"' in done.get_data(as_text=True)
    session.refresh(book.li)
    assert (book.li.consent_email, book.li.consent_sms) == (False, True)
    [audit] = session.scalars(select(AuditLog).where(AuditLog.entity_type == "policyholders",
                                                     AuditLog.entity_id == book.li.id,
                                                     AuditLog.action == "update")).all()
    assert audit.actor_label == "unsubscribe:link" and audit.changes["consent_email"] == [True, False]
    [withdrawal] = session.scalars(select(ConsentWithdrawal)).all()
    assert (withdrawal.channel, withdrawal.method) == ("email", "link")
    [contact] = session.scalars(select(Interaction).where(Interaction.policyholder_id == book.li.id)).all()
    assert contact.channel == "email" and "Unsubscribed from email" in contact.summary

    again = client.post(url, data={"csrf_token": csrf_of(html)})
    assert again.status_code == 200
    assert len(session.scalars(select(ConsentWithdrawal)).all()) == 1  # a second click records nothing more


def test_confirming_without_the_csrf_token_is_refused(app, book, session):
    client = app.test_client()
    response = client.post(f"/unsubscribe/{unsubscribe_token(book.li.id, 'email')}")
    assert response.status_code == 400
    session.refresh(book.li)
    assert book.li.consent_email is True


@pytest.mark.parametrize("token", ["nonsense", "WzEsImVtYWlsIl0.forged", "x" * 2000])
def test_a_token_we_did_not_sign_is_404(client, book, token):
    assert client.get(f"/unsubscribe/{token}").status_code == 404


def test_the_page_is_in_the_policyholders_language(app, book, session):
    book.wang.preferred_language = "zh"
    session.commit()
    html = app.test_client().get(f"/unsubscribe/{unsubscribe_token(book.wang.id, 'sms')}").get_data(as_text=True)
    assert 'lang="zh-CN"' in html


def test_a_queued_email_is_not_sent_after_the_link_was_used(app, book, session):
    row = Outbox(idempotency_key="r:li", kind="renewal_reminder", channel=OutboxChannel.EMAIL,
                 recipient=book.li.email, language="en", policyholder_id=book.li.id,
                 payload={"policyholder_name": "Li Na", "policy_number": "P1", "expiry_date": "2099-01-01"})
    session.add(row)
    session.commit()
    client = app.test_client()
    url = f"/unsubscribe/{unsubscribe_token(book.li.id, 'email')}"
    client.post(url, data={"csrf_token": csrf_of(client.get(url).get_data(as_text=True))})
    assert send_pending(10)["skipped"] == 1
    session.refresh(row)
    assert row.status == OutboxStatus.SKIPPED


# -- the 360° page ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_policyholders_page_shows_the_withdrawal_and_the_messages(web, gateway, book, language):
    gateway("sms", {"from": "+8613800138001", "text": "STOP"})
    gateway("email", {"from": "li.na@example.com", "subject": "Question", "text": "When is my premium due?"})
    client = web(book.admin)
    with client.session_transaction() as session:
        session["lang"] = language
    html = client.get(f"/policyholders/{book.li.id}").get_data(as_text=True)
    consent = re.search(r'id="consent-sms">(.*?)</span>', html, re.S).group(1)
    assert re.search(r"\d{4}", consent)  # the date it was withdrawn
    assert "When is my premium due?" in html and "Replied with the opt-out keyword" in html
    assert f'lang="{"zh-CN" if language == "zh" else "en"}"' in html


# -- the unmatched list --------------------------------------------------------------------------------------------

def test_a_manager_gives_an_unmatched_message_to_a_policyholder_of_their_book(web, gateway, book, session):
    message_id = gateway("sms", {"from": "+862161234567", "text": "This is Wang Wei, call me"}).json["id"]
    client = web(book.manager)
    page = client.get("/inbound/unmatched")
    assert page.status_code == 200 and "This is Wang Wei, call me" in page.get_data(as_text=True)
    search = client.get(f"/inbound/unmatched?assign={message_id}&q=Wang").get_data(as_text=True)
    assert f'value="{book.wang.id}"' in search
    response = client.post("/inbound/unmatched", data={"csrf_token": csrf_of(search), "message_id": message_id,
                                                        "policyholder_id": book.wang.id})
    assert response.status_code == 302
    message = session.get(InboundMessage, message_id)
    assert message.policyholder_id == book.wang.id and message.handled_by_user_id == book.manager.id
    assert session.scalar(select(Activity).where(Activity.policyholder_id == book.wang.id,
                                                 Activity.reason == TaskReason.INBOUND_MESSAGE)) is not None
    assert "This is Wang Wei" not in client.get("/inbound/unmatched").get_data(as_text=True)


def test_setting_a_message_aside_and_handling_it_twice(web, gateway, book, session):
    message_id = gateway("sms", {"from": "+8613912345678", "text": "spam"}).json["id"]
    client = web(book.admin)
    token = csrf_of(client.get("/inbound/unmatched").get_data(as_text=True))
    data = {"csrf_token": token, "message_id": message_id, "action": "set_aside"}
    assert client.post("/inbound/unmatched", data=data).status_code == 302
    assert session.get(InboundMessage, message_id).handled_at is not None
    assert client.post("/inbound/unmatched", data=data).status_code == 404  # not waiting any more


def test_a_manager_cannot_give_a_message_to_a_policyholder_outside_their_book(web, make, gateway, book, session):
    stranger = make.policyholder(name="Far Away")
    message_id = gateway("sms", {"from": "+8613912345678", "text": "hello"}).json["id"]
    client = web(book.manager)
    token = csrf_of(client.get("/inbound/unmatched").get_data(as_text=True))
    response = client.post("/inbound/unmatched", data={"csrf_token": token, "message_id": message_id,
                                                        "policyholder_id": stranger.id})
    assert response.status_code == 404
    assert session.get(InboundMessage, message_id).policyholder_id is None


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_unmatched_page_in_both_languages(web, gateway, book, language):
    gateway("email", {"from": "who@example.com", "text": "hi"})
    client = web(book.admin)
    with client.session_transaction() as session:
        session["lang"] = language
    html = client.get("/inbound/unmatched").get_data(as_text=True)
    assert "who@example.com" in html and f'lang="{"zh-CN" if language == "zh" else "en"}"' in html


def test_agents_may_not_open_the_unmatched_list(web, book):
    assert web(book.agent_user).get("/inbound/unmatched").status_code == 403


def test_the_link_of_a_record_merged_since_withdraws_the_kept_records_consent(app, book, session):
    from policyholders.merging.models import PolicyholderMerge

    old_token = unsubscribe_token(book.wife.id, "sms")
    session.add(PolicyholderMerge(survivor_id=book.wang.id, merged_id=book.wife.id))
    session.delete(book.wife)
    session.commit()
    client = app.test_client()
    url = f"/unsubscribe/{old_token}"
    client.post(url, data={"csrf_token": csrf_of(client.get(url).get_data(as_text=True))})
    session.refresh(book.wang)
    assert book.wang.consent_sms is False
