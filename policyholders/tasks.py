"""Daily jobs of the policyholders domain (``policyholders.<name>``), and the SQL building blocks the jobs of
every domain share: who may be messaged on which channel, outbox rows, payloads, dates.

**Reaching a policyholder.** A policyholder may get an email only with ``consent_email`` and an email
address, an SMS only with ``consent_sms`` and a phone number. When both are possible, the preferred channel
decides (``sms`` or ``phone`` → SMS, anything else → email). Nobody without the consent of a channel is
ever messaged on it; a job that must reach someone unreachable writes a task for the agent instead.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Numeric,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    extract,
    func,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
)

from agents.models import Activity, ActivityKind, ActivityStatus, Agent, AgentStatus, Priority, Recurrence
from insurecrm import clock
from insurecrm.db import UTCDateTime, db, utcnow
from insurecrm.jobs import daily_job
from insurecrm.models import Outbox, OutboxChannel, OutboxStatus
from policies.models import IN_FORCE_STATUSES, Policy, PremiumFrequency
from policyholders.models import ContactChannel, PartyKind, Policyholder, PolicyholderStatus

#: the hour (insurer's time zone) at which the activities the jobs plan start
PLANNED_HOUR = time(9)
OUTBOX_COLUMNS = ["idempotency_key", "kind", "channel", "recipient", "language", "policyholder_id", "policy_id",
                  "agent_id", "body", "payload", "status", "attempts", "created_at"]
ACTIVITY_COLUMNS = ["agent_id", "org_unit_id", "kind", "priority", "subject", "description", "planned_start",
                    "status", "policyholder_id", "contact_name", "policy_id", "recurrence", "created_at", "updated_at"]


# -- SQL building blocks shared by the jobs -----------------------------------------------------------------

def email_reachable(holder=Policyholder) -> ColumnElement[bool]:
    return and_(holder.consent_email.is_(True), func.coalesce(holder.email, "") != "")


def sms_reachable(holder=Policyholder) -> ColumnElement[bool]:
    return and_(holder.consent_sms.is_(True), func.coalesce(holder.phone, "") != "")


def reachable(holder=Policyholder) -> ColumnElement[bool]:
    """The policyholder may be messaged on at least one channel."""
    return or_(email_reachable(holder), sms_reachable(holder))


def message_channel(holder=Policyholder) -> tuple[ColumnElement[str], ColumnElement[str | None]]:
    """The channel a message to ``holder`` goes by and its recipient (address or number), as SQL:
    ``task`` and ``NULL`` for a policyholder reachable on no channel."""
    email, sms = email_reachable(holder), sms_reachable(holder)
    prefers_sms = and_(sms, holder.preferred_channel.in_((ContactChannel.SMS, ContactChannel.PHONE)))
    channel = case((prefers_sms, literal(OutboxChannel.SMS.value)), (email, literal(OutboxChannel.EMAIL.value)),
                   (sms, literal(OutboxChannel.SMS.value)), else_=literal(OutboxChannel.TASK.value))
    recipient = case((prefers_sms, holder.phone), (email, holder.email), (sms, holder.phone), else_=None)
    return channel, recipient


def active_agent(agent_id_column) -> ColumnElement[int | None]:
    """The agent of ``agent_id_column`` while active, else ``NULL`` (the unit's pool)."""
    return (select(Agent.id).where(Agent.id == agent_id_column, Agent.status == AgentStatus.ACTIVE)
            .scalar_subquery())


def agent_field(agent_id_column, field) -> ColumnElement[Any]:
    return select(field).where(Agent.id == agent_id_column).scalar_subquery()


def json_payload(**fields) -> ColumnElement[Any]:
    """A JSON object built in SQL from ``name=expression`` (Python ints and strings are typed literals)."""
    arguments: list[Any] = []
    for name, value in fields.items():
        if isinstance(value, bool | int):
            value = cast(literal(int(value)), Integer)
        elif isinstance(value, str):
            value = cast(literal(value), String)
        arguments += [literal_column(f"'{name}'"), value]
    return (func.json_object if db.dialect == "sqlite" else func.json_build_object)(*arguments)


def money_text(column) -> ColumnElement[str]:
    """An amount as text with its two decimals (``"1200.00"``), for payloads."""
    return func.printf("%.2f", column) if db.dialect == "sqlite" else cast(cast(column, Numeric(14, 2)), String)


def days_between(later, earlier) -> ColumnElement[int]:
    """Whole days from ``earlier`` to ``later`` (dates or date columns), as SQL."""
    later, earlier = (literal(v, Date()) if isinstance(v, date) else v for v in (later, earlier))
    if db.dialect == "sqlite":
        return cast(func.julianday(later) - func.julianday(earlier), Integer)
    return later - earlier


def key_of(prefix: str, id_column, suffix: str = "") -> ColumnElement[str]:
    """An idempotency key ``<prefix><id><suffix>`` as SQL."""
    return literal(prefix) + cast(id_column, String) + literal(suffix)


def local_instant(day: date, at: time = time(0)) -> datetime:
    """``at`` on ``day`` in the insurer's time zone, as a UTC instant."""
    return datetime.combine(day, at, tzinfo=clock.zone()).astimezone(UTC)


def instant_literal(value: datetime) -> ColumnElement[datetime]:
    return literal(value, UTCDateTime())


def queue_outbox(rows: Select) -> int:
    """``INSERT INTO outbox … SELECT rows`` (columns in :data:`OUTBOX_COLUMNS` order); the count inserted."""
    return db.session.execute(insert(Outbox).from_select(OUTBOX_COLUMNS, rows),
                              execution_options={"preserve_rowcount": True}).rowcount


def plan_activities(rows: Select) -> int:
    """``INSERT INTO activities … SELECT rows`` (columns in :data:`ACTIVITY_COLUMNS` order); the count inserted."""
    return db.session.execute(insert(Activity).from_select(ACTIVITY_COLUMNS, rows),
                              execution_options={"preserve_rowcount": True}).rowcount


def pending_outbox_values(now: datetime) -> tuple:
    """The last three outbox columns of a new row: ``pending``, no attempt yet, created now."""
    return literal(OutboxStatus.PENDING.value), literal(0), instant_literal(now)


# -- the jobs -----------------------------------------------------------------------------------------------

def birthday_month_days(day: date) -> list[tuple[int, int]]:
    """The (month, day) birthdays greeted on ``day``: Feb 29 birthdays on Feb 28 of a year without Feb 29."""
    greeted = [(day.month, day.day)]
    leap = day.year % 4 == 0 and (day.year % 100 != 0 or day.year % 400 == 0)
    if (day.month, day.day) == (2, 28) and not leap:
        greeted.append((2, 29))
    return greeted


@daily_job("policyholders.birthday_greetings", order=60)
def birthday_greetings(logical_date: date) -> dict[str, int]:
    """Queue a birthday greeting (outbox kind ``birthday``) for every active person whose birthday is the
    logical date (Feb 29 birthdays on Feb 28 in other years), with marketing consent and a channel they
    consented to; never to anyone else, and no task instead (a greeting is not owed). In the policyholder's
    language; key ``birthday:holder=<id>:year=<yyyy>``, so one greeting a year whatever reruns happen."""
    holder = Policyholder
    born_today = or_(*(and_(extract("month", holder.date_of_birth) == month, extract("day", holder.date_of_birth) == d)
                       for month, d in birthday_month_days(logical_date)))
    channel, recipient = message_channel(holder)
    key = key_of("birthday:holder=", holder.id, f":year={logical_date.year}")
    payload = json_payload(policyholder_name=holder.name, agent_name=agent_field(holder.owner_agent_id, Agent.name))
    rows = select(key, literal("birthday"), channel, recipient, holder.preferred_language, holder.id, null(),
                  holder.owner_agent_id, literal(""), payload, *pending_outbox_values(utcnow())).where(
        holder.status == PolicyholderStatus.ACTIVE, holder.kind == PartyKind.PERSON,
        holder.date_of_birth.is_not(None), born_today, holder.consent_marketing.is_(True), reachable(holder),
        ~exists().where(Outbox.idempotency_key == key),
    )
    return {"greetings_queued": queue_outbox(rows)}


def annualised_premium() -> ColumnElement:
    """A policy's premium over a year (a single premium counts once), as SQL."""
    per_year = case(*((Policy.frequency == f.value, f.per_year) for f in PremiumFrequency if f.per_year != 1),
                    else_=1)
    return Policy.premium * per_year


@daily_job("policyholders.key_customer_callbacks", order=70)
def key_customer_callbacks(logical_date: date) -> dict[str, int]:
    """Plan a service call (定期回访, activity kind ``call``) for every active key customer: a policyholder whose
    running policies (in force, grace, reinstated) make an annualised premium of at least
    ``INSURECRM_KEY_CUSTOMER_PREMIUM``, with no call or visit still planned and none done within the last
    ``INSURECRM_KEY_CUSTOMER_CALLBACK_DAYS`` days. The call goes to the owner agent (the unit's pool when the
    owner is not active), at 09:00 the day after the logical date. Rerunning adds nothing: the planned call
    is itself the proof of the next one."""
    config = current_app.config
    since = local_instant(logical_date - timedelta(days=config["KEY_CUSTOMER_CALLBACK_DAYS"]))
    key_customers = (select(Policy.policyholder_id).where(Policy.status.in_(IN_FORCE_STATUSES))
                     .group_by(Policy.policyholder_id)
                     .having(func.sum(annualised_premium()) >= literal(config["KEY_CUSTOMER_PREMIUM"], Numeric(14, 2))))
    served = exists().where(
        Activity.policyholder_id == Policyholder.id, Activity.kind.in_((ActivityKind.CALL, ActivityKind.VISIT)),
        or_(Activity.status == ActivityStatus.PLANNED,
            and_(Activity.status == ActivityStatus.DONE,
                 func.coalesce(Activity.actual_start, Activity.planned_start) >= instant_literal(since))),
    )
    now = utcnow()
    rows = select(
        active_agent(Policyholder.owner_agent_id), Policyholder.org_unit_id, literal(ActivityKind.CALL.value),
        literal(Priority.NORMAL.value), literal("Key-customer service call (定期回访)"),
        literal("Periodic service call for a key customer: review their cover and needs."),
        instant_literal(local_instant(logical_date + timedelta(days=1), PLANNED_HOUR)),
        literal(ActivityStatus.PLANNED.value), Policyholder.id, Policyholder.name, null(),
        literal(Recurrence.NONE.value), instant_literal(now), instant_literal(now),
    ).where(Policyholder.status == PolicyholderStatus.ACTIVE, Policyholder.id.in_(key_customers), ~served)
    return {"key_customer_calls": plan_activities(rows)}
