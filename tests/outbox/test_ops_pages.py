"""The operations pages: job runs and the outbox for admins, with a human's decision on failed messages."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from insurecrm.models import AuditLog, JobRun, JobRunStatus, Outbox, OutboxChannel, OutboxStatus, Role
from insurecrm.outbox.models import MessageTemplate
from insurecrm.outbox.sender import UNCERTAIN_ERROR
from tests.api_client import csrf_token
from tests.helpers import counted_queries
from tests.outbox.conftest import NOW, REMINDER, queue

PAGES = ["/admin/ops/jobs", "/admin/ops/outbox", "/admin/ops/templates", "/admin/ops/templates/edit"]
OTHERS = [Role.BRANCH_MANAGER, Role.AGENT, Role.ACTUARY, Role.BANK_REFERRER, Role.BANCASSURANCE_SPECIALIST]


@pytest.fixture
def admin(web, make):
    return web(make.user(Role.ADMIN))


def post(client, path: str, data: dict):
    return client.post(path, data={"csrf_token": csrf_token(client), **data})


@pytest.fixture
def runs(session):
    rows = [JobRun(job_id="policies.open_renewal_cases", logical_date=date(2026, 11, 20) + timedelta(days=n),
                   status=JobRunStatus.SUCCEEDED, started_at=NOW + timedelta(days=n), host="web-1",
                   counts={"cases_opened": 12 + n, "reminders_queued": 3}) for n in range(2)]
    rows.append(JobRun(job_id="policies.lapse_policies", logical_date=date(2026, 11, 21), attempt_key="x1",
                       status=JobRunStatus.FAILED, started_at=NOW, host="web-2",
                       error="Traceback (most recent call last):\n  ...\nRuntimeError: database went away"))
    session.add_all(rows)
    session.commit()
    return rows


@pytest.mark.parametrize("role", OTHERS)
def test_only_admins(web, make, session, role):
    client = web(make.user(role))
    for path in PAGES:
        assert client.get(path).status_code == 403
    row = queue(session, key="k", status=OutboxStatus.FAILED, last_error="x")
    assert post(client, "/admin/ops/outbox/resolve", {"id": row.id, "action": "resend"}).status_code == 403
    assert post(client, "/admin/ops/templates/edit", {"action": "save", "kind": "x", "language": "en",
                                                      "channel": "sms", "body": "x"}).status_code == 403
    assert row.status == OutboxStatus.FAILED
    assert session.scalar(select(func.count(MessageTemplate.id))) == 0


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_job_runs_list_with_counts_errors_and_filters(admin, runs):
    html = admin.get("/admin/ops/jobs").get_data(as_text=True)
    assert "policies.open_renewal_cases" in html and "web-2" in html
    assert "cases opened: 13" in html and "reminders queued: 3" in html
    assert "RuntimeError: database went away" in html
    failed = admin.get("/admin/ops/jobs?status=failed").get_data(as_text=True)
    assert "database went away" in failed and "cases opened" not in failed
    by_job = admin.get("/admin/ops/jobs?job=policies.open_renewal_cases").get_data(as_text=True)
    assert "cases opened: 12" in by_job and "database went away" not in by_job
    assert admin.get("/admin/ops/jobs?status=maybe").status_code == 422


def test_outbox_lists_rows_with_counts_by_status_and_filters(admin, session):
    queue(session, key="a", recipient="pending@example.com")
    queue(session, key="b", status=OutboxStatus.SENT, recipient="sent@example.com")
    queue(session, key="c", status=OutboxStatus.FAILED, last_error="SMTP refused", recipient="failed@example.com")
    queue(session, key="d", status=OutboxStatus.FAILED, last_error=UNCERTAIN_ERROR, recipient="unsure@example.com")
    queue(session, key="e", channel=OutboxChannel.TASK, recipient=None, kind="new_policy_callback")
    html = admin.get("/admin/ops/outbox").get_data(as_text=True)
    for address in ("pending@", "sent@", "failed@", "unsure@"):
        assert address in html
    assert "<strong>2</strong>Pending" in html and "<strong>1</strong>Uncertain: needs a human" in html
    assert "<strong>1</strong>Failed" in html and "check with the recipient" in html
    uncertain = admin.get("/admin/ops/outbox?status=uncertain").get_data(as_text=True)
    assert "unsure@" in uncertain and "failed@" not in uncertain
    tasks = admin.get("/admin/ops/outbox?channel=task").get_data(as_text=True)
    assert "new_policy_callback" in tasks and "pending@" not in tasks
    assert "failed@" in admin.get("/admin/ops/outbox?status=failed").get_data(as_text=True)
    assert admin.get("/admin/ops/outbox?status=lost").status_code == 422


def test_every_row_shows_its_recipient_and_subject_worded_before_it_is_sent(admin, session):
    queue(session, key="mail", recipient="pending@example.com")  # not worded yet: no subject stored
    queue(session, key="text", channel=OutboxChannel.SMS, recipient="+8613800000000")
    queue(session, key="broken", recipient="broken@example.com", payload={})  # lacks what the template needs
    sent = queue(session, key="done", status=OutboxStatus.SENT, recipient="sent@example.com",
                 subject="Your policy was renewed", body="Thank you.")
    html = admin.get("/admin/ops/outbox").get_data(as_text=True)
    rows = {key: re.search(rf"<tr>(?:(?!</tr>).)*{re.escape(address)}(?:(?!</tr>).)*</tr>", html, re.S).group(0)
            for key, address in (("mail", "pending@"), ("text", "+8613800000000"), ("broken", "broken@"),
                                 ("done", "sent@"))}
    assert f"Your policy {REMINDER['policy_number']} expires on" in rows["mail"]
    assert "as it will be worded" in rows["mail"]
    assert REMINDER["policyholder_name"] in rows["text"] and "as it will be worded" in rows["text"]
    assert "⚠" in rows["broken"]
    assert sent.subject in rows["done"] and "as it will be worded" not in rows["done"]


def test_pages_run_a_fixed_number_of_queries(admin, session, runs):
    for n in range(3):
        queue(session, key=f"k{n}")
    admin.get("/admin/ops/templates")  # seeds
    for path in ("/admin/ops/jobs", "/admin/ops/outbox", "/admin/ops/templates"):
        with counted_queries() as few:
            admin.get(path)
        session.add_all([JobRun(job_id=f"x.job{n}", logical_date=date(2026, 1, 1), attempt_key=f"{path}{n}",
                                status=JobRunStatus.SUCCEEDED, started_at=NOW) for n in range(5)])
        for n in range(5):
            queue(session, key=f"{path}{n}", status=OutboxStatus.FAILED, last_error="x")
        with counted_queries() as more:
            admin.get(path)
        assert len(few) == len(more), path


def test_an_admin_sends_an_uncertain_message_again_or_marks_it_sent_audited(admin, session):
    again = queue(session, key="a", status=OutboxStatus.FAILED, last_error=UNCERTAIN_ERROR, attempts=1)
    arrived = queue(session, key="b", status=OutboxStatus.FAILED, last_error=UNCERTAIN_ERROR, attempts=1)
    response = post(admin, "/admin/ops/outbox/resolve", {"id": again.id, "action": "resend",
                                                         "next": "/admin/ops/outbox?status=uncertain"})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/ops/outbox?status=uncertain"
    assert post(admin, "/admin/ops/outbox/resolve", {"id": arrived.id, "action": "mark_sent",
                                                     "next": "https://elsewhere.example/"}).headers["Location"] \
        == "/admin/ops/outbox"
    session.refresh(again)
    session.refresh(arrived)
    assert (again.status, again.attempts, again.last_error) == (OutboxStatus.PENDING, 0, None)
    assert arrived.status == OutboxStatus.SENT and arrived.sent_at is not None
    actions = session.execute(select(AuditLog.action, AuditLog.entity_id, AuditLog.changes)
                              .where(AuditLog.entity_type == "outbox").order_by(AuditLog.id)).all()
    assert [(a, i) for a, i, _c in actions] == [("resend", again.id), ("mark_sent", arrived.id)]
    assert actions[0][2]["last_error"] == [UNCERTAIN_ERROR, None]


def test_only_failed_messages_can_be_resolved_by_hand(admin, session):
    pending = queue(session, key="a")
    response = post(admin, "/admin/ops/outbox/resolve", {"id": pending.id, "action": "mark_sent"})
    assert response.status_code == 422
    session.refresh(pending)
    assert pending.status == OutboxStatus.PENDING
    assert post(admin, "/admin/ops/outbox/resolve", {"id": pending.id, "action": "shred"}).status_code == 422
    assert post(admin, "/admin/ops/outbox/resolve", {"id": 999999, "action": "resend"}).status_code == 404
    assert session.scalar(select(func.count(AuditLog.id)).where(AuditLog.entity_type == "outbox")) == 0
    assert session.scalar(select(func.count(Outbox.id))) == 1
