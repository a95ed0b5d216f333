"""The outbox sender against a real SMTP server on loopback: delivery, wording, retries, the crash rule."""

from __future__ import annotations

from datetime import timedelta

import pytest

from insurecrm.models import OutboxChannel, OutboxStatus
from insurecrm.outbox import sender
from insurecrm.outbox.gateways import EmailGateway, new_message_id
from insurecrm.outbox.models import MessageTemplate
from insurecrm.outbox.sender import UNCERTAIN_ERROR, send_pending
from tests.outbox.conftest import FROM, NOW, REMINDER, queue


def test_email_goes_out_over_smtp_worded_in_the_recipients_language(smtp, session, at):
    zh = queue(session, key="renewal_reminder:policy=1:offset=30:date=2026-11-22", language="zh",
               recipient="li.wei@example.com")
    en = queue(session, key="renewal_reminder:policy=2:offset=30:date=2026-11-22", recipient="ann@example.com")

    assert send_pending(10) == {"sent": 2, "retrying": 0, "failed": 0, "uncertain": 0}

    by_recipient = {message["To"]: message for message in smtp.messages}
    chinese, english = by_recipient["li.wei@example.com"], by_recipient["ann@example.com"]
    assert chinese["Subject"] == "您的保单 P2026000123 将于 2026年12月22日 到期"
    assert "尊敬的 Li Wei：" in chinese.get_content() and "还有 30 天" in chinese.get_content()
    assert english["Subject"] == "Your policy P2026000123 expires on December 22, 2026"
    assert "Your agent Zhang Min (+86 139 0000 0001) will be glad to help." in english.get_content()
    assert chinese["From"] == FROM
    assert all(b"\n" not in line for raw in smtp.raw for line in raw.split(b"\r\n"))  # CRLF only, as SMTP wants
    for row in (zh, en):
        session.refresh(row)
    assert (chinese["Message-ID"], english["Message-ID"]) == (zh.message_id, en.message_id)  # kept on the row
    assert chinese["Message-ID"].startswith(f"<outbox.{zh.id}.") and chinese["Message-ID"].endswith("@insurer.example>")
    for row in (zh, en):
        assert (row.status, row.attempts, row.sent_at, row.last_error) == (OutboxStatus.SENT, 1, NOW, None)
    assert zh.subject == chinese["Subject"] and "尊敬的 Li Wei" in zh.body  # what was sent stays on the row


def test_a_message_id_names_its_row_and_cannot_be_guessed():
    made = {new_message_id(9, "Renewals <Renewals@Insurer.Example>") for _ in range(50)}
    assert len(made) == 50  # random: a reply naming one is put on the row's policyholder's timeline
    assert all(each.startswith("<outbox.9.") and each.endswith("@insurer.example>") for each in made)


def test_sms_and_tasks_get_no_message_id(smtp, session, at):
    sms = queue(session, key="sms", channel=OutboxChannel.SMS, recipient="+8613800138001")
    send_pending(10)
    session.refresh(sms)
    assert (sms.status, sms.message_id) == (OutboxStatus.SENT, None)


def test_tasks_rows_not_yet_due_and_sent_rows_are_left_alone(smtp, session, at):
    task = queue(session, key="callback:1", channel=OutboxChannel.TASK, recipient=None)
    later = queue(session, key="later", next_attempt_at=NOW + timedelta(minutes=1))
    done = queue(session, key="done", status=OutboxStatus.SENT)

    assert send_pending(10)["sent"] == 0
    assert smtp.messages == []
    assert [r.status for r in (task, later, done)] == [OutboxStatus.PENDING, OutboxStatus.PENDING, OutboxStatus.SENT]


def test_limit_caps_one_run_and_the_oldest_go_first(smtp, session, at):
    rows = [queue(session, key=f"k{n}", recipient=f"r{n}@example.com") for n in range(3)]
    assert send_pending(2)["sent"] == 2
    assert [m["To"] for m in smtp.messages] == ["r0@example.com", "r1@example.com"]
    assert rows[2].status == OutboxStatus.PENDING
    assert send_pending(2)["sent"] == 1


def test_an_admins_template_words_the_message_and_missing_ones_fall_back(smtp, session, at):
    session.add(MessageTemplate(kind="anniversary", language="en", channel=OutboxChannel.EMAIL,
                                subject="A year with us, {{ policyholder_name }}",
                                body="Thank you, {{ policyholder_name }}."))
    session.commit()
    queue(session, key="a", kind="anniversary", language="zh", recipient="a@example.com")  # no zh: English
    queue(session, key="b", kind="unheard_of", language="zh", recipient="b@example.com")  # no kind: generic zh
    queue(session, key="c", kind="unheard_of", language="fr", recipient="c@example.com")  # generic English

    assert send_pending(10)["sent"] == 3
    subjects = {m["To"]: (m["Subject"], m.get_content()) for m in smtp.messages}
    assert subjects["a@example.com"] == ("A year with us, Li Wei", "Thank you, Li Wei.\n")
    assert subjects["b@example.com"][0] == "关于您保险的消息" and "尊敬的 Li Wei：" in subjects["b@example.com"][1]
    assert subjects["c@example.com"][0] == "A message about your insurance"


def test_a_refused_connection_is_retried_with_backoff_then_failed(smtp_down, session, at):
    row = queue(session, key="k")
    waits = []
    for attempt in range(1, 5):
        assert send_pending(10) == {"sent": 0, "retrying": 1, "failed": 0, "uncertain": 0}
        assert (row.status, row.attempts) == (OutboxStatus.PENDING, attempt)
        assert "SMTP 127.0.0.1" in row.last_error and "ConnectionRefusedError" in row.last_error
        waits.append(row.next_attempt_at - sender.utcnow())
        at(row.next_attempt_at - timedelta(seconds=1))
        assert send_pending(10)["retrying"] == 0  # not due yet
        at(row.next_attempt_at)
    assert waits == [timedelta(minutes=m) for m in (1, 5, 25, 125)]

    assert send_pending(10)["failed"] == 1  # the fifth attempt (INSURECRM_OUTBOX_MAX_ATTEMPTS) is the last
    assert (row.status, row.attempts, row.next_attempt_at) == (OutboxStatus.FAILED, 5, None)
    assert "ConnectionRefusedError" in row.last_error
    at(NOW + timedelta(days=1))
    assert send_pending(10) == {"sent": 0, "retrying": 0, "failed": 0, "uncertain": 0}


def test_a_message_retried_after_a_failure_goes_out_once(smtp, session, at, app, monkeypatch):
    row = queue(session, key="k")
    port = app.config["MAIL_PORT"]
    monkeypatch.setitem(app.config, "MAIL_PORT", 1)  # nothing listens there
    assert send_pending(10)["retrying"] == 1
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    at(NOW + timedelta(minutes=1))
    assert send_pending(10)["sent"] == 1
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.SENT, 2, None)
    assert len(smtp.messages) == 1


def test_a_recipient_the_server_refuses_for_good_fails_at_once(smtp, session, at):
    smtp.refuse.add("gone@example.com")
    row = queue(session, key="k", recipient="gone@example.com")
    other = queue(session, key="j", recipient="here@example.com")
    assert send_pending(10) == {"sent": 1, "retrying": 0, "failed": 1, "uncertain": 0}
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 1)
    assert "550" in row.last_error
    assert other.status == OutboxStatus.SENT and [m["To"] for m in smtp.messages] == ["here@example.com"]


def test_no_recipient_fails_at_once_and_a_payload_missing_a_variable_is_retried(smtp, session, at):
    nobody = queue(session, key="k", recipient=None)
    broken = queue(session, key="j", payload={"policyholder_name": "Li Wei"})
    assert send_pending(10) == {"sent": 0, "retrying": 1, "failed": 1, "uncertain": 0}
    assert nobody.status == OutboxStatus.FAILED and nobody.last_error == "no recipient for this email"
    assert broken.status == OutboxStatus.PENDING
    assert "renewal_reminder/en/email" in broken.last_error and "policy_number" in broken.last_error
    assert smtp.messages == []


def test_a_sender_stopping_between_sending_and_marking_never_resends_silently(smtp, session, at, monkeypatch):
    row = queue(session, key="renewal_reminder:policy=7:offset=7:date=2026-12-15")
    real_send = EmailGateway.send

    def send_then_die(self, message):
        real_send(self, message)
        raise SystemExit("killed after the SMTP server took the message")

    monkeypatch.setattr(EmailGateway, "send", send_then_die)
    with pytest.raises(SystemExit):
        send_pending(10)
    monkeypatch.setattr(EmailGateway, "send", real_send)
    assert (row.status, row.attempts) == (OutboxStatus.SENDING, 1) and len(smtp.messages) == 1

    at(NOW + timedelta(minutes=9))  # another run inside the lease: the row is someone's, left alone
    assert send_pending(10) == {"sent": 0, "retrying": 0, "failed": 0, "uncertain": 0}
    at(NOW + timedelta(minutes=10))  # lease over (INSURECRM_OUTBOX_LEASE_MINUTES): uncertain, for a human
    assert send_pending(10)["uncertain"] == 1
    session.refresh(row)
    assert (row.status, row.last_error, row.next_attempt_at) == (OutboxStatus.FAILED, UNCERTAIN_ERROR, None)
    at(NOW + timedelta(days=3))
    assert send_pending(10) == {"sent": 0, "retrying": 0, "failed": 0, "uncertain": 0}
    assert len(smtp.messages) == 1  # never a second copy without a human

    sender.resend_by_hand(row)  # a human checked: it never arrived
    session.commit()
    assert send_pending(10)["sent"] == 1
    session.refresh(row)
    assert [m["Message-ID"] for m in smtp.messages] == [row.message_id] * 2


def test_a_connection_lost_after_the_message_was_sent_is_uncertain_not_retried(smtp_dropping_data, session, at):
    row = queue(session, key="k")
    assert send_pending(10) == {"sent": 0, "retrying": 0, "failed": 0, "uncertain": 1}
    assert len(smtp_dropping_data) == 1  # the server had the whole message
    assert row.status == OutboxStatus.FAILED and row.next_attempt_at is None
    assert row.last_error.startswith("uncertain: the message may have gone out")
    at(NOW + timedelta(days=1))
    assert send_pending(10)["uncertain"] == 0 and row.status == OutboxStatus.FAILED


def test_smtp_login_and_starttls_settings_are_used(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_USE_STARTTLS", True)
    monkeypatch.setitem(app.config, "MAIL_USERNAME", "mailer")
    monkeypatch.setitem(app.config, "MAIL_PASSWORD", "pw")
    gateway = EmailGateway.from_config(app.config)
    assert (gateway.starttls, gateway.username, gateway.password) == (True, "mailer", "pw")
    assert gateway.timeout == app.config["OUTBOX_TIMEOUT_SECONDS"]


def test_the_cli_sends_with_a_limit(smtp, session, at, app):
    from flask.cli import ScriptInfo

    from insurecrm.cli import main

    for n in range(3):
        queue(session, key=f"k{n}")
    result = app.test_cli_runner().invoke(main, ["outbox", "send", "--limit", "2"],
                                          obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "sent=2, retrying=0, failed=0, uncertain=0"
    assert len(smtp.messages) == 2


def test_payload_is_the_only_thing_templates_see(smtp, session, at):
    session.add(MessageTemplate(kind="probe", language="en", channel=OutboxChannel.EMAIL, subject="x",
                                body="{{ policyholder_name.__class__.__mro__ }}"))
    session.commit()
    row = queue(session, key="k", kind="probe", payload=dict(REMINDER))
    assert send_pending(10)["retrying"] == 1
    assert "unsafe" in row.last_error and smtp.messages == []


def test_an_address_smtp_cannot_carry_fails_at_once_and_the_batch_goes_on(smtp, session, at):
    bad = queue(session, key="k", recipient="李伟@例子.中国")
    good = queue(session, key="j", recipient="ok@example.com")
    assert send_pending(10) == {"sent": 1, "retrying": 0, "failed": 1, "uncertain": 0}
    assert bad.status == OutboxStatus.FAILED and "cannot send to" in bad.last_error
    assert good.status == OutboxStatus.SENT and [m["To"] for m in smtp.messages] == ["ok@example.com"]


def test_a_gateway_bug_makes_that_message_uncertain_and_the_batch_goes_on(smtp, session, at, monkeypatch):
    real_send = EmailGateway.send

    def buggy(self, message):
        if message.recipient == "bug@example.com":
            raise RuntimeError("gateway bug")
        real_send(self, message)

    monkeypatch.setattr(EmailGateway, "send", buggy)
    bad = queue(session, key="k", recipient="bug@example.com")
    good = queue(session, key="j", recipient="ok@example.com")
    assert send_pending(10) == {"sent": 1, "retrying": 0, "failed": 0, "uncertain": 1}
    assert bad.status == OutboxStatus.FAILED and "RuntimeError('gateway bug')" in bad.last_error
    assert bad.last_error.startswith("uncertain:") and good.status == OutboxStatus.SENT


def test_the_days_run_record_adds_up_what_each_sender_run_did(smtp, session, at):
    from sqlalchemy import select

    from insurecrm import clock
    from insurecrm.models import JobRun

    queue(session, key="renewal_reminder:policy=1:offset=30", recipient="a@example.com")
    send_pending(10)
    queue(session, key="renewal_reminder:policy=2:offset=30", recipient="b@example.com")
    send_pending(10)
    send_pending(10)  # nothing to send: no change
    record = session.scalar(select(JobRun).where(JobRun.job_id == "outbox.send"))
    assert record.logical_date == clock.today()
    assert record.counts == {"sent": 2, "retrying": 0, "failed": 0, "uncertain": 0}
