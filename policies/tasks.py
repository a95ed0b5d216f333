"""Daily jobs of the policies domain (registered as ``policies.<name>``); set-based, never a loop over the book.

Every job commits its work in batches (:func:`insurecrm.batches.in_batches`) and selects only what is still to
do, so a run for a date that crashed half-way does the rest when run again, and a user's edit of a row the job
touches waits for one batch at most. Every job's query starts from an index bounded by the day's work (an
expiry or issue window, a status, an unpaid installment), never from the whole book: see docs/benchmarks.md.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    String,
    and_,
    cast,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    union,
    update,
)
from sqlalchemy.orm import aliased

from agents.models import Activity, ActivityKind, Agent, AgentStatus, Priority, TaskReason
from insurecrm import clock
from insurecrm.batches import in_batches
from insurecrm.db import db, utcnow
from insurecrm.jobs import daily_job, is_done
from insurecrm.models import JobRun, Outbox, OutboxChannel, OutboxStatus
from policies.models import (
    IN_FORCE_STATUSES,
    WORKED_CASE_STATUSES,
    BusinessType,
    Installment,
    InstallmentStatus,
    Policy,
    PolicyStatus,
    PolicyStatusChange,
    Product,
    RenewalCase,
    RenewalReminder,
    RenewalStatus,
)
from policies.status import ALLOWED_TRANSITIONS
from policyholders.campaigns import system
from policyholders.campaigns.models import CampaignRun, MemberOutcome
from policyholders.models import Policyholder
from policyholders.tasks import (
    active_agent,
    agent_field,
    days_between,
    insert_new,
    instant_literal,
    json_payload,
    key_of,
    local_instant,
    message_channel,
    money_text,
    pending_outbox_values,
    plan_tasks,
    queue_outbox,
    reachable,
    skipped_outbox_values,
    task_exists,
    task_row,
    unit_manager,
)


@daily_job("policies.open_renewal_cases", order=10)
def open_renewal_cases(logical_date: date) -> dict[str, int]:
    """Open a renewal case for every renewable policy that has entered the renewal window (the product's
    ``renewal_window_days`` before expiry, else ``INSURECRM_RENEWAL_WINDOW_DAYS``, 60 by default) and has
    neither a case nor a renewing policy yet. The case goes to the servicing agent, or to the unit's pool (no
    agent) when the agent is not active. ``INSERT … SELECT`` in batches: the first run opens every case of the
    window at once. A case a concurrent run opened first is skipped (one case per policy, a unique key)."""
    default_window = current_app.config["RENEWAL_WINDOW_DAYS"]
    widest = max(default_window, db.session.scalar(select(func.max(Product.renewal_window_days))) or 0)
    window_end = logical_date + timedelta(days=widest)  # the index-friendly bound; the product's window below
    renewing = aliased(Policy)
    window = func.coalesce(Product.renewal_window_days, default_window)
    owed = [Product.renewable.is_(True), Policy.status.in_(IN_FORCE_STATUSES), Policy.expiry_date > logical_date,
            Policy.expiry_date <= window_end, days_between(Policy.expiry_date, logical_date) <= window,
            ~exists().where(RenewalCase.policy_id == Policy.id),
            ~exists().where(renewing.renews_policy_id == Policy.id)]
    now = utcnow()

    def step(ids) -> int:
        return insert_new(RenewalCase, [
            "policy_id", "due_date", "opened_on", "assigned_agent_id", "org_unit_id", "status", "version",
            "created_at", "updated_at"], select(
            Policy.id, Policy.expiry_date, literal(logical_date),
            select(Agent.id).where(Agent.id == Policy.servicing_agent_id, Agent.status == AgentStatus.ACTIVE)
            .scalar_subquery(),
            Policy.org_unit_id, literal(RenewalStatus.OPEN.value), literal(1), literal(now), literal(now),
        ).join(Product, Product.id == Policy.product_id).where(Policy.id.in_(ids), *owed), ["policy_id"])

    keys = select(Policy.id).join(Product, Product.id == Policy.product_id).where(*owed)
    return {"cases_opened": in_batches(keys, step)}


# -- reminders and escalations ------------------------------------------------------------------------------

def _case_payload(logical_date: date, **extra) -> ColumnElement:
    """What a renewal message or task is worded with: the variables of the outbox templates of its kind.
    ``days_left`` is as of the logical date; the sender words the message with the days left on the day it
    sends it (:func:`insurecrm.outbox.rendering.as_sent_on`)."""
    return json_payload(
        renewal_case_id=RenewalCase.id, policy_number=Policy.number, product_name=Product.name,
        expiry_date=Policy.expiry_date, days_left=days_between(Policy.expiry_date, logical_date),
        premium=money_text(Policy.premium), policyholder_name=Policyholder.name,
        agent_name=agent_field(RenewalCase.assigned_agent_id, Agent.name),
        agent_phone=agent_field(RenewalCase.assigned_agent_id, Agent.phone), **extra)


def _cases_with_policy(*columns) -> Select:
    return (select(*columns).select_from(RenewalCase).join(Policy, Policy.id == RenewalCase.policy_id)
            .join(Product, Product.id == Policy.product_id)
            .join(Policyholder, Policyholder.id == Policy.policyholder_id))


def sending_day(logical_date: date) -> date:
    """The day work queued for ``logical_date`` can go out at the earliest: today, for a late run."""
    return max(logical_date, clock.today())


@daily_job("policies.remind_renewals", order=30,
           depends_on=("policies.open_renewal_cases", "policies.grace_and_lapse"))
def remind_renewals(logical_date: date) -> dict[str, int]:
    """Remind the policyholder of every worked renewal case (open, contacted, quoted) at the offsets of
    ``INSURECRM_RENEWAL_REMINDER_OFFSETS`` (days before expiry; 30 and 7 by default).

    Offset N is owed from the day ``expiry − N`` until expiry, and is sent on the first run in that span — so a
    day the scheduler missed is caught up — unless a nearer offset is owed too: then only the nearest one is
    sent (one reminder, not two on the same day) and the farther one is skipped for good. Each reminder is one
    outbox row (kind ``renewal_reminder``, key ``renewal_reminder:policy=<id>:offset=<n>``: never twice) and one
    :class:`RenewalReminder` row. It goes by email or SMS in the policyholder's language, only on a channel they
    consented to and have a contact for (see :mod:`policyholders.tasks`); a policyholder reachable on none gets
    no message: the case's agent (none: the unit's pool) gets a task (reason ``renewal_call``, the same key, due
    on the logical date) to call them, and the reminder is recorded with channel ``task``.
    Reminders are service messages, so marketing consent is not asked. Subject and body are left to the sender,
    which words them from the payload, with the days left on the day it sends.

    **A late run** (a catch-up after an outage) sends nothing about a policy that has expired by the day it runs
    (expiry on or before today): the reminder is recorded as not sent — an outbox row ``skipped`` with the reason
    in ``last_error``, under its key (so it never goes later), and the :class:`RenewalReminder` pointing at it —
    and no call is planned (``reminders_skipped``, reported when some were).

    **The campaign.** The reminders are the built-in campaign ``renewal_reminders``
    (:mod:`policyholders.campaigns.system`): each run is its run for the date, and each policyholder reminded (or
    whose agent got the call) a member of it. While the campaign is not active nothing is queued and no call
    planned: each reminder owed is recorded as not sent (``skipped``, with why) under its key, so resuming the
    campaign never sends it late (``paused``, ``reminders_withheld``)."""
    run = system.open_run(system.RENEWAL_REMINDERS, logical_date)
    offsets = sorted(set(current_app.config["RENEWAL_REMINDER_OFFSETS"]))
    counts = {"reminders_queued": 0, "reminder_tasks": 0, "reminders_skipped": 0, "reminders_withheld": 0}
    for index, offset in enumerate(offsets):
        nearer = offsets[index - 1] if index else None
        for name, count in _queue_reminders(logical_date, offset, nearer, run).items():
            counts[name] += count
    if run is None:
        return {"paused": 1} | ({"reminders_withheld": counts["reminders_withheld"]}
                                if counts["reminders_withheld"] else {})
    system.finish_run(run)
    del counts["reminders_withheld"]
    if not counts["reminders_skipped"]:
        del counts["reminders_skipped"]
    return counts


def _queue_reminders(logical_date: date, offset: int, nearer: int | None, run: CampaignRun | None) -> dict[str, int]:
    key = key_of("renewal_reminder:policy=", Policy.id, f":offset={offset}")
    owed = [RenewalCase.status.in_(WORKED_CASE_STATUSES), Policy.expiry_date > logical_date,
            Policy.expiry_date <= logical_date + timedelta(days=offset), ~exists().where(Outbox.idempotency_key == key),
            ~task_exists(key)]
    if nearer is not None:
        owed.append(Policy.expiry_date > logical_date + timedelta(days=nearer))
    today = sending_day(logical_date)
    in_time = Policy.expiry_date > today
    too_late = (literal(f"not sent: the {offset}-day reminder was owed on {logical_date.isoformat()}, but the job for "
                        f"that date ran on {today.isoformat()}, when the policy had expired (on ")
                + cast(Policy.expiry_date, String) + literal(")"))
    channel, recipient = message_channel(Policyholder)
    now = utcnow()

    def message(status: tuple) -> Select:
        return _cases_with_policy(
            key, literal("renewal_reminder"), channel, recipient, Policyholder.preferred_language, Policyholder.id,
            Policy.id, RenewalCase.assigned_agent_id, literal(""), _case_payload(logical_date, offset_days=offset),
            *status)

    calls = _cases_with_policy(*task_row(
        source_key=key, reason=TaskReason.RENEWAL_CALL, kind=ActivityKind.CALL, priority=Priority.HIGH,
        subject=literal(f"Renewal reminder call ({offset} days) ") + Policy.number,
        description="The policyholder can be reached on no channel they consented to: call them about the renewal.",
        due=logical_date, agent_id=active_agent(RenewalCase.assigned_agent_id), org_unit_id=RenewalCase.org_unit_id,
        policyholder_id=Policyholder.id, contact_name=Policyholder.name, policy_id=Policy.id,
        renewal_case_id=RenewalCase.id))
    counts = {"reminders_queued": 0, "reminder_tasks": 0, "reminders_skipped": 0, "reminders_withheld": 0}
    withheld = literal(f"not sent: the renewal reminders campaign was not active on {logical_date.isoformat()}")

    def step(case_ids) -> int:
        batch = [RenewalCase.id.in_(case_ids), *owed]
        if run is None:
            counts["reminders_withheld"] += queue_outbox(message(skipped_outbox_values(now, withheld)).where(*batch))
            return _record_reminders(offset, now, case_ids)
        counts["reminders_queued"] += queue_outbox(message(pending_outbox_values(now)).where(
            *batch, in_time, reachable(Policyholder)))
        counts["reminder_tasks"] += plan_tasks(calls.where(*batch, in_time, ~reachable(Policyholder)))
        counts["reminders_skipped"] += queue_outbox(message(skipped_outbox_values(now, too_late)).where(
            *batch, ~in_time))
        _record_members(run, key, case_ids)
        return _record_reminders(offset, now, case_ids)

    in_batches(select(RenewalCase.id).join(Policy, Policy.id == RenewalCase.policy_id).where(*owed), step)
    return counts


def _record_members(run: CampaignRun, key: ColumnElement[str], case_ids) -> None:
    """The policyholders of the batch's cases reminded (the outbox rows keyed ``key`` not skipped) or whose agent
    got the call (the tasks keyed ``key``): members of the campaign's run."""
    system.record_members(run, MemberOutcome.SENT, _cases_with_policy(Policyholder.id, Outbox.id).join(
        Outbox, Outbox.idempotency_key == key).where(RenewalCase.id.in_(case_ids),
                                                     Outbox.status != OutboxStatus.SKIPPED))
    system.record_members(run, MemberOutcome.TASK, _cases_with_policy(Policyholder.id, Activity.id).join(
        Activity, Activity.source_key == key).where(RenewalCase.id.in_(case_ids)))


def _record_reminders(offset: int, now: datetime, case_ids) -> int:
    """One :class:`RenewalReminder` per case and offset: the message's channel and outbox row (sent or skipped),
    or ``task``; for the cases of one batch."""
    case_key = key_of("renewal_reminder:policy=", RenewalCase.policy_id, f":offset={offset}")
    not_recorded = ~exists().where(RenewalReminder.renewal_case_id == RenewalCase.id,
                                   RenewalReminder.offset_days == offset)
    columns, unique = ["renewal_case_id", "offset_days", "channel", "outbox_id", "created_at"], [
        "renewal_case_id", "offset_days", "channel"]
    recorded = insert_new(RenewalReminder, columns, select(
        RenewalCase.id, literal(offset), Outbox.channel, Outbox.id, instant_literal(now))
        .join(Outbox, and_(Outbox.idempotency_key == case_key, Outbox.kind == "renewal_reminder"))
        .where(RenewalCase.id.in_(case_ids), not_recorded), unique)
    return recorded + insert_new(RenewalReminder, columns, select(
        RenewalCase.id, literal(offset), literal(OutboxChannel.TASK.value), null(), instant_literal(now))
        .join(Activity, and_(Activity.source_key == case_key, Activity.renewal_case_id == RenewalCase.id))
        .where(RenewalCase.id.in_(case_ids), not_recorded), unique)


@daily_job("policies.escalate_renewals", order=40,
           depends_on=("policies.open_renewal_cases", "policies.grace_and_lapse"))
def escalate_renewals(logical_date: date) -> dict[str, int]:
    """Escalate to the branch manager every case still ``open`` and never contacted when its policy expires
    within ``INSURECRM_RENEWAL_ESCALATION_DAYS`` (14 by default) and not escalated yet: ``escalated_at`` is set
    and one task (reason ``renewal_escalation``, key ``renewal_escalation:case=<id>``, no agent) is planned for
    the manager leading the case's unit (else the unit's pool). A case missed on its day is escalated on the
    next run before expiry; a late run (a catch-up) escalates nothing about a policy that has expired by the
    day it runs — there is nothing left to save, and the expiry closes the case."""
    window_end = logical_date + timedelta(days=current_app.config["RENEWAL_ESCALATION_DAYS"])
    key = key_of("renewal_escalation:case=", RenewalCase.id)
    due = [RenewalCase.status == RenewalStatus.OPEN, RenewalCase.first_contacted_at.is_(None),
           RenewalCase.escalated_at.is_(None), Policy.expiry_date > sending_day(logical_date),
           Policy.expiry_date <= window_end]
    now = utcnow()
    tasks = _cases_with_policy(*task_row(
        source_key=key, reason=TaskReason.RENEWAL_ESCALATION, kind=ActivityKind.CALL, priority=Priority.URGENT,
        subject=literal("Renewal not contacted, escalated: ") + Policy.number,
        description="Nobody has contacted this policyholder and the policy expires soon: call them, or hand the "
                    "case to an agent who will.",
        due=logical_date, agent_id=None, assignee_user_id=unit_manager(RenewalCase.org_unit_id),
        org_unit_id=RenewalCase.org_unit_id, policyholder_id=Policyholder.id, contact_name=Policyholder.name,
        policy_id=Policy.id, renewal_case_id=RenewalCase.id))

    def step(case_ids) -> int:
        plan_tasks(tasks.where(RenewalCase.id.in_(case_ids), *due, ~task_exists(key)))
        return db.session.execute(
            update(RenewalCase)
            .where(RenewalCase.id.in_(case_ids), RenewalCase.status == RenewalStatus.OPEN,
                   RenewalCase.escalated_at.is_(None), task_exists(key))
            .values(escalated_at=now, updated_at=now, version=RenewalCase.version + 1)
            .execution_options(synchronize_session=False)
        ).rowcount

    keys = select(RenewalCase.id).join(Policy, Policy.id == RenewalCase.policy_id).where(*due)
    return {"escalations": in_batches(keys, step)}


# -- grace, lapse, expiry -----------------------------------------------------------------------------------

STATUS_JOB = "policies.grace_and_lapse"
UNPAID = (InstallmentStatus.DUE, InstallmentStatus.PARTIALLY_PAID)
#: statuses only this job sets: a move out of one takes effect at the earliest the day after it was set, so a
#: date's run gives the same result whether it ran in one go or was resumed after a crash between batches
SET_BY_THE_JOB = (PolicyStatus.GRACE, PolicyStatus.EXPIRED)


def unpaid_as_of(day: date, installment=Installment) -> ColumnElement[bool]:
    """The installment was not fully paid on ``day``: it is still due or partially paid, or it was paid after
    ``day`` (``paid_date``: the day it became fully paid). A catch-up judges a past date on the payments known
    up to that date, so its outcome is the one daily runs would have given."""
    return or_(installment.status.in_(UNPAID),
               and_(installment.status == InstallmentStatus.PAID, installment.paid_date > day))


def _unpaid_installments(day: date) -> Select:
    """The running policies with an installment due before ``day`` and unpaid on it, from the installments'
    indexes (``status, due_date`` and ``paid_date``): where the search for policies entering grace starts after
    a gap (:func:`_entering_grace`). Its cost follows the unpaid installments past due (the arrears, mostly of
    lapsed policies), not the day's work. The
    policy's status is a correlated subquery on purpose: looked up by id for each of these few installments,
    where a join would tempt the planner into reading every policy."""
    status = select(Policy.status).where(Policy.id == Installment.policy_id).correlate(Installment).scalar_subquery()
    return select(Installment.policy_id).where(Installment.due_date < day, unpaid_as_of(day),
                                               status.in_(IN_FORCE_STATUSES))


def _entering_grace(day: date) -> Select:
    """The running policies that may enter grace on ``day``: once the job ran for the day before, those with an
    installment that fell due on the day before, unpaid on ``day`` (the ``due_date`` index), and those changed
    since that run began (``updated_at``: a status set, a schedule written, a policy issued) — every other one
    with an installment unpaid before the day before was judged by that run on the same installments, and
    stayed running only because it did not owe (a payment since only pays; judged as of a date, an installment
    unpaid on ``day`` was unpaid on the day before). When the job did not run for the day before (its first
    run, a gap): every running policy with an installment unpaid past due (:func:`_unpaid_installments`), once.
    The unpaid installments of lapsed and otherwise ended policies, which grow with the book's arrears, are
    read only then."""
    yesterday = day - timedelta(days=1)
    began = db.session.scalar(select(JobRun.started_at).where(
        JobRun.job_id == STATUS_JOB, JobRun.logical_date == yesterday, JobRun.attempt_key == ""))
    if began is None:
        return _unpaid_installments(day)
    since = min(began, local_instant(yesterday))
    status = select(Policy.status).where(Policy.id == Installment.policy_id).correlate(Installment).scalar_subquery()
    fell_due = select(Installment.policy_id).where(Installment.due_date == yesterday, unpaid_as_of(day),
                                                   status.in_(IN_FORCE_STATUSES))
    changed = select(Policy.id).where(Policy.updated_at >= instant_literal(since),
                                      Policy.status.in_(IN_FORCE_STATUSES))
    return select(union(fell_due, changed).subquery().c[0])


def _renewed_lately(day: date):
    """The expired policies whose renewal may have been written (a quote put in force) since the day before:
    those renewed by a policy changed from the start of the day before to the end of ``day`` — or, when the job
    did not run for the day before (its first run, a gap), every expired policy."""
    if not is_done(STATUS_JOB, day - timedelta(days=1)):
        return Policy.status == PolicyStatus.EXPIRED
    renewal = aliased(Policy)
    start, end = (instant_literal(local_instant(day + timedelta(days=n))) for n in (-1, 1))
    return Policy.id.in_(select(renewal.renews_policy_id).where(
        renewal.updated_at >= start, renewal.updated_at < end, renewal.renews_policy_id.is_not(None)))


@daily_job(STATUS_JOB, order=20)
def grace_and_lapse(logical_date: date) -> dict[str, int]:
    """Move policies along their status as premiums go unpaid and terms end, in bulk, each move with its
    :class:`PolicyStatusChange` row (actor ``job:policies.grace_and_lapse``) and only where
    ``policies.status.ALLOWED_TRANSITIONS`` allows it. Every move takes effect on the logical date: the job runs
    for every date (missed dates are caught up in order), so that is the first day its condition held. Premiums
    are judged as they stood on the logical date (:func:`unpaid_as_of`): a catch-up after an outage gives the
    history daily runs would have given, whenever the payments were recorded.

    1. A running policy (in force, reinstated) whose term has ended (``expiry_date`` on or before the logical
       date) becomes ``renewed`` when a *written* policy renews it (one not ``quoted`` and not cancelled in its
       cooling-off period, as in ``docs/metrics.md``); otherwise ``expired`` for a renewable product,
       ``matured`` for another (its term simply ran out). An ``expired`` policy becomes ``renewed`` once its
       renewal is written (a late renewal). A policy in grace at expiry stays in grace (grace may only end in
       force, lapsed, cancelled or terminated) and lapses if it stays unpaid; a lapsed policy stays lapsed.
    2. A policy in grace with an installment unpaid more than the product's ``grace_period_days`` after its due
       date becomes ``lapsed``. A payment made after that day does not undo the lapse (the payment service
       leaves such a policy in grace for this job): the policy is reinstated by the reinstatement rule.
    3. A policy in grace none of whose installments due before the logical date is unpaid on it, and whose
       premium overdue when it entered grace was paid since, goes back to ``in_force`` (``back_in_force``): it
       entered grace in a catch-up run after that premium was paid within grace, a payment the payment service
       could not see as leaving grace (the policy was in force then). With every date run in order, the logical
       date of that move is the payment's date.
    4. A running policy (in force, reinstated; term not ended) with an installment unpaid after its due date
       (due before the logical date) enters ``grace``. A policy lapses at the earliest the run after it
       entered grace.
    5. The worked renewal cases (open, contacted, quoted) of policies now ``renewed`` are closed as
       ``renewed`` (with the renewing policy); those of policies now ``expired``, ``matured`` or ``lapsed`` are
       closed as ``lapsed``: the renewal was due and did not happen, and nobody recorded why (``lost``, with
       its reason, is the agent's outcome). A case in grace stays open: it is still worth working.
    """
    now = utcnow()
    renewing = aliased(Policy)
    renewed_by = exists().where(renewing.renews_policy_id == Policy.id, renewing.status != PolicyStatus.QUOTED,
                                renewing.cooling_off_cancellation.is_(False))
    renewable = Policy.product_id.in_(select(Product.id).where(Product.renewable.is_(True)))
    ended = Policy.expiry_date <= logical_date
    grace_days = (select(Product.grace_period_days).where(Product.id == Policy.product_id)
                  .correlate(Policy).scalar_subquery())

    def unpaid(overdue_by) -> ColumnElement[bool]:
        return exists().where(Installment.policy_id == Policy.id, unpaid_as_of(logical_date),
                              days_between(logical_date, Installment.due_date) > overdue_by)

    # the payment that cleared a policy in grace: an installment overdue on the day it entered grace, paid since
    paid_in_grace = exists().where(
        Installment.policy_id == Policy.id, Installment.status == InstallmentStatus.PAID,
        Installment.due_date < Policy.status_date, Installment.paid_date > Policy.status_date,
        Installment.paid_date <= logical_date)

    def move(target, condition, reason, start, sources=IN_FORCE_STATUSES) -> int:
        return _move_policies(logical_date, now, target, condition, reason, sources, start)

    # each move starts from an index bounded by the day's work (``start``); its batches check every condition
    running_ended = Policy.status.in_(IN_FORCE_STATUSES) & ended
    in_grace = Policy.status == PolicyStatus.GRACE
    counts = {
        "renewed": move(PolicyStatus.RENEWED, and_(ended, renewed_by), "Renewed by its renewal policy.",
                        running_ended)
        + move(PolicyStatus.RENEWED, renewed_by, "Renewed by its renewal policy.",
               _renewed_lately(logical_date), sources=(PolicyStatus.EXPIRED,)),
        "expired": move(PolicyStatus.EXPIRED, and_(ended, ~renewed_by, renewable), "Expired without renewal.",
                        running_ended),
        "matured": move(PolicyStatus.MATURED, and_(ended, ~renewed_by, ~renewable), "Term ended.", running_ended),
        "lapses": move(PolicyStatus.LAPSED, unpaid(grace_days), "Premium unpaid beyond the grace period.", in_grace,
                       sources=(PolicyStatus.GRACE,)),
        "back_in_force": move(PolicyStatus.IN_FORCE, and_(~unpaid(0), paid_in_grace),
                              "Overdue premium paid within the grace period.", in_grace, sources=(PolicyStatus.GRACE,)),
        "to_grace": move(PolicyStatus.GRACE, and_(~ended, unpaid(0)), "Premium unpaid after its due date.",
                         _entering_grace(logical_date)),
    }
    if not counts["back_in_force"]:
        del counts["back_in_force"]  # reported when a catch-up made some
    counts["cases_closed"] = _close_cases(now, renewing)
    return counts


def _move_policies(logical_date: date, now: datetime, target: PolicyStatus, condition: ColumnElement[bool],
                   reason: str, sources: tuple[PolicyStatus, ...], start) -> int:
    """Move every policy meeting ``condition`` whose status (one of ``sources``) may become ``target`` to it, as
    of the logical date (never before its last change, and out of a status this job set only from the day
    after), batch by batch: the history rows of the batch (its policies locked), then the policies that got one.
    The candidates are ``start`` (a condition on policies, or a ``SELECT`` of policy ids), a cheap superset read
    from an index; each batch checks every condition on its few ids, where the planner probes by id."""
    sources = [status for status in sources if target in ALLOWED_TRANSITIONS[status]]
    settled = or_(and_(Policy.status.in_(SET_BY_THE_JOB), Policy.status_date < logical_date),
                  and_(Policy.status.not_in(SET_BY_THE_JOB), Policy.status_date <= logical_date))
    movable = [Policy.status.in_(sources), settled, condition]
    label = f"job:{STATUS_JOB}"
    day, recorded = literal(logical_date, Date()), instant_literal(now)

    def step(ids) -> int:
        history = (select(Policy.id, Policy.status, literal(target.value), day, literal(reason), literal(label),
                          recorded).where(Policy.id.in_(ids), *movable).with_for_update(of=Policy))
        moved = db.session.scalars(insert(PolicyStatusChange).from_select(
            ["policy_id", "from_status", "to_status", "effective_date", "reason", "actor_label", "recorded_at"],
            history).returning(PolicyStatusChange.policy_id)).all()
        if moved:
            db.session.execute(
                update(Policy).where(Policy.id.in_(moved))
                .values(status=target, status_date=logical_date, updated_at=now, version=Policy.version + 1)
                .execution_options(synchronize_session=False))
        return len(moved)

    keys = start if isinstance(start, Select) else select(Policy.id).where(Policy.status.in_(sources), start)
    return in_batches(keys, step)


def _close_cases(now: datetime, renewing) -> int:
    """Close the worked cases of policies that have ended: ``renewed`` with the renewing policy, or ``lapsed``."""
    closed = 0
    outcomes = {RenewalStatus.RENEWED: (PolicyStatus.RENEWED,),
                RenewalStatus.LAPSED: (PolicyStatus.EXPIRED, PolicyStatus.MATURED, PolicyStatus.LAPSED)}
    for outcome, policy_statuses in outcomes.items():
        values = {"status": outcome, "closed_at": now, "updated_at": now, "version": RenewalCase.version + 1}
        if outcome is RenewalStatus.RENEWED:
            values["renewing_policy_id"] = func.coalesce(
                RenewalCase.renewing_policy_id,
                select(renewing.id).where(renewing.renews_policy_id == RenewalCase.policy_id).scalar_subquery())
        ending = [RenewalCase.status.in_(WORKED_CASE_STATUSES),
                  RenewalCase.policy_id.in_(select(Policy.id).where(Policy.status.in_(policy_statuses)))]

        def step(ids, values=values, ending=ending) -> int:
            return db.session.execute(
                update(RenewalCase).where(RenewalCase.id.in_(ids), *ending)
                .values(**values).execution_options(synchronize_session=False)).rowcount

        # from the worked cases (the window's), not from the ended policies (the book's history)
        keys = (select(RenewalCase.id).join(Policy, Policy.id == RenewalCase.policy_id)
                .where(RenewalCase.status.in_(WORKED_CASE_STATUSES), Policy.status.in_(policy_statuses)))
        closed += in_batches(keys, step)
    return closed


# -- new-policy callbacks -----------------------------------------------------------------------------------

@daily_job("policies.new_policy_callbacks", order=50)
def new_policy_callbacks(logical_date: date) -> dict[str, int]:
    """Plan a new-policy callback (新单回访, activity kind ``callback``) for every new-business policy of a
    product with ``callback_required``, issued on or before the logical date and still inside its cooling-off
    period (``issue_date + cooling_off_days`` after the logical date — and after the day the job runs, for a
    late run: a callback after it has no purpose), and running (in force, grace, reinstated: not one cancelled
    in cooling-off). One per policy: none when the policy has a callback activity already, whoever planned it.
    The callback is a task (reason ``new_policy_callback``, key ``new_policy_callback:policy=<id>``) for the
    servicing agent (the unit's pool when that agent is not active), due the day after the logical date — the
    day after issue, as the job runs on every date — which lies inside the cooling-off period. Only the
    policies issued within the longest cooling-off period of such products are looked at (``issue_date`` index).
    """
    longest = db.session.scalar(select(func.max(Product.cooling_off_days)).where(
        Product.callback_required.is_(True))) or 0
    key = key_of("new_policy_callback:policy=", Policy.id)
    owed = [Policy.business_type == BusinessType.NEW, Product.callback_required.is_(True),
            Policy.status.in_(IN_FORCE_STATUSES), Policy.issue_date <= logical_date,
            Policy.issue_date > logical_date - timedelta(days=longest),
            days_between(sending_day(logical_date), Policy.issue_date) < Product.cooling_off_days,
            ~exists().where(Activity.policy_id == Policy.id, Activity.kind == ActivityKind.CALLBACK),
            ~task_exists(key)]
    rows = (
        select(*task_row(
            source_key=key, reason=TaskReason.NEW_POLICY_CALLBACK, kind=ActivityKind.CALLBACK, priority=Priority.HIGH,
            subject=literal("New-policy callback (新单回访) ") + Policy.number,
            description="Confirm the policyholder received the policy and understood its terms and cooling-off "
                        "period.",
            due=logical_date + timedelta(days=1), agent_id=active_agent(Policy.servicing_agent_id),
            org_unit_id=Policy.org_unit_id, policyholder_id=Policy.policyholder_id, contact_name=Policyholder.name,
            policy_id=Policy.id))
        .join(Product, Product.id == Policy.product_id).join(Policyholder, Policyholder.id == Policy.policyholder_id)
    )
    keys = select(Policy.id).join(Product, Product.id == Policy.product_id).where(*owed)
    return {"callbacks_planned": in_batches(keys, lambda ids: plan_tasks(rows.where(Policy.id.in_(ids), *owed)))}
