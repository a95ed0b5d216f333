"""Message templates: seeded defaults, admins' edits (422 when they do not compile), preview, fallbacks."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from insurecrm.models import AuditLog, OutboxChannel, Role
from insurecrm.outbox.defaults import DEFAULT_TEMPLATES
from insurecrm.outbox.models import MessageTemplate
from insurecrm.outbox.rendering import candidates, render_message
from insurecrm.outbox.templates import ensure_default_templates
from tests.api_client import csrf_token
from tests.outbox.conftest import REMINDER

EDIT = "/admin/ops/templates/edit"


@pytest.fixture
def admin(web, make):
    return web(make.user(Role.ADMIN))


def post(client, path: str, data: dict):
    return client.post(path, data={"csrf_token": csrf_token(client), **data})


def count(session) -> int:
    return session.scalar(select(func.count(MessageTemplate.id)))


def template(session, kind="renewal_reminder", language="en", channel=OutboxChannel.EMAIL) -> MessageTemplate:
    return session.scalar(select(MessageTemplate).filter_by(kind=kind, language=language, channel=channel))


def test_defaults_are_seeded_once_and_never_overwrite_an_edit(session):
    assert ensure_default_templates(session) == len(DEFAULT_TEMPLATES) == 16
    template(session).body = "Edited."
    session.delete(template(session, "birthday", "zh", OutboxChannel.SMS))
    session.commit()
    assert ensure_default_templates(session) == 1
    assert template(session).body == "Edited." and count(session) == 16


def test_the_fallback_chain_is_the_language_then_english_then_generic(session):
    assert candidates("birthday", "zh") == [("birthday", "zh"), ("birthday", "en"), ("generic", "zh"),
                                            ("generic", "en")]
    # no rows at all: the built-in wording
    message = render_message(session, kind="renewal_reminder", language="zh", channel="sms", payload=REMINDER)
    assert message.template == "renewal_reminder/zh/sms" and message.body.startswith("【续保提醒】")
    ensure_default_templates(session)
    session.delete(template(session, "birthday", "zh"))
    session.commit()
    assert render_message(session, kind="birthday", language="zh", channel="email",
                          payload=REMINDER).template == "birthday/en/email"


def test_the_list_shows_the_seeded_templates(admin, session):
    page = admin.get("/admin/ops/templates")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Your policy {{ policy_number }}" in html
    assert "Renewal escalation" in html and ">renewal_escalation<" not in html  # the kind's label, not its code
    assert count(session) == 16
    assert admin.get("/admin/ops/templates?language=zh&channel=sms").get_data(as_text=True).count("<tr>") == 1 + 4
    assert admin.get("/admin/ops/templates?channel=pigeon").status_code == 422


def test_an_admin_edits_the_wording_audited(admin, session):
    admin.get("/admin/ops/templates")
    edited = template(session, "birthday", "zh")
    form = admin.get(f"{EDIT}?id={edited.id}")
    assert form.status_code == 200 and "生日快乐" in form.get_data(as_text=True)
    response = post(admin, EDIT, {"id": edited.id, "action": "save", "subject": "生日快乐，{{ policyholder_name }}",
                                  "body": "亲爱的 {{ policyholder_name }}，生日快乐！"})
    assert response.status_code == 302
    session.refresh(edited)
    assert edited.body == "亲爱的 {{ policyholder_name }}，生日快乐！"
    assert session.scalar(select(AuditLog).where(AuditLog.entity_type == "message_templates",
                                                 AuditLog.entity_id == edited.id, AuditLog.action == "update"))
    assert render_message(session, kind="birthday", language="zh", channel="email",
                          payload=REMINDER).body == "亲爱的 Li Wei，生日快乐！\n"


@pytest.mark.parametrize(("field", "source"), [("body", "Dear {% if policyholder_name %}"),
                                              ("body", "{{ policyholder_name|no_such_filter }}"),
                                              ("subject", "Your policy {{ policy_number }")])
def test_a_template_that_does_not_compile_is_refused_422_and_nothing_changes(admin, session, field, source):
    admin.get("/admin/ops/templates")
    edited = template(session)
    before = (edited.subject, edited.body)
    data = {"id": edited.id, "action": "save", "subject": edited.subject, "body": edited.body, field: source}
    response = post(admin, EDIT, data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="f-{field}-error"' in html and "does not compile" in html and "line 1" in html
    assert source in html  # the form comes back as it was typed
    session.refresh(edited)
    assert (edited.subject, edited.body) == before


def test_a_new_template_is_created_and_a_second_one_for_the_same_key_refused(admin, session):
    assert "Dear {{ policyholder_name }}" in admin.get(f"{EDIT}?kind=anniversary&language=en&channel=email").get_data(
        as_text=True)  # a new template starts from the wording its key gets today (here the generic one)
    data = {"action": "save", "kind": "anniversary", "language": "zh", "channel": "sms",
            "subject": "ignored for SMS", "body": "{{ policyholder_name }}，感谢您与我们同行一年。"}
    assert post(admin, EDIT, data).status_code == 302
    created = template(session, "anniversary", "zh", OutboxChannel.SMS)
    assert created.subject is None
    again = post(admin, EDIT, data)
    assert again.status_code == 422 and "exists already" in again.get_data(as_text=True)
    assert count(session) == 1


@pytest.mark.parametrize(("data", "field"), [
    ({"kind": "Renewal Reminder"}, "kind"),
    ({"language": "fr"}, "language"),
    ({"channel": "task"}, "channel"),
    ({"subject": ""}, "subject"),  # an email needs one
    ({"body": ""}, "body"),
])
def test_a_new_template_with_bad_fields_is_refused_with_the_message_by_the_field(admin, session, data, field):
    form = {"action": "save", "kind": "anniversary", "language": "en", "channel": "email", "subject": "Hi",
            "body": "Hello {{ policyholder_name }}", **data}
    response = post(admin, EDIT, form)
    assert response.status_code == 422
    assert f'id="f-{field}-error"' in response.get_data(as_text=True)
    assert count(session) == 0


def test_preview_renders_the_typed_wording_with_the_sample_and_saves_nothing(admin, session):
    admin.get("/admin/ops/templates")
    edited = template(session, "renewal_reminder", "zh")
    before = edited.body
    sample = json.dumps({**REMINDER, "expiry_date": "2027-01-05"})
    response = post(admin, EDIT, {"id": edited.id, "action": "preview", "subject": edited.subject,
                                  "body": "{{ policyholder_name }}：保单将于 {{ expiry_date|day }} 到期。",
                                  "sample": sample})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Li Wei：保单将于 2027年1月5日 到期。" in html and "您的保单 P2026000123 将于 2027年1月5日 到期" in html
    session.refresh(edited)
    assert edited.body == before


@pytest.mark.parametrize(("body", "sample", "field", "says"), [
    ("{{ missing_value }}", "{}", "body", "missing_value"),
    ("{{ policyholder_name.__class__.__mro__ }}", '{"policyholder_name": "x"}', "body", "unsafe"),
    ("Hi", "not json", "sample", "Not valid JSON"),
    ("Hi", "[1, 2]", "sample", "JSON object"),
])
def test_a_preview_that_cannot_render_is_refused_422(admin, session, body, sample, field, says):
    response = post(admin, EDIT, {"action": "preview", "kind": "x", "language": "en", "channel": "sms", "body": body,
                                  "sample": sample})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="f-{field}-error"' in html and says in html
    assert count(session) == 0


def test_an_unknown_template_id_is_404(admin):
    assert admin.get(f"{EDIT}?id=999999").status_code == 404
