"""Daily jobs of the policyholders domain (``policyholders.<name>``), and the SQL building blocks the jobs of
every domain share: who may be messaged on which channel, outbox rows, payloads, dates.

**Reaching a policyholder.** A policyholder may get an email only with ``consent_email`` and an email
address, an SMS only with ``consent_sms`` and a phone number. When both are possible, the preferred channel
decides (``sms`` or ``phone`` → SMS, anything else → email). Nobody without the consent of a channel is
ever messaged on it; a job that must reach someone unreachable gives the agent a task to call them instead.

**Tasks.** What the jobs ask of a person is a task: an :class:`~agents.models.Activity` with a ``reason``, a
due date, an assignee and a unique ``source_key``. :func:`plan_tasks` inserts them set-based and exactly once:
the jobs select only rows whose key is not there yet, and the insert skips a key that a concurrent run wrote
first (``ON CONFLICT DO NOTHING`` on the unique key).
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
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    union,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from agents.models import (
    Activity,
    ActivityKind,
    ActivityStatus,
    Agent,
    AgentStatus,
    OrgUnit,
    Priority,
    Recurrence,
    TaskReason,
)
from insurecrm import clock
from insurecrm.batches import in_batches
from insurecrm.db import UTCDateTime, db, utcnow
from insurecrm.jobs import daily_job, is_done
from insurecrm.models import Outbox, OutboxChannel, OutboxStatus, Role, User
from policies.models import IN_FORCE_STATUSES, Policy, PremiumFrequency
from policyholders.campaigns import system
from policyholders.campaigns.models import MemberOutcome
from policyholders.models import ContactChannel, PartyKind, Policyholder, PolicyholderStatus

#: the hour (insurer's time zone) at which the activities the jobs plan start
PLANNED_HOUR = time(9)
OUTBOX_COLUMNS = ["idempotency_key", "kind", "channel", "recipient", "language", "policyholder_id", "policy_id",
                  "agent_id", "body", "payload", "status", "attempts", "created_at", "last_error"]
#: the columns of a task the jobs insert, in the order of their ``SELECT``: see :func:`task_row`
TASK_COLUMNS = ["source_key", "reason", "kind", "priority", "subject", "description", "due_date", "planned_start",
                "agent_id", "assignee_user_id", "org_unit_id", "policyholder_id", "contact_name", "policy_id",
                "renewal_case_id", "status", "recurrence", "created_at", "updated_at"]


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


def insert_new(model, columns: list[str], rows: Select, unique: list[str]) -> int:
    """``INSERT INTO model (columns) SELECT rows``, skipping a row whose ``unique`` columns an earlier or a
    concurrent run wrote first (``ON CONFLICT DO NOTHING``); the count inserted."""
    dialect_insert = sqlite.insert if db.dialect == "sqlite" else postgresql.insert
    statement = dialect_insert(model).from_select(columns, rows).on_conflict_do_nothing(index_elements=unique)
    return max(db.session.execute(statement, execution_options={"preserve_rowcount": True}).rowcount, 0)


def queue_outbox(rows: Select) -> int:
    """``INSERT INTO outbox … SELECT rows`` (columns in :data:`OUTBOX_COLUMNS` order), skipping any idempotency key
    already written (by an earlier or a concurrent run); the count inserted. As with :func:`plan_tasks`, ``rows``
    must exclude existing keys itself: the conflict clause only settles a race, which can then neither duplicate
    a message nor fail the job."""
    return insert_new(Outbox, OUTBOX_COLUMNS, rows, ["idempotency_key"])


def task_row(*, source_key, reason: TaskReason, kind: ActivityKind, priority: Priority, subject, description: str,
             due: date, agent_id, org_unit_id, policyholder_id, contact_name, assignee_user_id=None, policy_id=None,
             renewal_case_id=None) -> tuple:
    """The columns of one task as SQL expressions, in :data:`TASK_COLUMNS` order: planned for 09:00 on its due
    date, in the insurer's time zone."""
    now = instant_literal(utcnow())
    return (source_key, literal(reason.value), literal(kind.value), literal(priority.value),
            subject if isinstance(subject, ColumnElement) else literal(subject), literal(description),
            literal(due, Date()), instant_literal(local_instant(due, PLANNED_HOUR)), _sql(agent_id),
            _sql(assignee_user_id), org_unit_id, _sql(policyholder_id), _sql(contact_name), _sql(policy_id),
            _sql(renewal_case_id), literal(ActivityStatus.PLANNED.value), literal(Recurrence.NONE.value), now, now)


def _sql(value):
    return null() if value is None else value


def plan_tasks(rows: Select) -> int:
    """``INSERT INTO activities … SELECT rows`` (columns of :func:`task_row`), skipping any ``source_key`` already
    written (by an earlier or a concurrent run); the count inserted. ``rows`` must exclude existing keys itself
    (``~exists(Activity.source_key == key)``): the conflict clause only settles a race."""
    return insert_new(Activity, TASK_COLUMNS, rows, ["source_key"])


def task_exists(key: ColumnElement[str]) -> ColumnElement[bool]:
    return exists().where(Activity.source_key == key)


def unit_manager(unit_id_column) -> ColumnElement[int | None]:
    """The active branch manager who leads the unit of ``unit_id_column`` or the nearest unit above it (the
    lowest user id among equals), else ``NULL``: the unit's pool."""
    unit, lead = aliased(OrgUnit), aliased(OrgUnit)
    return (select(User.id).join(lead, lead.id == User.org_unit_id).join(unit, unit.id == unit_id_column)
            .where(User.role == Role.BRANCH_MANAGER, User.active.is_(True), unit.path.startswith(lead.path))
            .order_by(func.length(lead.path).desc(), User.id).limit(1).scalar_subquery())


def pending_outbox_values(now: datetime) -> tuple:
    """The last four outbox columns of a new row: ``pending``, no attempt yet, created now, no error."""
    return literal(OutboxStatus.PENDING.value), literal(0), instant_literal(now), null()


def skipped_outbox_values(now: datetime, reason) -> tuple:
    """The last four outbox columns of a message that will never be sent: ``skipped``, with why in
    ``last_error`` (text, or SQL). The row keeps its idempotency key, so no later run queues it."""
    return (literal(OutboxStatus.SKIPPED.value), literal(0), instant_literal(now),
            reason if isinstance(reason, ColumnElement) else literal(reason))


def days_late(logical_date: date) -> int:
    """How many days after its logical date a job runs (0 on the day itself)."""
    return max((clock.today() - logical_date).days, 0)


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
    language; key ``birthday:holder=<id>:year=<yyyy>``, so one greeting a year whatever reruns happen.

    A greeting days late is worse than none: a run more than ``INSURECRM_BIRTHDAY_LATE_DAYS`` (3) days after the
    logical date (a catch-up after an outage) queues nothing but records each greeting as ``skipped``, with why,
    under the same key, so it never goes later either (``greetings_skipped``, reported when some were).

    The greetings are the built-in campaign ``birthday_greetings`` (:mod:`policyholders.campaigns.system`): each
    run is its run for the date, and each person greeted a member of it. While the campaign is not active nothing
    is queued: each greeting owed is recorded as ``skipped``, with why (``paused``, ``greetings_withheld``)."""
    run = system.open_run(system.BIRTHDAY_GREETINGS, logical_date)
    holder = Policyholder
    # by the index of the stored month and day of birth: the day's birthdays, not every date of birth of the book
    born_today = holder.birthday.in_([month * 100 + d for month, d in birthday_month_days(logical_date)])
    channel, recipient = message_channel(holder)
    key = key_of("birthday:holder=", holder.id, f":year={logical_date.year}")
    due = [holder.status == PolicyholderStatus.ACTIVE, holder.kind == PartyKind.PERSON,
           holder.date_of_birth.is_not(None), born_today, holder.consent_marketing.is_(True), reachable(holder),
           ~exists().where(Outbox.idempotency_key == key)]
    late, tolerance = days_late(logical_date), current_app.config["BIRTHDAY_LATE_DAYS"]
    now = utcnow()
    if run is None:
        status = skipped_outbox_values(now, f"not sent: the birthday greetings campaign was not active on "
                                            f"{logical_date.isoformat()}")
    elif late <= tolerance:
        status = pending_outbox_values(now)
    else:
        status = skipped_outbox_values(now, (
            f"not sent: the birthday was on {logical_date.isoformat()} and the job for that date ran {late} days "
            f"later (INSURECRM_BIRTHDAY_LATE_DAYS is {tolerance})"))
    payload = json_payload(policyholder_name=holder.name, agent_name=agent_field(holder.owner_agent_id, Agent.name))

    def step(ids) -> int:
        queued = queue_outbox(select(key, literal("birthday"), channel, recipient, holder.preferred_language,
                                     holder.id, null(), holder.owner_agent_id, literal(""), payload, *status)
                              .where(holder.id.in_(ids), *due))
        if run is not None:
            system.record_members(run, MemberOutcome.SENT, select(holder.id, Outbox.id).join(
                Outbox, Outbox.idempotency_key == key).where(holder.id.in_(ids), Outbox.status != OutboxStatus.SKIPPED))
        return queued

    count = in_batches(select(holder.id).where(*due), step)
    if run is None:
        return {"paused": 1, "greetings_withheld": count} if count else {"paused": 1}
    system.finish_run(run)
    return {"greetings_queued": count} if late <= tolerance else {"greetings_queued": 0, "greetings_skipped": count}


def annualised_premium() -> ColumnElement:
    """A policy's premium over a year (a single premium counts once), as SQL."""
    per_year = case(*((Policy.frequency == f.value, f.per_year) for f in PremiumFrequency if f.per_year != 1),
                    else_=1)
    return Policy.premium * per_year


KEY_CUSTOMER_JOB = "policyholders.key_customer_callbacks"
SERVICE_KINDS = (ActivityKind.CALL, ActivityKind.VISIT)


@daily_job(KEY_CUSTOMER_JOB, order=70, depends_on=("policies.grace_and_lapse",))
def key_customer_callbacks(logical_date: date) -> dict[str, int]:
    """Plan a service call (定期回访, activity kind ``call``) for every active key customer: a policyholder whose
    running policies (in force, grace, reinstated) make an annualised premium of at least
    ``INSURECRM_KEY_CUSTOMER_PREMIUM``, with no call or visit still planned and none done within the last
    ``INSURECRM_KEY_CUSTOMER_CALLBACK_DAYS`` days. The call is a task (reason ``key_customer_call``) for the owner
    agent (the unit's pool when the owner is not active), due the day after the logical date.

    **Once per service cycle.** The key is ``key_customer_call:holder=<id>:after=<id of the holder's last call
    or visit done or cancelled, or never>``: the cycle the call answers, the same for every run that sees the same
    history — so two runs for adjacent dates started together plan one call, not two (the second insert meets
    the unique key), and a call done or cancelled opens a new cycle with a new key.

    **Cost.** Who is a key customer is a sum over the whole book; the job computes it only for the day's
    candidates (see :func:`_key_customer_candidates`): policyholders whose last service comes of age on the date,
    or whose calls, policies or record changed around it. That is exact as long as the job ran for the day
    before (every change is seen by the run of its day or the next); after a gap (the first run, a date not run)
    it looks at every policyholder once."""
    config = current_app.config
    since = local_instant(logical_date - timedelta(days=config["KEY_CUSTOMER_CALLBACK_DAYS"]))
    served = exists().where(
        Activity.policyholder_id == Policyholder.id, Activity.kind.in_(SERVICE_KINDS),
        or_(Activity.status == ActivityStatus.PLANNED,
            and_(Activity.status == ActivityStatus.DONE,
                 func.coalesce(Activity.actual_start, Activity.planned_start) >= instant_literal(since))))
    closed = aliased(Activity)  # correlated to the policyholder only, also inside the key's NOT EXISTS
    last_closed = (select(func.max(closed.id)).where(
        closed.policyholder_id == Policyholder.id, closed.kind.in_(SERVICE_KINDS),
        closed.status.in_((ActivityStatus.DONE, ActivityStatus.CANCELLED)))
        .correlate(Policyholder).scalar_subquery())
    key = (literal("key_customer_call:holder=") + cast(Policyholder.id, String) + literal(":after=")
           + func.coalesce(cast(last_closed, String), literal("never")))
    key_customers = (select(Policy.policyholder_id).where(Policy.status.in_(IN_FORCE_STATUSES))
                     .group_by(Policy.policyholder_id)
                     .having(func.sum(annualised_premium()) >= literal(config["KEY_CUSTOMER_PREMIUM"], Numeric(14, 2))))
    due = [Policyholder.status == PolicyholderStatus.ACTIVE, ~served, ~task_exists(key)]
    candidates = _key_customer_candidates(logical_date, since)
    if candidates is not None:
        due.append(Policyholder.id.in_(candidates))
        key_customers = key_customers.where(Policy.policyholder_id.in_(candidates))
    due.append(Policyholder.id.in_(key_customers))

    def step(ids) -> int:
        return plan_tasks(select(*task_row(
            source_key=key, reason=TaskReason.KEY_CUSTOMER_CALL, kind=ActivityKind.CALL, priority=Priority.NORMAL,
            subject="Key-customer service call (定期回访)",
            description="Periodic service call for a key customer: review their cover and needs.",
            due=logical_date + timedelta(days=1), agent_id=active_agent(Policyholder.owner_agent_id),
            org_unit_id=Policyholder.org_unit_id, policyholder_id=Policyholder.id, contact_name=Policyholder.name,
        )).where(Policyholder.id.in_(ids), *due))

    return {"key_customer_calls": in_batches(select(Policyholder.id).where(*due), step)}


def _key_customer_candidates(logical_date: date, since: datetime):
    """The policyholders who may have become owed a service call on ``logical_date``, as a ``SELECT`` of ids —
    or ``None`` (everyone) when the job has no successful run for the day before (see the job's docstring):

    - whose last done call or visit turned ``INSURECRM_KEY_CUSTOMER_CALLBACK_DAYS`` old on the date or the day
      before (their cycle comes due);
    - whose calls or visits, policies (issued, paid, lapsed, renewed, premium changed…) or record changed from
      the start of the day before to the end of the date — two days, so a change made after the date's run is
      seen by the next day's.

    Every condition of the call is then checked on these few; each band is bounded on an index."""
    if not is_done(KEY_CUSTOMER_JOB, logical_date - timedelta(days=1)):
        return None
    start, end = (instant_literal(local_instant(logical_date + timedelta(days=n))) for n in (-1, 1))
    due_from, due_to = instant_literal(since - timedelta(days=2)), instant_literal(since)
    came_due = select(Activity.policyholder_id).where(
        Activity.kind.in_(SERVICE_KINDS), Activity.status == ActivityStatus.DONE,
        or_(and_(Activity.actual_start >= due_from, Activity.actual_start < due_to),
            and_(Activity.actual_start.is_(None), Activity.planned_start >= due_from,
                 Activity.planned_start < due_to)))
    return union(
        came_due,
        select(Activity.policyholder_id).where(Activity.updated_at >= start, Activity.updated_at < end,
                                               Activity.kind.in_(SERVICE_KINDS)),
        select(Policy.policyholder_id).where(Policy.updated_at >= start, Policy.updated_at < end),
        select(Policyholder.id).where(Policyholder.updated_at >= start, Policyholder.updated_at < end),
    )
