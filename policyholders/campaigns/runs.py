"""Running a campaign: once per campaign and date, its members fixed when the run starts.

**When.** The daily job ``campaigns.run_due`` runs, for its logical date, every active campaign scheduled on it
(:func:`scheduled_on`): a campaign ``once`` on the first date from its start date on which it has not run yet,
``daily`` every date of its span, ``holidays`` on each date of the holiday calendar within its span. A manager may
also run a campaign now (the campaign page's "Run now"): the run is for today. Either way the run's unique key
``(campaign, date)`` makes it one run, whichever scheduler, host or person gets there first; a run that stopped
half-way (a crash) is finished by the next attempt: members, messages and tasks are each keyed.

**Who.** The campaign's segment, evaluated on the run's date in the scope of the campaign's owner (who made it, or
to whom it was handed over: :mod:`policyholders.campaigns.owners`; a campaign whose owner left runs no more until
handed over), within the campaign's branch whoever owns it (:func:`within_branch`), in the order of policyholder
ids. A random share of them (``control_percent``, drawn with the run as
seed: the same members whatever attempt draws) is held out — the control group, sent nothing — and every other
member is, in turn:

- ``no_consent`` — the channel is email or SMS and the policyholder has not consented to it or has no address or
  number for it (marketing kinds — birthday, holiday care, cross-sell, reactivation, custom — also need the
  marketing consent); the agent-task channel needs no consent (the agent decides how to call);
- ``over_cap`` — the policyholder already had ``INSURECRM_CAMPAIGN_WEEKLY_CAP`` campaign messages from runs of the
  seven days up to the run's date (tasks do not count);
- ``over_budget`` — the campaign's messages have spent its budget (``cost_per_message`` each);
- else ``sent`` (an outbox message in the policyholder's language, keyed ``campaign:run=<id>:holder=<id>``, worded
  from the campaign's message when sent, opt-out footer and all) or ``task`` (a task for the owner agent, or the
  unit's pool, due on the run's date, keyed the same way).
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from flask import current_app
from flask_babel import gettext
from sqlalchemy import ColumnElement, and_, bindparam, func, insert, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased

from agents.models import Activity, ActivityKind, ActivityStatus, Agent, AgentStatus, OrgUnit, Priority, TaskReason
from agents.task_services import planned_on
from insurecrm import clock
from insurecrm.db import db, utcnow
from insurecrm.jobs import daily_job
from insurecrm.models import Outbox, OutboxChannel, OutboxStatus, User
from policyholders.campaigns.models import (
    Campaign,
    CampaignChannel,
    CampaignKind,
    CampaignMember,
    CampaignRun,
    CampaignSchedule,
    CampaignStatus,
    Holiday,
    MemberOutcome,
    RunStatus,
)
from policyholders.campaigns.owners import owner_may_keep, tell_the_unit
from policyholders.models import Policyholder
from policyholders.segments.services import segment_query
from policyholders.tasks import email_reachable, sms_reachable

#: the outbox kind of a campaign's messages (worded from the campaign's own message: policyholders.campaigns.wording)
OUTBOX_KIND = "campaign"
#: kinds that are marketing: a message needs the marketing consent besides the channel's
MARKETING = frozenset({CampaignKind.BIRTHDAY, CampaignKind.HOLIDAY_CARE, CampaignKind.CROSS_SELL,
                       CampaignKind.REACTIVATION, CampaignKind.CUSTOM})
BATCH = 1000


class CampaignNotRunnable(Exception):
    """A campaign that cannot run (no segment, an owner who left); the message says why."""


class OwnerMayNotKeep(CampaignNotRunnable):
    """The campaign's owner may no longer own it (:func:`policyholders.campaigns.owners.may_own`): it runs again
    once handed over."""


def scheduled_on(campaign: Campaign, day: date, *, holiday: bool, has_run: bool) -> bool:
    """Whether ``campaign`` runs on ``day``: within its span, and once (not run yet), daily, or on a holiday."""
    if campaign.status != CampaignStatus.ACTIVE or day < campaign.start_date:
        return False
    if campaign.end_date is not None and day > campaign.end_date:
        return False
    if campaign.schedule == CampaignSchedule.ONCE:
        return not has_run
    return campaign.schedule == CampaignSchedule.DAILY or holiday


@daily_job("campaigns.run_due", order=95, depends_on=("reports.churn_scores", "reports.refresh_figures"))
def run_due(logical_date: date) -> dict[str, int]:
    """Run every active campaign (not a built-in one: their own jobs send them) scheduled on the logical date, each
    in its own transaction; the counts of their members by outcome. A campaign that cannot run is counted as
    ``campaigns_refused`` and the others go on; one that cannot because its owner left is told to the manager of
    its unit, once (``stopped_campaign_tasks``: :func:`policyholders.campaigns.owners.tell_the_unit`)."""
    holiday = db.session.scalar(select(Holiday.id).where(Holiday.day == logical_date)) is not None
    ran = set(db.session.scalars(select(CampaignRun.campaign_id).distinct()))
    campaigns = db.session.scalars(select(Campaign).where(
        Campaign.status == CampaignStatus.ACTIVE, Campaign.system_key.is_(None), Campaign.start_date <= logical_date)
        .order_by(Campaign.id)).all()
    totals: Counter = Counter()
    for campaign in campaigns:
        if not scheduled_on(campaign, logical_date, holiday=holiday, has_run=campaign.id in ran):
            continue
        try:
            run = run_campaign(campaign, logical_date)
        except CampaignNotRunnable as refused:
            db.session.rollback()
            totals["campaigns_refused"] += 1
            if isinstance(refused, OwnerMayNotKeep):
                totals["stopped_campaign_tasks"] += tell_the_unit(campaign, logical_date)
                db.session.commit()
            continue
        db.session.commit()
        totals["campaign_runs"] += 1
        totals.update({f"members_{key}": value for key, value in run.counts.items() if key != "members"})
    return dict(totals)


def run_campaign(campaign: Campaign, day: date) -> CampaignRun:
    """Run ``campaign`` for ``day`` (see the module's text), or finish its run for that day; the run. Refuses
    (:class:`CampaignNotRunnable`) a campaign without a segment, and (:class:`OwnerMayNotKeep`) one whose owner may
    no longer own it: no longer active, or no longer over its unit. Flushes; the caller commits."""
    if campaign.segment is None:
        raise CampaignNotRunnable(gettext("The campaign has no segment."))
    if not owner_may_keep(campaign):
        raise OwnerMayNotKeep(gettext("The campaign's owner is no longer active, or no longer manages its branch: "
                                      "hand it over to an active manager or admin."))
    owner = db.session.get(User, campaign.owner_user_id)
    run = _claim(campaign, day)
    if run.status == RunStatus.DONE:
        return run
    ids = db.session.scalars(segment_query(campaign.segment, owner, on=day).where(*within_branch(campaign))
                             .order_by(Policyholder.id)).all()
    control = _control_group(run, ids, campaign.control_percent)
    done = set(db.session.scalars(select(CampaignMember.policyholder_id).where(CampaignMember.run_id == run.id)))
    budget = _messages_left(campaign, run)
    for start in range(0, len(ids), BATCH):
        batch = [holder_id for holder_id in ids[start:start + BATCH] if holder_id not in done]
        budget = _reach(campaign, run, day, batch, control, budget)
    _finish(campaign, run)
    return run


def _insert():
    return pg_insert if db.dialect == "postgresql" else sqlite_insert


def _claim(campaign: Campaign, day: date) -> CampaignRun:
    """The run of ``campaign`` for ``day``: made now, or the one a former attempt made (the unique key decides)."""
    db.session.execute(_insert()(CampaignRun.__table__).values(
        campaign_id=campaign.id, run_date=day, status=RunStatus.RUNNING, started_at=utcnow(), counts={},
        cost=Decimal("0")).on_conflict_do_nothing(index_elements=["campaign_id", "run_date"]))
    return db.session.scalars(select(CampaignRun).where(CampaignRun.campaign_id == campaign.id,
                                                        CampaignRun.run_date == day)).one()


def _control_group(run: CampaignRun, ids: list[int], percent: int) -> set[int]:
    """``percent`` of ``ids`` drawn at random, seeded by the run: every attempt of the run draws the same."""
    size = round(len(ids) * percent / 100)
    return set(random.Random(f"campaign-run:{run.id}").sample(ids, size)) if size else set()


def _messages_left(campaign: Campaign, run: CampaignRun) -> int | None:
    """How many more messages the budget pays for (``None``: no limit)."""
    if campaign.budget is None or campaign.cost_per_message <= 0:
        return None
    spent = db.session.scalar(select(func.count()).select_from(CampaignMember).where(
        CampaignMember.campaign_id == campaign.id, CampaignMember.outcome == MemberOutcome.SENT)) or 0
    return max(0, int(campaign.budget // campaign.cost_per_message) - spent)


def _facts(campaign: Campaign, day: date, batch: list[int]) -> dict[int, Any]:
    """Per member of ``batch``: may the channel reach them, their campaign messages of the week, their language,
    name, owner agent, unit and contact on the channel. One query."""
    # the week of the run's date, by the dates of the runs (a catch-up run counts on the date it stands for)
    recent = (select(func.count()).select_from(CampaignMember)
              .join(CampaignRun, CampaignRun.id == CampaignMember.run_id)
              .where(CampaignMember.policyholder_id == Policyholder.id, CampaignMember.outcome == MemberOutcome.SENT,
                     CampaignRun.run_date.between(day - timedelta(days=6), day))
              .scalar_subquery())
    if campaign.channel == CampaignChannel.EMAIL:
        reachable, contact = email_reachable(), Policyholder.email
    elif campaign.channel == CampaignChannel.SMS:
        reachable, contact = sms_reachable(), Policyholder.phone
    else:
        reachable, contact = true(), Policyholder.phone
    if campaign.kind in MARKETING and campaign.channel != CampaignChannel.AGENT_TASK:
        reachable = and_(reachable, Policyholder.consent_marketing.is_(True))
    rows = db.session.execute(select(
        Policyholder.id, reachable.label("reachable"), recent.label("recent"), Policyholder.preferred_language,
        Policyholder.name, Policyholder.owner_agent_id, Policyholder.org_unit_id, contact.label("contact"))
        .where(Policyholder.id.in_(batch)))
    return {row.id: row for row in rows}


def _reach(campaign: Campaign, run: CampaignRun, day: date, batch: list[int], control: set[int],
           budget: int | None) -> int | None:
    """Record the members of ``batch`` with their outcomes, queue their messages or make their tasks; what is
    left of the budget."""
    facts, cap, now = _facts(campaign, day, batch), current_app.config["CAMPAIGN_WEEKLY_CAP"], utcnow()
    members, messages, tasks = [], [], []
    for holder_id in batch:
        fact = facts[holder_id]
        if holder_id in control:
            outcome = MemberOutcome.CONTROL
        elif campaign.channel == CampaignChannel.AGENT_TASK:
            outcome = MemberOutcome.TASK
            tasks.append(fact)
        elif not fact.reachable:
            outcome = MemberOutcome.NO_CONSENT
        elif fact.recent >= cap:
            outcome = MemberOutcome.OVER_CAP
        elif budget is not None and budget <= 0:
            outcome = MemberOutcome.OVER_BUDGET
        else:
            outcome = MemberOutcome.SENT
            budget = None if budget is None else budget - 1
            messages.append(fact)
        members.append({"campaign_id": campaign.id, "run_id": run.id, "policyholder_id": holder_id,
                        "outcome": outcome, "touched_at": now})
    if members:
        db.session.execute(insert(CampaignMember), members)
    _queue_messages(campaign, run, messages, now)
    _make_tasks(campaign, run, day, tasks, now)
    return budget


def member_key(run: CampaignRun, holder_id: int) -> str:
    return f"campaign:run={run.id}:holder={holder_id}"


def _queue_messages(campaign: Campaign, run: CampaignRun, facts: list, now) -> None:
    if not facts:
        return
    channel = OutboxChannel(campaign.channel.value)
    rows = [{"idempotency_key": member_key(run, fact.id), "kind": OUTBOX_KIND, "channel": channel,
             "recipient": fact.contact, "language": fact.preferred_language or "zh", "policyholder_id": fact.id,
             "agent_id": fact.owner_agent_id, "payload": {"campaign_id": campaign.id, "run_id": run.id,
                                                          "policyholder_name": fact.name},
             "status": OutboxStatus.PENDING, "attempts": 0, "body": "", "created_at": now} for fact in facts]
    db.session.execute(_insert()(Outbox.__table__).on_conflict_do_nothing(index_elements=["idempotency_key"]), rows)
    keys = [row["idempotency_key"] for row in rows]
    outbox_ids = dict(db.session.execute(select(Outbox.policyholder_id, Outbox.id)
                                         .where(Outbox.idempotency_key.in_(keys))).all())
    _link(run, "outbox_id", outbox_ids)


def _make_tasks(campaign: Campaign, run: CampaignRun, day: date, facts: list, now) -> None:
    if not facts:
        return
    active = set(db.session.scalars(select(Agent.id).where(
        Agent.id.in_({fact.owner_agent_id for fact in facts} - {None}), Agent.status == AgentStatus.ACTIVE)))
    subject = campaign.name[:160]
    rows = [{"source_key": member_key(run, fact.id), "reason": TaskReason.CAMPAIGN, "kind": ActivityKind.CALL,
             "priority": Priority.NORMAL, "subject": f"{subject}: {fact.name}"[:200],
             "description": _task_text(campaign, fact), "due_date": day, "planned_start": planned_on(day),
             "agent_id": fact.owner_agent_id if fact.owner_agent_id in active else None,
             "org_unit_id": fact.org_unit_id, "policyholder_id": fact.id, "contact_name": fact.name,
             "status": ActivityStatus.PLANNED, "created_at": now, "updated_at": now} for fact in facts]
    db.session.execute(_insert()(Activity.__table__).on_conflict_do_nothing(index_elements=["source_key"]), rows)
    keys = [row["source_key"] for row in rows]
    task_ids = dict(db.session.execute(select(Activity.policyholder_id, Activity.id)
                                       .where(Activity.source_key.in_(keys))).all())
    _link(run, "activity_id", task_ids)


def _task_text(campaign: Campaign, fact) -> str | None:
    """What the agent is to say: the campaign's message in the policyholder's language (else any), worded for
    them; ``None`` when it does not word."""
    from policyholders.campaigns.wording import word

    worded = word(campaign, fact.preferred_language or "zh", {"policyholder_name": fact.name})
    return None if worded is None else worded[1].strip()[:2000]


def _link(run: CampaignRun, column: str, ids_by_holder: dict[int, int]) -> None:
    """Point the run's members at their outbox rows or tasks."""
    if ids_by_holder:
        db.session.execute(update(CampaignMember.__table__).where(
            CampaignMember.run_id == run.id, CampaignMember.policyholder_id == bindparam("holder")
        ).values({column: bindparam("target")}),
            [{"holder": holder, "target": target} for holder, target in ids_by_holder.items()])


def _finish(campaign: Campaign, run: CampaignRun) -> None:
    counts = dict(db.session.execute(select(CampaignMember.outcome, func.count()).where(
        CampaignMember.run_id == run.id).group_by(CampaignMember.outcome)).all())
    counts = {str(outcome.value if hasattr(outcome, "value") else outcome): value for outcome, value in counts.items()}
    run.counts = {"members": sum(counts.values()), **counts}
    run.cost = campaign.cost_per_message * counts.get(MemberOutcome.SENT.value, 0)
    run.status, run.finished_at = RunStatus.DONE, utcnow()
    db.session.flush()


def within_branch(campaign: Campaign) -> list[ColumnElement[bool]]:
    """The conditions keeping a campaign's members in its branch (its unit and the units below), whoever owns it:
    handed over to an admin, whose scope is the whole book, or to a manager above the branch, it reaches no further
    than the branch it was made for. A campaign of no unit (an admin's, filed nowhere): none."""
    if campaign.org_unit_id is None:
        return []
    branch, unit = aliased(OrgUnit), aliased(OrgUnit)
    units = select(unit.id).join(branch, unit.path.startswith(branch.path)).where(branch.id == campaign.org_unit_id)
    return [Policyholder.org_unit_id.in_(units)]


def run_now(campaign: Campaign) -> CampaignRun:
    """A manager's "Run now": the campaign's run for today (made now, or the one already made today)."""
    if campaign.status != CampaignStatus.ACTIVE:
        raise CampaignNotRunnable(gettext("Only an active campaign runs: activate it first."))
    return run_campaign(campaign, clock.today())
