"""The built-in campaigns (policyholders/campaigns/system.py): the renewal reminders and the birthday greetings are
campaigns whose status their jobs read — paused, they queue nothing, and resuming does not send what was held back —
and whose runs and members the jobs record, once per date whatever reruns happen."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from agents.models import Activity
from insurecrm import clock, jobs
from insurecrm.models import Outbox, OutboxStatus
from insurecrm.outbox.templates import ensure_default_templates
from policies.models import RenewalCase, RenewalReminder
from policies.tasks import remind_renewals
from policyholders.campaigns import system
from policyholders.campaigns.models import (
    Campaign,
    CampaignChannel,
    CampaignKind,
    CampaignMember,
    CampaignRun,
    CampaignSchedule,
    CampaignStatus,
    RunStatus,
)
from policyholders.tasks import birthday_greetings
from tests.helpers import saved

DAY = date(2026, 11, 22)


@pytest.fixture(autouse=True)
def on_the_day():
    with clock.frozen(datetime(2026, 11, 22, 1, 0, tzinfo=UTC)):  # 09:00 in Asia/Shanghai
        yield


def run(job_id: str, day: date = DAY):
    return jobs.run_job(jobs.registered([job_id])[0], day)


def campaign(session, key: str) -> Campaign:
    return session.scalars(select(Campaign).where(Campaign.system_key == key)).one()


def set_status(session, key: str, status: CampaignStatus) -> None:
    campaign(session, key).status = status
    session.commit()


def members(session, key: str) -> dict[int, tuple]:
    """policyholder id → (run date, outcome, outbox id, task id), over every run of the campaign."""
    rows = session.execute(select(CampaignMember.policyholder_id, CampaignRun.run_date, CampaignMember.outcome,
                                  CampaignMember.outbox_id, CampaignMember.activity_id)
                           .join(CampaignRun, CampaignRun.id == CampaignMember.run_id)
                           .join(Campaign, Campaign.id == CampaignMember.campaign_id)
                           .where(Campaign.system_key == key))
    found: dict[int, tuple] = {}
    for holder, *rest in rows:
        assert holder not in found, "a policyholder is a member once"
        found[holder] = (rest[0], rest[1].value, rest[2], rest[3])
    return found


def case_expiring(make, expiry: date, holder) -> RenewalCase:
    policy = make.policy(holder, make.product(renewable=True), expiry_date=expiry,
                         effective_date=expiry - timedelta(days=365))
    return saved(make, RenewalCase(policy_id=policy.id, due_date=expiry, opened_on=expiry - timedelta(days=60),
                                   org_unit_id=policy.org_unit_id, assigned_agent_id=holder.owner_agent_id))


def born_today(make, **fields):
    return make.policyholder(**{"date_of_birth": date(1980, 11, 22), "consent_marketing": True, "consent_email": True,
                                **fields})


def test_the_built_in_campaigns_are_made_once_active_daily_and_worded_by_their_templates(session):
    assert system.ensure_system_campaigns(session) == 2
    assert system.ensure_system_campaigns(session) == 0
    renewals, birthdays = campaign(session, "renewal_reminders"), campaign(session, "birthday_greetings")
    assert (renewals.kind, birthdays.kind) == (CampaignKind.RENEWAL, CampaignKind.BIRTHDAY)
    for made in (renewals, birthdays):
        assert (made.status, made.schedule, made.channel) == (
            CampaignStatus.ACTIVE, CampaignSchedule.DAILY, CampaignChannel.EMAIL)
        assert made.segment_id is None and made.owner_user_id is None
    assert system.template_kinds(renewals) == ("renewal_reminder",)
    assert system.template_kinds(birthdays) == ("birthday",)
    assert system.template_kinds(Campaign(name="Other")) == ()
    assert system.display_name(renewals) == "Renewal reminders"
    renewals.name = "Renewals (our wording)"
    assert system.display_name(renewals) == "Renewals (our wording)"


def test_a_paused_campaign_is_left_paused_when_the_campaigns_are_ensured_again(session):
    system.ensure_system_campaigns(session)
    set_status(session, "birthday_greetings", CampaignStatus.PAUSED)
    ensure_default_templates(session)
    assert system.ensure_system_campaigns(session) == 0
    assert campaign(session, "birthday_greetings").status == CampaignStatus.PAUSED


def test_the_ops_templates_page_makes_them(app, web, make, session):
    from insurecrm.models import Role

    assert web(make.user(Role.ADMIN)).get("/admin/ops/templates").status_code == 200
    assert session.scalar(select(func.count()).select_from(Campaign).where(Campaign.system_key.is_not(None))) == 2


def test_birthday_greetings_are_a_run_with_its_members_recorded_once(make, session):
    greeted = [born_today(make) for _ in range(3)]
    born_today(make, consent_marketing=False)  # never greeted: not a member either
    assert run("policyholders.birthday_greetings").counts == {"greetings_queued": 3}
    [made] = session.scalars(select(CampaignRun)).all()
    assert (made.run_date, made.status, made.counts) == (DAY, RunStatus.DONE, {"members": 3, "sent": 3})
    outbox = dict(session.execute(select(Outbox.policyholder_id, Outbox.id).where(Outbox.kind == "birthday")).all())
    assert members(session, "birthday_greetings") == {
        holder.id: (DAY, "sent", outbox[holder.id], None) for holder in greeted}

    assert birthday_greetings(DAY) == {"greetings_queued": 0}  # a rerun: nothing twice
    session.commit()
    assert len(members(session, "birthday_greetings")) == 3
    assert session.scalar(select(func.count()).select_from(CampaignRun)) == 1
    assert birthday_greetings(DAY + timedelta(days=1)) == {"greetings_queued": 0}  # the next day: a run, no members
    assert session.scalar(select(func.count()).select_from(CampaignRun)) == 2


def test_paused_birthday_greetings_queue_nothing_and_resuming_sends_nothing_held_back(make, session):
    system.ensure_system_campaigns(session)
    set_status(session, "birthday_greetings", CampaignStatus.PAUSED)
    holder = born_today(make)
    assert run("policyholders.birthday_greetings").counts == {"paused": 1, "greetings_withheld": 1}
    [row] = session.scalars(select(Outbox).where(Outbox.kind == "birthday")).all()
    assert row.status == OutboxStatus.SKIPPED and "not active" in row.last_error
    assert session.scalar(select(func.count()).select_from(CampaignRun)) == 0

    set_status(session, "birthday_greetings", CampaignStatus.ACTIVE)
    assert birthday_greetings(DAY) == {"greetings_queued": 0}  # the same date again, resumed: still not sent
    session.commit()
    assert session.scalar(select(func.count()).select_from(Outbox).where(
        Outbox.status == OutboxStatus.PENDING)) == 0
    assert members(session, "birthday_greetings") == {}
    set_status(session, "birthday_greetings", CampaignStatus.ENDED)
    assert birthday_greetings(DAY + timedelta(days=1)) == {"paused": 1}
    assert holder.id


def test_renewal_reminders_record_members_sent_and_task_once(make, session):
    expiry = DAY + timedelta(days=30)
    emailed = make.policyholder(consent_email=True)
    unreachable = make.policyholder()
    two_policies = make.policyholder(consent_sms=True)
    cases = [case_expiring(make, expiry, holder) for holder in (emailed, unreachable, two_policies, two_policies)]
    assert run("policies.remind_renewals").counts == {"reminders_queued": 3, "reminder_tasks": 1}
    found = members(session, "renewal_reminders")
    outbox = session.scalars(select(Outbox).where(Outbox.kind == "renewal_reminder").order_by(Outbox.id)).all()
    [task] = session.scalars(select(Activity).where(Activity.policyholder_id == unreachable.id)).all()
    assert found[emailed.id] == (DAY, "sent", outbox[0].id, None)
    assert found[unreachable.id] == (DAY, "task", None, task.id)
    assert found[two_policies.id] == (DAY, "sent", min(row.id for row in outbox[1:]), None)  # one member, twice told
    [made] = session.scalars(select(CampaignRun)).all()
    assert made.counts == {"members": 3, "sent": 2, "task": 1}

    for day in (DAY, DAY + timedelta(days=1)):  # reruns: the same members, nothing queued again
        assert remind_renewals(day) == {"reminders_queued": 0, "reminder_tasks": 0}
        session.commit()
    assert members(session, "renewal_reminders") == found
    assert len(cases) == session.scalar(select(func.count()).select_from(RenewalReminder))


def test_paused_renewal_reminders_queue_nothing_and_resuming_does_not_send_them_late(make, session):
    system.ensure_system_campaigns(session)
    set_status(session, "renewal_reminders", CampaignStatus.PAUSED)
    holder = make.policyholder(consent_email=True)
    case = case_expiring(make, DAY + timedelta(days=30), holder)
    unreachable_case = case_expiring(make, DAY + timedelta(days=30), make.policyholder())
    assert run("policies.remind_renewals").counts == {"paused": 1, "reminders_withheld": 2}
    rows = session.scalars(select(Outbox).where(Outbox.kind == "renewal_reminder")).all()
    assert {row.status for row in rows} == {OutboxStatus.SKIPPED} and len(rows) == 2
    assert session.scalar(select(func.count()).select_from(Activity)) == 0  # no call planned either
    assert session.scalar(select(func.count()).select_from(CampaignRun)) == 0

    set_status(session, "renewal_reminders", CampaignStatus.ACTIVE)
    # the 30-day reminder, owed until expiry, is not caught up once resumed; the 7-day one goes on its day
    assert run("policies.remind_renewals", DAY + timedelta(days=1)).counts == {
        "reminders_queued": 0, "reminder_tasks": 0}
    assert remind_renewals(DAY + timedelta(days=23)) == {"reminders_queued": 1, "reminder_tasks": 1}
    session.commit()
    found = members(session, "renewal_reminders")
    assert {holder_id: value[:2] for holder_id, value in found.items()} == {
        holder.id: (DAY + timedelta(days=23), "sent"),
        unreachable_case.policy.policyholder_id: (DAY + timedelta(days=23), "task")}
    assert case.id
