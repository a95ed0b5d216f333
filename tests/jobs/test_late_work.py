"""Late work is honest (issue 8, point 3): a job run after its logical date (a catch-up after an outage) queues
nothing that can no longer be done — it records it as skipped, with why — and what it does queue says the truth
on the day it goes out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from agents.models import Activity
from insurecrm import clock
from insurecrm.models import Outbox, OutboxStatus
from insurecrm.outbox.sender import claim_next
from policies.models import RenewalCase, RenewalReminder
from policies.tasks import escalate_renewals, remind_renewals
from policyholders.tasks import birthday_greetings
from tests.helpers import saved

DAY = date(2026, 11, 22)


def at_nine(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)  # 09:00 in Asia/Shanghai


def case_expiring(make, expiry: date, holder=None) -> RenewalCase:
    holder = holder or make.policyholder(consent_email=True, preferred_language="en")
    policy = make.policy(holder, make.product(renewable=True), expiry_date=expiry,
                         effective_date=expiry - timedelta(days=365))
    return saved(make, RenewalCase(policy_id=policy.id, due_date=expiry, opened_on=expiry - timedelta(days=60),
                                   org_unit_id=policy.org_unit_id, assigned_agent_id=holder.owner_agent_id))


def outbox(session) -> list[Outbox]:
    return list(session.scalars(select(Outbox).order_by(Outbox.id)))


def test_a_reminder_owed_before_an_outage_about_a_policy_now_expired_is_recorded_as_skipped(make, session):
    expired = case_expiring(make, DAY + timedelta(days=5))  # the 7-day reminder was owed on DAY
    unreachable = case_expiring(make, DAY + timedelta(days=6), make.policyholder())
    still_running = case_expiring(make, DAY + timedelta(days=25))  # its 30-day reminder is late, not pointless
    with clock.frozen(at_nine(DAY + timedelta(days=10))):
        assert remind_renewals(DAY) == {"reminders_queued": 1, "reminder_tasks": 0, "reminders_skipped": 2}
        assert remind_renewals(DAY + timedelta(days=1)) == {"reminders_queued": 0, "reminder_tasks": 0}
    rows = {row.policy_id: row for row in outbox(session)}
    skipped = rows[expired.policy_id]
    assert (skipped.status, skipped.idempotency_key) == (OutboxStatus.SKIPPED,
                                                         f"renewal_reminder:policy={expired.policy_id}:offset=7")
    assert skipped.last_error == ("not sent: the 7-day reminder was owed on 2026-11-22, but the job for that date "
                                  "ran on 2026-12-02, when the policy had expired (on 2026-11-27)")
    assert rows[unreachable.policy_id].status == OutboxStatus.SKIPPED  # and no call for the agent either
    assert session.scalars(select(Activity)).all() == []
    assert rows[still_running.policy_id].status == OutboxStatus.PENDING
    reminders = session.execute(select(RenewalReminder.renewal_case_id, RenewalReminder.outbox_id)).all()
    assert sorted(reminders) == sorted((case.id, rows[case.policy_id].id)
                                       for case in (expired, unreachable, still_running))


def test_a_reminder_queued_late_tells_the_days_really_left_when_it_is_sent(make, session):
    case = case_expiring(make, DAY + timedelta(days=30))
    with clock.frozen(at_nine(DAY + timedelta(days=9))):
        assert remind_renewals(DAY)["reminders_queued"] == 1
    [row] = outbox(session)
    assert row.payload["days_left"] == 30  # as of the logical date, in the payload
    with clock.frozen(at_nine(DAY + timedelta(days=12))):
        claimed = claim_next()
    assert claimed.id == row.id and "18 days" in claimed.body and "30 days" not in claimed.body
    assert case.policy.expiry_date == DAY + timedelta(days=30)


def test_the_sender_skips_a_reminder_whose_policy_expired_while_it_waited(make, session):
    case_expiring(make, DAY + timedelta(days=7))
    with clock.frozen(at_nine(DAY)):
        remind_renewals(DAY)
    with clock.frozen(at_nine(DAY + timedelta(days=7))):  # the sender was down until the expiry day
        row = claim_next()
    assert (row.status, row.attempts, row.body) == (OutboxStatus.SKIPPED, 0, "")
    assert row.last_error == "not sent: the policy expired on 2026-11-29, before the message could be sent"


def test_no_escalation_after_expiry_in_a_late_run(make, session):
    expired = case_expiring(make, DAY + timedelta(days=10))
    running = case_expiring(make, DAY + timedelta(days=14))
    with clock.frozen(at_nine(DAY + timedelta(days=12))):
        assert escalate_renewals(DAY) == {"escalations": 1}
    session.expire_all()
    assert expired.escalated_at is None and running.escalated_at is not None
    assert [task.renewal_case_id for task in session.scalars(select(Activity))] == [running.id]


def test_a_birthday_greeting_goes_a_few_days_late_but_not_later(make, session, app):
    tolerance = app.config["BIRTHDAY_LATE_DAYS"]
    assert tolerance == 3
    greet = {"consent_marketing": True, "consent_email": True}
    on_time = make.policyholder(date_of_birth=date(1980, 11, 22), **greet)
    too_late = make.policyholder(date_of_birth=date(1980, 11, 21), **greet)
    with clock.frozen(at_nine(DAY + timedelta(days=tolerance))):
        assert birthday_greetings(DAY) == {"greetings_queued": 1}
    with clock.frozen(at_nine(DAY + timedelta(days=tolerance))):
        assert birthday_greetings(DAY - timedelta(days=1)) == {"greetings_queued": 0, "greetings_skipped": 1}
        assert birthday_greetings(DAY - timedelta(days=1)) == {"greetings_queued": 0, "greetings_skipped": 0}
    rows = {row.policyholder_id: row for row in outbox(session)}
    assert rows[on_time.id].status == OutboxStatus.PENDING
    skipped = rows[too_late.id]
    assert (skipped.status, skipped.idempotency_key) == (OutboxStatus.SKIPPED,
                                                         f"birthday:holder={too_late.id}:year=2026")
    assert skipped.last_error == ("not sent: the birthday was on 2026-11-21 and the job for that date ran 4 days "
                                  "later (INSURECRM_BIRTHDAY_LATE_DAYS is 3)")
    with clock.frozen(at_nine(DAY + timedelta(days=tolerance))):
        assert claim_next().id == rows[on_time.id].id and claim_next() is None  # a skipped row is never sent
