"""Daily jobs of the policies domain (registered as ``policies.<name>``); set-based, never a loop over the book."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import partial

from flask import current_app
from sqlalchemy import ColumnElement, Date, Select, and_, exists, func, insert, literal, null, select, update
from sqlalchemy.orm import aliased

from agents.models import Activity, ActivityKind, Agent, AgentStatus, Priority, TaskReason
from insurecrm.db import db, utcnow
from insurecrm.jobs import daily_job
from insurecrm.models import Outbox, OutboxChannel
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
from policyholders.models import Policyholder
from policyholders.tasks import (
    active_agent,
    agent_field,
    days_between,
    instant_literal,
    json_payload,
    key_of,
    message_channel,
    money_text,
    pending_outbox_values,
    plan_tasks,
    queue_outbox,
    reachable,
    task_exists,
    task_row,
    unit_manager,
)


@daily_job("policies.open_renewal_cases", order=10)
def open_renewal_cases(logical_date: date) -> dict[str, int]:
    """Open a renewal case for every renewable policy that has entered the renewal window (the product's
    ``renewal_window_days`` before expiry, else ``INSURECRM_RENEWAL_WINDOW_DAYS``, 60 by default) and has
    neither a case nor a renewing policy yet. The case goes to the servicing agent, or to the unit's pool (no
    agent) when the agent is not active. One ``INSERT … SELECT``: the first run opens every case of the window
    at once."""
    default_window = current_app.config["RENEWAL_WINDOW_DAYS"]
    widest = max(default_window, db.session.scalar(select(func.max(Product.renewal_window_days))) or 0)
    window_end = logical_date + timedelta(days=widest)  # the index-friendly bound; the product's window below
    renewing = aliased(Policy)
    now = utcnow()
    candidates = (
        select(
            Policy.id, Policy.expiry_date, literal(logical_date),
            select(Agent.id).where(Agent.id == Policy.servicing_agent_id, Agent.status == AgentStatus.ACTIVE)
            .scalar_subquery(),
            Policy.org_unit_id, literal(RenewalStatus.OPEN.value), literal(1), literal(now), literal(now),
        )
        .join(Product, Product.id == Policy.product_id)
        .where(
            Product.renewable.is_(True),
            Policy.status.in_(IN_FORCE_STATUSES),
            Policy.expiry_date > logical_date,
            Policy.expiry_date <= window_end,
            days_between(Policy.expiry_date, logical_date)
            <= func.coalesce(Product.renewal_window_days, default_window),
            ~exists().where(RenewalCase.policy_id == Policy.id),
            ~exists().where(and_(renewing.renews_policy_id == Policy.id)),
        )
    )
    result = db.session.execute(
        insert(RenewalCase).from_select(
            ["policy_id", "due_date", "opened_on", "assigned_agent_id", "org_unit_id", "status", "version",
             "created_at", "updated_at"],
            candidates,
        ),
        execution_options={"preserve_rowcount": True},  # SQLAlchemy keeps INSERT rowcounts only when asked
    )
    return {"cases_opened": result.rowcount}


# -- reminders and escalations ------------------------------------------------------------------------------



def _case_payload(logical_date: date, **extra) -> ColumnElement:
    """What a renewal message or task is worded with: the variables of the outbox templates of its kind."""
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
    which words them from the payload."""
    offsets = sorted(set(current_app.config["RENEWAL_REMINDER_OFFSETS"]))
    counts = {"reminders_queued": 0, "reminder_tasks": 0}
    for index, offset in enumerate(offsets):
        nearer = offsets[index - 1] if index else None
        queued, tasks = _queue_reminders(logical_date, offset, nearer)
        counts["reminders_queued"] += queued
        counts["reminder_tasks"] += tasks
    return counts


def _queue_reminders(logical_date: date, offset: int, nearer: int | None) -> tuple[int, int]:
    key = key_of("renewal_reminder:policy=", Policy.id, f":offset={offset}")
    owed = [RenewalCase.status.in_(WORKED_CASE_STATUSES), Policy.expiry_date > logical_date,
            Policy.expiry_date <= logical_date + timedelta(days=offset), ~exists().where(Outbox.idempotency_key == key),
            ~task_exists(key)]
    if nearer is not None:
        owed.append(Policy.expiry_date > logical_date + timedelta(days=nearer))
    channel, recipient = message_channel(Policyholder)
    now = utcnow()
    messages = _cases_with_policy(
        key, literal("renewal_reminder"), channel, recipient, Policyholder.preferred_language, Policyholder.id,
        Policy.id, RenewalCase.assigned_agent_id, literal(""), _case_payload(logical_date, offset_days=offset),
        *pending_outbox_values(now))
    calls = _cases_with_policy(*task_row(
        source_key=key, reason=TaskReason.RENEWAL_CALL, kind=ActivityKind.CALL, priority=Priority.HIGH,
        subject=literal(f"Renewal reminder call ({offset} days) ") + Policy.number,
        description="The policyholder can be reached on no channel they consented to: call them about the renewal.",
        due=logical_date, agent_id=active_agent(RenewalCase.assigned_agent_id), org_unit_id=RenewalCase.org_unit_id,
        policyholder_id=Policyholder.id, contact_name=Policyholder.name, policy_id=Policy.id,
        renewal_case_id=RenewalCase.id))
    queued = queue_outbox(messages.where(*owed, reachable(Policyholder)))
    unreachable = plan_tasks(calls.where(*owed, ~reachable(Policyholder)))
    _record_reminders(offset, now)
    return queued, unreachable


def _record_reminders(offset: int, now: datetime) -> None:
    """One :class:`RenewalReminder` per case and offset: the message's channel and outbox row, or ``task``."""
    case_key = key_of("renewal_reminder:policy=", RenewalCase.policy_id, f":offset={offset}")
    not_recorded = ~exists().where(RenewalReminder.renewal_case_id == RenewalCase.id,
                                   RenewalReminder.offset_days == offset)
    columns = ["renewal_case_id", "offset_days", "channel", "outbox_id", "created_at"]
    db.session.execute(insert(RenewalReminder).from_select(columns, select(
        RenewalCase.id, literal(offset), Outbox.channel, Outbox.id, instant_literal(now))
        .join(Outbox, and_(Outbox.policy_id == RenewalCase.policy_id, Outbox.kind == "renewal_reminder",
                           Outbox.idempotency_key == case_key))
        .where(not_recorded)))
    db.session.execute(insert(RenewalReminder).from_select(columns, select(
        RenewalCase.id, literal(offset), literal(OutboxChannel.TASK.value), null(), instant_literal(now))
        .join(Activity, and_(Activity.renewal_case_id == RenewalCase.id, Activity.source_key == case_key))
        .where(not_recorded)))


@daily_job("policies.escalate_renewals", order=40,
           depends_on=("policies.open_renewal_cases", "policies.grace_and_lapse"))
def escalate_renewals(logical_date: date) -> dict[str, int]:
    """Escalate to the branch manager every case still ``open`` and never contacted when its policy expires
    within ``INSURECRM_RENEWAL_ESCALATION_DAYS`` (14 by default) and not escalated yet: ``escalated_at`` is set
    and one outbox ``task`` (kind ``renewal_escalation``, key ``renewal_escalation:case=<id>``, no agent) is
    queued for the managers of the case's unit, its payload naming the unit (``org_unit_id``) so the
    manager's board shows it. A case missed on its day is escalated on the next run before expiry."""
    window_end = logical_date + timedelta(days=current_app.config["RENEWAL_ESCALATION_DAYS"])
    key = key_of("renewal_escalation:case=", RenewalCase.id)
    due = [RenewalCase.status == RenewalStatus.OPEN, RenewalCase.first_contacted_at.is_(None),
           RenewalCase.escalated_at.is_(None), Policy.expiry_date > logical_date, Policy.expiry_date <= window_end]
    now = utcnow()
    plan_tasks(_cases_with_policy(*task_row(
        source_key=key, reason=TaskReason.RENEWAL_ESCALATION, kind=ActivityKind.CALL, priority=Priority.URGENT,
        subject=literal("Renewal not contacted, escalated: ") + Policy.number,
        description="Nobody has contacted this policyholder and the policy expires soon: call them, or hand the "
                    "case to an agent who will.",
        due=logical_date, agent_id=None, assignee_user_id=unit_manager(RenewalCase.org_unit_id),
        org_unit_id=RenewalCase.org_unit_id, policyholder_id=Policyholder.id, contact_name=Policyholder.name,
        policy_id=Policy.id, renewal_case_id=RenewalCase.id,
    )).where(*due, ~task_exists(key)))
    escalated = db.session.execute(
        update(RenewalCase)
        .where(RenewalCase.status == RenewalStatus.OPEN, RenewalCase.escalated_at.is_(None), task_exists(key))
        .values(escalated_at=now, updated_at=now, version=RenewalCase.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    return {"escalations": escalated}


# -- grace, lapse, expiry -----------------------------------------------------------------------------------

STATUS_JOB = "policies.grace_and_lapse"
UNPAID = (InstallmentStatus.DUE, InstallmentStatus.PARTIALLY_PAID)


@daily_job(STATUS_JOB, order=20)
def grace_and_lapse(logical_date: date) -> dict[str, int]:
    """Move policies along their status as premiums go unpaid and terms end, in bulk, each move with its
    :class:`PolicyStatusChange` row (actor ``job:policies.grace_and_lapse``) and only where
    ``policies.status.ALLOWED_TRANSITIONS`` allows it. Every move takes effect on the logical date: the job runs
    for every date (missed dates are caught up in order), so that is the first day its condition held.

    1. A running policy (in force, reinstated) whose term has ended (``expiry_date`` on or before the logical
       date) becomes ``renewed`` when a *written* policy renews it (one not ``quoted`` and not cancelled in its
       cooling-off period, as in ``docs/metrics.md``); otherwise ``expired`` for a renewable product,
       ``matured`` for another (its term simply ran out). An ``expired`` policy becomes ``renewed`` once its
       renewal is written (a late renewal). A policy in grace at expiry stays in grace (grace may only end in
       force, lapsed, cancelled or terminated) and lapses if it stays unpaid; a lapsed policy stays lapsed.
    2. A policy in grace with an installment unpaid more than the product's ``grace_period_days`` after its due
       date becomes ``lapsed``.
    3. A running policy (in force, reinstated; term not ended) with an installment unpaid after its due date
       (due before the logical date) enters ``grace``. A policy lapses at the earliest the run after it
       entered grace.
    4. The worked renewal cases (open, contacted, quoted) of policies now ``renewed`` are closed as
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
        return exists().where(Installment.policy_id == Policy.id, Installment.status.in_(UNPAID),
                              days_between(logical_date, Installment.due_date) > overdue_by)

    move = partial(_move_policies, logical_date, now)
    counts = {
        "renewed": move(PolicyStatus.RENEWED, and_(ended, renewed_by), "Renewed by its renewal policy.",
                        also_from=(PolicyStatus.EXPIRED,)),
        "expired": move(PolicyStatus.EXPIRED, and_(ended, ~renewed_by, renewable), "Expired without renewal."),
        "matured": move(PolicyStatus.MATURED, and_(ended, ~renewed_by, ~renewable), "Term ended."),
        "lapses": move(PolicyStatus.LAPSED, unpaid(grace_days), "Premium unpaid beyond the grace period."),
        "to_grace": move(PolicyStatus.GRACE, and_(~ended, unpaid(0)), "Premium unpaid after its due date."),
    }
    counts["cases_closed"] = _close_cases(now, renewing)
    return counts


def _move_policies(logical_date: date, now: datetime, target: PolicyStatus, condition: ColumnElement[bool],
                   reason: str, also_from: tuple[PolicyStatus, ...] = ()) -> int:
    """Move every policy meeting ``condition`` whose status (running, or ``also_from``) may become ``target``
    to it, as of the logical date (never before its last change): the history rows first, then the policies
    that got one."""
    sources = [status for status in IN_FORCE_STATUSES + also_from if target in ALLOWED_TRANSITIONS[status]]
    label = f"job:{STATUS_JOB}"
    day, recorded = literal(logical_date, Date()), instant_literal(now)
    history = select(Policy.id, Policy.status, literal(target.value), day, literal(reason), literal(label), recorded)
    moved = db.session.execute(
        insert(PolicyStatusChange).from_select(
            ["policy_id", "from_status", "to_status", "effective_date", "reason", "actor_label", "recorded_at"],
            history.where(Policy.status.in_(sources), Policy.status_date <= logical_date, condition)),
        execution_options={"preserve_rowcount": True},
    ).rowcount
    if moved:
        change = PolicyStatusChange
        db.session.execute(
            update(Policy)
            .where(Policy.status.in_(sources), exists().where(
                change.policy_id == Policy.id, change.from_status == Policy.status, change.to_status == target,
                change.effective_date == day, change.actor_label == label, change.recorded_at == recorded))
            .values(status=target, status_date=logical_date, updated_at=now, version=Policy.version + 1)
            .execution_options(synchronize_session=False)
        )
    return moved


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
        closed += db.session.execute(
            update(RenewalCase)
            .where(RenewalCase.status.in_(WORKED_CASE_STATUSES),
                   RenewalCase.policy_id.in_(select(Policy.id).where(Policy.status.in_(policy_statuses))))
            .values(**values).execution_options(synchronize_session=False)
        ).rowcount
    return closed


# -- new-policy callbacks -----------------------------------------------------------------------------------

@daily_job("policies.new_policy_callbacks", order=50)
def new_policy_callbacks(logical_date: date) -> dict[str, int]:
    """Plan a new-policy callback (新单回访, activity kind ``callback``) for every new-business policy of a
    product with ``callback_required``, issued on or before the logical date and still inside its cooling-off
    period (``issue_date + cooling_off_days`` after the logical date: a callback after it has no purpose), and
    running (in force, grace, reinstated: not one cancelled in cooling-off). One per policy: none when the
    policy has a callback activity already, whoever planned it. The callback is a task (reason
    ``new_policy_callback``, key ``new_policy_callback:policy=<id>``) for the servicing agent (the unit's pool
    when that agent is not active), due the day after the logical date — the day after issue, as the job runs
    on every date — which lies inside the cooling-off period."""
    key = key_of("new_policy_callback:policy=", Policy.id)
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
        .where(Policy.business_type == BusinessType.NEW, Product.callback_required.is_(True),
               Policy.status.in_(IN_FORCE_STATUSES), Policy.issue_date <= logical_date,
               days_between(logical_date, Policy.issue_date) < Product.cooling_off_days,
               ~exists().where(Activity.policy_id == Policy.id, Activity.kind == ActivityKind.CALLBACK),
               ~task_exists(key))
    )
    return {"callbacks_planned": plan_tasks(rows)}
