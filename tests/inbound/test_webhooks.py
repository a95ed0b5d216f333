"""The inbound webhooks: signed by the gateway, bodies validated, messages matched to exactly one policyholder."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from agents.models import Activity, ActivityStatus, TaskReason
from insurecrm.models import AuditLog
from policyholders.messaging.models import ConsentWithdrawal, InboundMessage
from policyholders.models import Direction, Interaction

from .conftest import EMAIL_SECRET


def timeline(session, holder):
    return session.scalars(select(Interaction).where(Interaction.policyholder_id == holder.id)
                           .order_by(Interaction.id)).all()


def tasks_of(session, holder):
    return session.scalars(select(Activity).where(Activity.policyholder_id == holder.id,
                                                  Activity.reason == TaskReason.INBOUND_MESSAGE)).all()


# -- matching -------------------------------------------------------------------------------------------------

def test_an_sms_from_one_policyholders_number_lands_on_their_timeline_with_a_task(gateway, book, session):
    response = gateway("sms", {"from": "138 0013 8001", "text": "Please call me about my renewal",
                               "message_id": "gw-1"})
    assert response.status_code == 200, response.json
    assert response.json == {"id": response.json["id"], "match": "matched", "opt_out": False, "duplicate": False}
    [contact] = timeline(session, book.li)
    assert (contact.channel, contact.direction, contact.summary) == ("sms", Direction.INBOUND,
                                                                     "Please call me about my renewal")
    [task] = tasks_of(session, book.li)
    assert (task.agent_id, task.status, task.org_unit_id) == (book.agent.id, ActivityStatus.PLANNED, book.unit.id)
    message = session.get(InboundMessage, response.json["id"])
    assert (message.policyholder_id, message.interaction_id, message.sender) == (book.li.id, contact.id,
                                                                                 "+8613800138001")


def test_a_second_message_adds_to_the_timeline_but_not_a_second_open_task(gateway, book, session):
    gateway("sms", {"from": "+8613800138001", "text": "Hello"})
    gateway("sms", {"from": "+8613800138001", "text": "Are you there?"})
    assert len(timeline(session, book.li)) == 2
    assert len(tasks_of(session, book.li)) == 1


def test_a_gateways_retry_of_the_same_message_id_does_nothing_more(gateway, book, session):
    first = gateway("sms", {"from": "+8613800138001", "text": "Hello", "message_id": "gw-7"})
    again = gateway("sms", {"from": "+8613800138001", "text": "Hello", "message_id": "gw-7"})
    assert again.json == {**first.json, "duplicate": True}
    assert len(timeline(session, book.li)) == 1


def test_an_email_is_matched_by_its_address_in_any_case_and_keeps_what_it_answers(gateway, book, session):
    response = gateway("email", {"from": "Li Na <LI.NA@example.COM>", "subject": "Re: Your policy",
                                 "text": "Thanks, I will renew.", "in_reply_to": "<renewal.1@insurer.example>"})
    assert response.json["match"] == "matched"
    [contact] = timeline(session, book.li)
    assert contact.channel == "email" and contact.summary == "Re: Your policy\n\nThanks, I will renew."
    message = session.get(InboundMessage, response.json["id"])
    assert message.in_reply_to == "<renewal.1@insurer.example>" and message.sender == "li.na@example.com"
    assert len(tasks_of(session, book.li)) == 1


@pytest.mark.parametrize("sender", ["+862161234567", "021 6123 4567"])
def test_a_number_two_policyholders_share_matches_none_and_waits_for_a_manager(gateway, book, session, sender):
    response = gateway("sms", {"from": sender, "text": "Who is my agent?"})
    assert response.json["match"] == "ambiguous"
    message = session.get(InboundMessage, response.json["id"])
    assert (message.policyholder_id, message.candidates, message.handled_at) == (None, 2, None)
    assert timeline(session, book.wang) == timeline(session, book.wife) == []
    assert tasks_of(session, book.wang) == tasks_of(session, book.wife) == []


@pytest.mark.parametrize(("channel", "sender"), [("sms", "+8613912345678"), ("sms", "10086"),
                                                 ("email", "stranger@example.com")])
def test_an_unknown_sender_matches_nobody(gateway, book, session, channel, sender):
    response = gateway(channel, {"from": sender, "text": "hello"})
    assert response.status_code == 200 and response.json["match"] == "unknown"
    assert session.scalar(select(func.count()).select_from(Interaction)) == 0


# -- opt-out by keyword ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["STOP", " td ", "退订", "Stop.", "T"])
def test_an_opt_out_keyword_withdraws_sms_consent_at_once_audited(gateway, book, session, text):
    response = gateway("sms", {"from": "+8613800138001", "text": text})
    assert response.json["opt_out"] is True
    session.refresh(book.li)
    assert book.li.consent_sms is False and book.li.consent_email is True
    [withdrawal] = session.scalars(select(ConsentWithdrawal)).all()
    assert (withdrawal.policyholder_id, withdrawal.channel, withdrawal.method) == (book.li.id, "sms", "keyword")
    audit = session.scalars(select(AuditLog).where(AuditLog.entity_type == "policyholders",
                                                   AuditLog.entity_id == book.li.id,
                                                   AuditLog.action == "update")).all()
    assert [(row.actor_label, row.changes["consent_sms"]) for row in audit] == [("unsubscribe:keyword",
                                                                                 [True, False])]
    [contact] = timeline(session, book.li)
    assert contact.outcome == "Consent withdrawn"
    assert tasks_of(session, book.li) == []


def test_a_sentence_containing_stop_is_a_message_not_an_opt_out(gateway, book, session):
    gateway("sms", {"from": "+8613800138001", "text": "Please don't stop my policy"})
    session.refresh(book.li)
    assert book.li.consent_sms is True and len(tasks_of(session, book.li)) == 1


def test_an_opt_out_from_a_shared_number_stops_messages_to_everyone_who_has_it(gateway, book, session):
    gateway("sms", {"from": "+862161234567", "text": "TD"})
    for holder in (book.wang, book.wife):
        session.refresh(holder)
        assert holder.consent_sms is False


def test_an_email_whose_subject_is_unsubscribe_withdraws_email_consent(gateway, book, session):
    gateway("email", {"from": "li.na@example.com", "subject": "Unsubscribe", "text": ""})
    session.refresh(book.li)
    assert (book.li.consent_email, book.li.consent_sms) == (False, True)


# -- authentication and bad bodies ------------------------------------------------------------------------------

def test_an_unsigned_or_wrongly_signed_call_is_401_and_writes_nothing(gateway, client, book, session):
    body = {"from": "+8613800138001", "text": "hello"}
    assert client.post("/api/v1/inbound/sms", json=body).status_code == 401
    assert gateway("sms", body, secret="guess").status_code == 401
    assert gateway("sms", body, secret=EMAIL_SECRET).status_code == 401  # the other channel's secret
    assert gateway("sms", body, timestamp=int(time.time()) - 3600).status_code == 401  # a replay
    response = gateway("email", body, secret="guess")
    assert response.status_code == 401 and "X-InsureCRM-Signature" in response.json["message"]
    assert session.scalar(select(func.count()).select_from(InboundMessage)) == 0


def test_a_user_token_is_no_signature(api, gateway, book):
    response = api(book.admin).post("/api/v1/inbound/sms", json={"from": "+8613800138001", "text": "hi"})
    assert response.status_code == 401


def test_without_a_configured_secret_the_webhook_is_off(app, monkeypatch, gateway, book):
    monkeypatch.setitem(app.config, "INBOUND_SMS_SECRET", None)
    assert gateway("sms", {"from": "+8613800138001", "text": "hi"}).status_code == 403


@pytest.mark.parametrize(("channel", "body", "field"), [
    ("sms", {"from": "+8613800138001", "text": "hi", "no_such_field": 1}, "no_such_field"),
    ("sms", {"text": "hi"}, "from"),
    ("sms", {"from": "+8613800138001", "text": "x" * 2001}, "text"),
    ("sms", {"from": "+8613800138001", "text": "a\x00b"}, "text"),
    ("sms", [1, 2], None),
    ("email", {"from": "li.na@example.com"}, "text"),
    ("email", {"from": "li.na@example.com", "text": "hi", "subject": "s" * 256}, "subject"),
    ("email", {"from": "li.na@example.com", "text": "hi", "received_at": "yesterday"}, "received_at"),
])
def test_bad_bodies_are_422_with_the_field_and_write_nothing(gateway, book, session, channel, body, field):
    response = gateway(channel, body)
    assert response.status_code == 422, response.json
    if field:
        assert field in response.json["errors"]
    assert session.scalar(select(func.count()).select_from(InboundMessage)) == 0


def test_broken_json_and_a_huge_body_are_refused_without_a_500(gateway, book):
    assert gateway("sms", None, raw=b"{not json").status_code == 422
    assert gateway("sms", None, raw=b'{"text": "' + b"x" * 300_000 + b'"}').status_code == 413
