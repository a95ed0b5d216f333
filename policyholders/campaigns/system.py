"""The built-in campaigns: the renewal reminders (``policies.remind_renewals``) and the birthday greetings
(``policyholders.birthday_greetings``), shown among the campaigns so that an admin can see, edit and pause them.

Each is a :class:`Campaign` row with a ``system_key``, made when missing (:func:`ensure_system_campaigns`: by
their jobs, and where the default message templates are seeded). Its job keeps its own rules and its exactly-once
keys; what the campaign adds:

- **its status** — an active campaign's job works as it always did; a paused (or ended, or draft) one queues
  nothing for the date: every message owed that day is recorded as ``skipped`` under its own key, with why, so that
  resuming never sends what was held back while paused (the job reports ``paused``);
- **its runs and members** — every run of the job for a date is the campaign's :class:`CampaignRun` for that date
  (one per campaign and date), and every policyholder the run queued a message for (``sent``, with the outbox row)
  or a call task for (``task``, with the task) is a :class:`CampaignMember` of it, written in the same batch as the
  message or task (``INSERT … SELECT``), so reruns and crashes leave each member once;
- **its wording** — the message templates of its outbox kinds (:func:`template_kinds`), edited on the operations
  page of the templates, not the campaign's own messages.

Their schedule is daily whatever the campaign's dates say: the status decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, exists, func, literal, null, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from insurecrm import clock
from insurecrm.db import UTCDateTime, db, utcnow
from policyholders.campaigns.models import (
    Campaign,
    CampaignChannel,
    CampaignKind,
    CampaignMember,
    CampaignRun,
    CampaignSchedule,
    CampaignStatus,
    MemberOutcome,
    RunStatus,
)

RENEWAL_REMINDERS = "renewal_reminders"
BIRTHDAY_GREETINGS = "birthday_greetings"


@dataclass(frozen=True)
class SystemCampaign:
    """What a built-in campaign is: its kind, the name and text it is made with (English, stored as the other
    campaigns' are; the name shown translated while unchanged), its job and the outbox kinds of its messages."""

    key: str
    kind: CampaignKind
    name: str
    label: object  # the name, translated when printed
    description: str
    job_id: str
    template_kinds: tuple[str, ...]


SYSTEM_CAMPAIGNS: dict[str, SystemCampaign] = {
    RENEWAL_REMINDERS: SystemCampaign(
        RENEWAL_REMINDERS, CampaignKind.RENEWAL, "Renewal reminders", _l("Renewal reminders"),
        "Reminds the policyholder of each worked renewal case before expiry (INSURECRM_RENEWAL_REMINDER_OFFSETS), by "
        "a channel they consented to, or gives their agent a call task when there is none.",
        "policies.remind_renewals", ("renewal_reminder",)),
    BIRTHDAY_GREETINGS: SystemCampaign(
        BIRTHDAY_GREETINGS, CampaignKind.BIRTHDAY, "Birthday greetings", _l("Birthday greetings"),
        "Greets every active person with marketing consent on their birthday, by a channel they consented to.",
        "policyholders.birthday_greetings", ("birthday",)),
}


def _insert():
    return pg_insert if db.dialect == "postgresql" else sqlite_insert


def ensure_system_campaigns(session: Session) -> int:
    """Make the built-in campaigns the database lacks (active, daily, by email — their messages go by each
    policyholder's consented channel — no segment, no owner); how many were made. One an admin edited or paused is
    never touched, and two processes making them at once do not collide (the unique ``system_key``). Flushes; the
    caller commits."""
    existing = set(session.scalars(select(Campaign.system_key).where(Campaign.system_key.in_(SYSTEM_CAMPAIGNS))))
    missing = [spec for key, spec in SYSTEM_CAMPAIGNS.items() if key not in existing]
    if not missing:
        return 0
    now, today = utcnow(), clock.today()
    rows = [{"system_key": spec.key, "name": spec.name, "description": spec.description, "kind": spec.kind,
             "channel": CampaignChannel.EMAIL, "status": CampaignStatus.ACTIVE, "schedule": CampaignSchedule.DAILY,
             "start_date": today, "control_percent": 0, "conversion_window_days": 30, "cost_per_message": Decimal(0),
             "version": 1, "created_at": now, "updated_at": now} for spec in missing]
    result = session.execute(_insert()(Campaign.__table__).on_conflict_do_nothing(index_elements=["system_key"]),
                             rows, execution_options={"preserve_rowcount": True})
    return max(result.rowcount, 0)


def system_campaign(key: str) -> Campaign:
    """The built-in campaign ``key``, made first when missing."""
    ensure_system_campaigns(db.session)
    return db.session.scalars(select(Campaign).where(Campaign.system_key == key)).one()


def template_kinds(campaign: Campaign) -> tuple[str, ...]:
    """The outbox kinds whose message templates word ``campaign``'s messages (edited on the operations page of the
    templates); none for a campaign that words its own messages."""
    spec = SYSTEM_CAMPAIGNS.get(campaign.system_key or "")
    return spec.template_kinds if spec else ()


def display_name(campaign: Campaign) -> str:
    """The campaign's name for the reader: a built-in one's, while an admin has not renamed it, in the reader's
    language."""
    spec = SYSTEM_CAMPAIGNS.get(campaign.system_key or "")
    return str(spec.label) if spec and campaign.name == spec.name else campaign.name


def open_run(key: str, day: date) -> CampaignRun | None:
    """The run of the built-in campaign ``key`` for ``day`` (made now, or the one an earlier attempt made), or
    ``None`` when the campaign is not active: its job then queues nothing. Flushes; the job commits."""
    campaign = system_campaign(key)
    if campaign.status != CampaignStatus.ACTIVE:
        return None
    db.session.execute(_insert()(CampaignRun.__table__).values(
        campaign_id=campaign.id, run_date=day, status=RunStatus.RUNNING, started_at=utcnow(), counts={},
        cost=Decimal(0)).on_conflict_do_nothing(index_elements=["campaign_id", "run_date"]))
    return db.session.scalars(select(CampaignRun).where(CampaignRun.campaign_id == campaign.id,
                                                        CampaignRun.run_date == day)).one()


def record_members(run: CampaignRun, outcome: MemberOutcome, rows: Select) -> int:
    """Add to ``run`` the policyholders of ``rows`` — ``SELECT policyholder id, outbox id`` for ``sent`` members,
    ``SELECT policyholder id, task id`` for ``task`` ones: what the job just wrote — once each (a policyholder
    with two reminders that day is one member, linked to the first); how many were added. A policyholder already
    a member of the run is left as recorded."""
    found = rows.subquery()
    holder, target = found.c[0], func.min(found.c[1])
    linked = (target, null()) if outcome == MemberOutcome.SENT else (null(), target)
    member = exists().where(CampaignMember.run_id == run.id, CampaignMember.policyholder_id == holder)
    statement = _insert()(CampaignMember).from_select(
        ["campaign_id", "run_id", "policyholder_id", "outcome", "touched_at", "outbox_id", "activity_id"],
        select(literal(run.campaign_id), literal(run.id), holder, literal(outcome.value),
               literal(utcnow(), UTCDateTime()), *linked).where(~member).group_by(holder),
    ).on_conflict_do_nothing(index_elements=["run_id", "policyholder_id"])
    return max(db.session.execute(statement, execution_options={"preserve_rowcount": True}).rowcount, 0)


def finish_run(run: CampaignRun) -> None:
    """Mark ``run`` done with its members counted by outcome and its cost (as the other campaigns' runs). Flushes."""
    counts = {getattr(outcome, "value", outcome): count for outcome, count in db.session.execute(
        select(CampaignMember.outcome, func.count()).where(CampaignMember.run_id == run.id)
        .group_by(CampaignMember.outcome))}
    run.counts = {"members": sum(counts.values()), **counts}
    run.cost = db.session.get(Campaign, run.campaign_id).cost_per_message * counts.get(MemberOutcome.SENT.value, 0)
    run.status, run.finished_at = RunStatus.DONE, utcnow()
    db.session.flush()
