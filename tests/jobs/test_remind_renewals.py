"""policies.remind_renewals and policies.escalate_renewals: at the right offsets, by a consented channel, once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from agents.models import Activity, ActivityKind, ActivityStatus, OrgUnitKind, Priority, TaskReason
from insurecrm import clock, jobs
from insurecrm.models import Outbox, OutboxStatus, Role
from policies.models import RenewalCase, RenewalReminder, RenewalStatus
from policies.tasks import escalate_renewals, remind_renewals
from policyholders.models import ContactChannel
from tests.helpers import saved

DAY = date(2026, 11, 22)


@pytest.fixture(autouse=True)
def on_the_day():
    """The jobs run on their logical date (a late run has rules of its own: tests/jobs/test_late_work.py)."""
    with clock.frozen(datetime(2026, 11, 22, 1, 0, tzinfo=UTC)):  # 09:00 in Asia/Shanghai
        yield


def run(job_id: str, day: date = DAY):
    return jobs.run_job(jobs.registered([job_id])[0], day)


def case_expiring(make, expiry: date, holder=None, **case_fields) -> RenewalCase:
    holder = holder or make.policyholder(consent_email=True)
    policy = make.policy(holder, make.product(renewable=True), expiry_date=expiry,
                         effective_date=expiry - timedelta(days=365))
    case_fields.setdefault("assigned_agent_id", holder.owner_agent_id)
    return saved(make, RenewalCase(policy_id=policy.id, due_date=expiry, opened_on=expiry - timedelta(days=60),
                                   org_unit_id=policy.org_unit_id, **case_fields))


def rows(session, policy_id=None) -> list[Outbox]:
    query = select(Outbox).order_by(Outbox.id)
    if policy_id is not None:
        query = query.where(Outbox.policy_id == policy_id)
    return list(session.scalars(query))


def tasks(session, **where) -> list[Activity]:
    return list(session.scalars(select(Activity).filter_by(**where).order_by(Activity.id)))


def offsets_sent(session, case) -> list[int]:
    return list(session.scalars(select(RenewalReminder.offset_days).where(RenewalReminder.renewal_case_id == case.id)
                                .order_by(RenewalReminder.id)))


def test_each_policyholder_is_reminded_by_a_channel_they_consented_to(make, session):
    expiry = DAY + timedelta(days=30)
    email = case_expiring(make, expiry, make.policyholder(consent_email=True, preferred_language="en"))
    sms = case_expiring(make, expiry, make.policyholder(consent_sms=True))
    prefers_sms = case_expiring(make, expiry, make.policyholder(consent_email=True, consent_sms=True,
                                                                preferred_channel=ContactChannel.SMS))
    both = case_expiring(make, expiry, make.policyholder(consent_email=True, consent_sms=True))
    no_consent = case_expiring(make, expiry, make.policyholder(consent_marketing=True))
    no_address = case_expiring(make, expiry, make.policyholder(consent_email=True, email=None))

    assert run("policies.remind_renewals").counts == {"reminders_queued": 4, "reminder_tasks": 2}

    def only(case):
        [row] = rows(session, case.policy_id)
        return row

    holder_of = {case.id: case.policy.policyholder for case in (email, sms, prefers_sms, both)}
    for case, channel in ((email, "email"), (sms, "sms"), (prefers_sms, "sms"), (both, "email")):
        row = only(case)
        holder = holder_of[case.id]
        assert (row.channel, row.recipient) == (channel, holder.email if channel == "email" else holder.phone)
        assert row.language == holder.preferred_language and row.policyholder_id == holder.id
    assert only(email).language == "en" and only(sms).language == "zh"
    for case in (no_consent, no_address):  # no message to anyone without consent and a contact: a call instead
        assert rows(session, case.policy_id) == []
        [task] = tasks(session, policy_id=case.policy_id)
        assert (task.reason, task.kind, task.status, task.due_date) == (
            TaskReason.RENEWAL_CALL, ActivityKind.CALL, ActivityStatus.PLANNED, DAY)
        assert (task.agent_id, task.assignee_user_id, task.org_unit_id) == (
            case.assigned_agent_id, None, case.org_unit_id)
        assert (task.renewal_case_id, task.policyholder_id) == (case.id, case.policy.policyholder_id)
        assert task.source_key == f"renewal_reminder:policy={case.policy_id}:offset=30"
        assert task.priority == Priority.HIGH and case.policy.number in task.subject
    row = only(email)
    assert row.idempotency_key == f"renewal_reminder:policy={email.policy_id}:offset=30"
    assert (row.kind, row.status, row.subject, row.body) == ("renewal_reminder", OutboxStatus.PENDING, None, "")
    policy = email.policy
    assert row.payload == {
        "renewal_case_id": email.id, "policy_number": policy.number, "product_name": policy.product.name,
        "expiry_date": expiry.isoformat(), "days_left": 30, "premium": "1200.00",
        "policyholder_name": policy.policyholder.name, "agent_name": policy.servicing_agent.name,
        "agent_phone": None, "offset_days": 30}
    reminders = session.scalars(select(RenewalReminder).order_by(RenewalReminder.id)).all()
    messaged = (email, sms, prefers_sms, both)
    assert sorted((r.renewal_case_id, r.outbox_id, r.channel) for r in reminders) == sorted(
        [(case.id, only(case).id, only(case).channel) for case in messaged]
        + [(case.id, None, "task") for case in (no_consent, no_address)])


def test_a_reminder_call_is_planned_once_whatever_reruns_happen(make, session):
    case = case_expiring(make, DAY + timedelta(days=30), make.policyholder())
    assert run("policies.remind_renewals").counts == {"reminders_queued": 0, "reminder_tasks": 1}
    assert remind_renewals(DAY) == {"reminders_queued": 0, "reminder_tasks": 0}
    assert remind_renewals(DAY + timedelta(days=3)) == {"reminders_queued": 0, "reminder_tasks": 0}
    assert len(tasks(session, renewal_case_id=case.id)) == 1 and offsets_sent(session, case) == [30]
    assert remind_renewals(DAY + timedelta(days=23)) == {"reminders_queued": 0, "reminder_tasks": 1}  # 7 days
    assert [t.due_date for t in tasks(session, renewal_case_id=case.id)] == [DAY, DAY + timedelta(days=23)]
    assert session.scalar(select(func.count(Outbox.id))) == 0


def test_reminders_go_out_at_each_offset_and_on_no_other_date(make, session):
    expiry = DAY + timedelta(days=40)
    case = case_expiring(make, expiry)
    sent_on = {}
    for n in range(45):
        day = DAY + timedelta(days=n)
        counts = remind_renewals(day)
        if counts["reminders_queued"]:
            sent_on[day] = counts["reminders_queued"]
    assert sent_on == {expiry - timedelta(days=30): 1, expiry - timedelta(days=7): 1}
    assert offsets_sent(session, case) == [30, 7]


def test_a_case_no_longer_worked_or_past_expiry_is_not_reminded(make, session):
    expiry = DAY + timedelta(days=7)
    for status in (RenewalStatus.RENEWED, RenewalStatus.LOST, RenewalStatus.LAPSED):
        case_expiring(make, expiry, status=status)
    case_expiring(make, DAY)  # expires today: too late
    quoted = case_expiring(make, expiry, status=RenewalStatus.QUOTED)
    assert remind_renewals(DAY) == {"reminders_queued": 1, "reminder_tasks": 0}
    assert [row.policy_id for row in rows(session)] == [quoted.policy_id]


def test_reminding_twice_for_a_date_adds_nothing(make, session):
    case_expiring(make, DAY + timedelta(days=30))
    assert run("policies.remind_renewals").counts["reminders_queued"] == 1
    assert run("policies.remind_renewals") is None
    assert remind_renewals(DAY) == {"reminders_queued": 0, "reminder_tasks": 0}
    assert remind_renewals(DAY + timedelta(days=1)) == {"reminders_queued": 0, "reminder_tasks": 0}
    assert session.scalar(select(func.count(Outbox.id))) == 1
    assert session.scalar(select(func.count(RenewalReminder.id))) == 1


def test_a_missed_offset_is_caught_up_once(make, session):
    expiry = DAY + timedelta(days=28)  # the 30-day reminder was owed two days ago, when nothing ran
    case = case_expiring(make, expiry)
    assert remind_renewals(DAY)["reminders_queued"] == 1
    assert remind_renewals(DAY + timedelta(days=1))["reminders_queued"] == 0
    assert offsets_sent(session, case) == [30]
    assert remind_renewals(expiry - timedelta(days=5))["reminders_queued"] == 1  # the 7-day one, two days late
    assert offsets_sent(session, case) == [30, 7]


def test_when_two_offsets_are_owed_only_the_nearest_is_sent(make, session):
    case = case_expiring(make, DAY + timedelta(days=5))
    assert remind_renewals(DAY)["reminders_queued"] == 1
    assert remind_renewals(DAY + timedelta(days=1))["reminders_queued"] == 0
    assert offsets_sent(session, case) == [7]


def test_the_offsets_are_configurable(make, session, app, monkeypatch):
    monkeypatch.setitem(app.config, "RENEWAL_REMINDER_OFFSETS", (45, 3))
    case = case_expiring(make, DAY + timedelta(days=45))
    assert remind_renewals(DAY)["reminders_queued"] == 1
    [row] = rows(session)
    assert row.idempotency_key.endswith(":offset=45") and offsets_sent(session, case) == [45]


def test_an_unreachable_policyholder_in_the_pool_gets_a_task_for_the_pool(make, session):
    case = case_expiring(make, DAY + timedelta(days=7), make.policyholder(), assigned_agent_id=None)
    assert remind_renewals(DAY) == {"reminders_queued": 0, "reminder_tasks": 1}
    assert rows(session) == []
    [task] = tasks(session)
    assert (task.agent_id, task.assignee_user_id, task.org_unit_id, task.policy_id) == (
        None, None, case.org_unit_id, case.policy_id)


# -- escalation ----------------------------------------------------------------------------------------------

@pytest.fixture
def frozen_now():
    from insurecrm import clock

    at = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
    with clock.frozen(at):
        yield at


def test_an_uncontacted_case_is_escalated_to_the_branch_manager_once(make, session, frozen_now):
    due = case_expiring(make, DAY + timedelta(days=14))
    overdue = case_expiring(make, DAY + timedelta(days=9))  # missed on its day: escalated on the next run
    later = case_expiring(make, DAY + timedelta(days=15))
    contacted = case_expiring(make, DAY + timedelta(days=10), first_contacted_at=frozen_now - timedelta(days=3),
                              status=RenewalStatus.CONTACTED)
    done = case_expiring(make, DAY + timedelta(days=10), escalated_at=frozen_now - timedelta(days=1))
    lost = case_expiring(make, DAY + timedelta(days=10), status=RenewalStatus.LOST)

    assert run("policies.escalate_renewals").counts == {"escalations": 2}
    session.expire_all()
    assert due.escalated_at == frozen_now and overdue.escalated_at == frozen_now and due.version == 2
    assert later.escalated_at is None and contacted.escalated_at is None and lost.escalated_at is None
    assert done.escalated_at == frozen_now - timedelta(days=1)
    escalations = tasks(session)
    assert [(t.policy_id, t.reason, t.agent_id, t.renewal_case_id, t.due_date) for t in escalations] == [
        (due.policy_id, TaskReason.RENEWAL_ESCALATION, None, due.id, DAY),
        (overdue.policy_id, TaskReason.RENEWAL_ESCALATION, None, overdue.id, DAY)]
    assert escalations[0].source_key == f"renewal_escalation:case={due.id}"
    assert escalations[0].org_unit_id == due.org_unit_id and escalations[0].priority == Priority.URGENT
    assert rows(session) == []  # nothing left for the outbox

    assert run("policies.escalate_renewals") is None
    assert escalate_renewals(DAY) == {"escalations": 0}
    assert escalate_renewals(DAY + timedelta(days=1)) == {"escalations": 1}  # ``later`` enters the window
    assert len(tasks(session)) == 3


def test_an_escalation_goes_to_the_manager_leading_the_unit_or_the_nearest_above(make, session, frozen_now):
    company = make.org_unit()
    branch = make.org_unit(company, kind=OrgUnitKind.BRANCH)
    team = make.org_unit(branch, kind=OrgUnitKind.TEAM)
    other_branch = make.org_unit(company, kind=OrgUnitKind.BRANCH)
    make.user(Role.BRANCH_MANAGER, org_unit_id=company.id)  # leads the company: only for units without a nearer
    branch_manager = make.user(Role.BRANCH_MANAGER, org_unit_id=branch.id)
    make.user(Role.BRANCH_MANAGER, org_unit_id=branch.id, active=False)
    make.user(Role.BRANCH_MANAGER, org_unit_id=other_branch.id)
    in_team = case_expiring(make, DAY + timedelta(days=10), make.policyholder(make.agent(team)))
    in_branch = case_expiring(make, DAY + timedelta(days=10), make.policyholder(make.agent(branch)))
    lonely = make.org_unit(kind=OrgUnitKind.COMPANY)  # another company, nobody leads it
    unled = case_expiring(make, DAY + timedelta(days=10), make.policyholder(make.agent(lonely)))
    assert escalate_renewals(DAY) == {"escalations": 3}
    assignees = {t.renewal_case_id: t.assignee_user_id for t in tasks(session)}
    assert assignees == {in_team.id: branch_manager.id, in_branch.id: branch_manager.id, unled.id: None}
