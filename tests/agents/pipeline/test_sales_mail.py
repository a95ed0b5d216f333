"""The scheduled sales reports: after each day, ISO week and month closes, each manager above an agent gets the sales
report of their branch, exactly once per period and recipient, in their language, with the report as a PDF — read
back from a real SMTP server."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from agents.models import AgentStatus, OrgUnitKind
from agents.pipeline.sales_mail import closed_periods, email_sales_reports, recipients
from insurecrm import clock, jobplan, jobs
from insurecrm.models import Outbox, OutboxStatus, Role
from insurecrm.outbox.models import OutboxAttachment
from insurecrm.outbox.sender import send_pending
from tests.outbox.conftest import FROM, smtp_server
from tests.reports.test_sales import build_sales_book

JOB = "agents.sales_reports"
#: Monday 30 November 2026, 03:00 in Shanghai: the day of the 29th and the week of 23–29 November have closed
MONDAY = datetime(2026, 11, 29, 19, 0, tzinfo=UTC)
#: Tuesday 1 December 2026, 03:00 in Shanghai: the 30th and the month of November have closed
DECEMBER_1 = datetime(2026, 11, 30, 19, 0, tzinfo=UTC)


@pytest.fixture
def book(make, session):
    book = build_sales_book(make, session)
    # the manager of branch F reads Chinese; one of the company above both branches has no email; one of an empty
    # unit is above no agent; an inactive agent makes no one a recipient
    book.far_manager = make.user(Role.BRANCH_MANAGER, org_unit_id=book.other_branch.id, email="far@example.com",
                                 preferred_language="zh")
    book.head = make.user(Role.BRANCH_MANAGER, org_unit_id=book.company.id)
    empty = make.org_unit(book.company, kind=OrgUnitKind.BRANCH)
    make.agent(empty, status=AgentStatus.INACTIVE)
    make.user(Role.BRANCH_MANAGER, org_unit_id=empty.id, email="empty@example.com")
    session.commit()
    return book


@pytest.fixture
def mailbox(app, monkeypatch):
    with smtp_server() as (box, port):
        monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
        monkeypatch.setitem(app.config, "MAIL_PORT", port)
        monkeypatch.setitem(app.config, "MAIL_FROM", FROM)
        yield box


def sales_rows(session) -> list[tuple[str, str]]:
    return sorted(tuple(row) for row in session.execute(select(Outbox.idempotency_key, Outbox.recipient)
                                                        .where(Outbox.kind == "sales_report")))


def test_the_periods_a_date_closes():
    assert closed_periods(date(2026, 11, 25)) == [("day", date(2026, 11, 24), date(2026, 11, 24))]
    assert closed_periods(date(2026, 11, 30)) == [("day", date(2026, 11, 29), date(2026, 11, 29)),
                                                  ("week", date(2026, 11, 23), date(2026, 11, 29))]
    assert closed_periods(date(2026, 12, 1)) == [("day", date(2026, 11, 30), date(2026, 11, 30)),
                                                 ("month", date(2026, 11, 1), date(2026, 11, 30))]
    # Monday 1 February 2027: a week and a month close together
    assert [kind for kind, _start, _end in closed_periods(date(2027, 2, 1))] == ["day", "week", "month"]


def test_the_managers_above_an_active_agent(book):
    assert [(user.id, unit.id) for user, unit in recipients()] == [
        (book.manager.id, book.branch.id), (book.far_manager.id, book.other_branch.id), (book.head.id, book.company.id)]


def test_once_per_period_and_recipient_across_reruns_and_restarts(book, session):
    manager, far = book.manager.id, book.far_manager.id
    with clock.frozen(MONDAY):
        run = jobs.run_job(jobs.registered([JOB])[0], date(2026, 11, 30))
        assert run.counts == {"sales_reports_queued": 4, "sales_reports_without_email": 2}
        assert jobs.run_job(jobs.registered([JOB])[0], date(2026, 11, 30)) is None  # claimed: not run again
        # a run that crashed after queueing, before its claim: the same date again queues nothing
        assert email_sales_reports(date(2026, 11, 30))["sales_reports_queued"] == 0
    expected = [(f"sales_report:day=2026-11-29:user={manager}", "manager.b@example.com"),
                (f"sales_report:day=2026-11-29:user={far}", "far@example.com"),
                (f"sales_report:week=2026-11-23:user={manager}", "manager.b@example.com"),
                (f"sales_report:week=2026-11-23:user={far}", "far@example.com")]
    assert sales_rows(session) == sorted(expected)
    # the scheduler restarts the next day: it runs what is owed (the 1st), and the 30th stays as it was
    with clock.frozen(DECEMBER_1):
        jobplan.run_owed(date(2026, 12, 1), [JOB])
        jobplan.run_owed(date(2026, 12, 1), [JOB])
        assert email_sales_reports(date(2026, 11, 30))["sales_reports_queued"] == 0
    expected += [(f"sales_report:day=2026-11-30:user={manager}", "manager.b@example.com"),
                 (f"sales_report:day=2026-11-30:user={far}", "far@example.com"),
                 (f"sales_report:month=2026-11-01:user={manager}", "manager.b@example.com"),
                 (f"sales_report:month=2026-11-01:user={far}", "far@example.com")]
    assert sales_rows(session) == sorted(expected)
    assert session.scalar(select(func.count(OutboxAttachment.id))) == 8


def test_the_email_arrives_with_its_pdf_in_the_recipients_language(book, session, mailbox):
    with clock.frozen(MONDAY):
        email_sales_reports(date(2026, 11, 30))
        counts = send_pending()
    assert counts["sent"] == 4
    by_subject = {message["Subject"]: message for message in mailbox.messages}
    weekly = by_subject["Weekly sales report, Branch B: November 23, 2026 – November 29, 2026"]
    assert weekly["To"] == "manager.b@example.com"
    text = weekly.get_body(("plain",)).get_content()
    # o1 and o3 (1,300.00), o2 won (2,500.50), o3 lost (300.00); c1 and c2 worked, c2 renewed
    assert "New opportunities: 2 (CN¥1,300.00 expected premium)" in text
    assert "Won: 1 (CN¥2,500.50)" in text and "Lost: 1 (CN¥300.00)" in text
    assert "Renewals worked: 2, renewed: 1" in text
    [pdf] = [part for part in weekly.iter_attachments()]
    assert (pdf.get_content_type(), pdf.get_filename()) == ("application/pdf", "sales-report-week-2026-11-23.pdf")
    pages = PdfReader(io.BytesIO(pdf.get_content())).pages
    document = " ".join(page.extract_text() for page in pages)
    assert "Agent One" in document and "Agent Two" in document and "Agent Three" in document
    assert "2,500.50" in document and "1,000.00" in document and "Agent Far" not in document
    assert "2026-11-23" in document and "2026-11-29" in document
    # the manager of branch F reads Chinese: the email is worded in Chinese, and their report shows their branch only
    chinese = [message for message in mailbox.messages if message["To"] == "far@example.com"]
    assert sorted(message["Subject"] for message in chinese) == [
        "销售周报：Branch F 2026年11月23日至2026年11月29日", "销售日报：Branch F 2026年11月29日"]
    [far_weekly] = [message for message in chinese if message["Subject"].startswith("销售周报")]
    far_pdf = next(far_weekly.iter_attachments()).get_content()
    far_text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(far_pdf)).pages)
    assert "Agent Far" in far_text and "9,999.00" in far_text  # o5, created on the Wednesday
    assert "Agent One" not in far_text and "2,500.50" not in far_text
    assert session.scalar(select(func.count()).where(Outbox.kind == "sales_report",
                                                      Outbox.status == OutboxStatus.SENT)) == 4


def test_a_key_queued_first_by_a_racing_run_is_skipped_with_its_files(session):
    from insurecrm.models import OutboxChannel
    from insurecrm.outbox.gateways import Attachment
    from insurecrm.outbox.queue import queue_once

    pdf = Attachment("r.pdf", "application/pdf", b"%PDF-1.7 first")
    first = queue_once(key="sales_report:day=2026-11-29:user=1", kind="sales_report", channel=OutboxChannel.EMAIL,
                       recipient="m@example.com", language="en", payload={"period": "day"}, attachments=[pdf])
    # the second run did not see the first one's row before inserting: ON CONFLICT DO NOTHING, and no second file
    again = queue_once(key="sales_report:day=2026-11-29:user=1", kind="sales_report", channel=OutboxChannel.EMAIL,
                       recipient="m@example.com", language="en", payload={"period": "day"},
                       attachments=[Attachment("r.pdf", "application/pdf", b"%PDF-1.7 second")])
    session.commit()
    assert first is not None and again is None
    assert [(row.outbox_id, row.content) for row in session.scalars(select(OutboxAttachment))] == [
        (first, b"%PDF-1.7 first")]
    with pytest.raises(ValueError):
        queue_once(key="sms:1", kind="generic", channel=OutboxChannel.SMS, recipient="+8613800000000",
                   language="en", payload={}, attachments=[pdf])
