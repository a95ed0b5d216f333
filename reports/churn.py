"""The churn early warning (流失预警): why each active policyholder may leave, and how likely, 0 to 100.

One definition, used everywhere (docs/metrics.md, "Churn early warning"): :func:`reason_rows` finds the reasons in
SQL for a batch of policyholders as of a logical date; the daily job ``reports.churn_scores`` (:mod:`reports.tasks`)
stores them with the score, the capped sum of their weights. The report ``churn`` (the /reports page, its exports,
the API and the CLI) and the agent's My day read the stored rows, inside the reader's scope.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from flask import request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    union,
    union_all,
)
from sqlalchemy.orm import aliased

from agents.models import Agent, OrgUnit
from insurecrm import clock
from insurecrm.api import Integer as IntegerField
from insurecrm.db import db
from insurecrm.models import JobRun, User
from insurecrm.scope import visible
from policies.models import (
    IN_FORCE_STATUSES,
    WORKED_CASE_STATUSES,
    Claim,
    ClaimStatus,
    Installment,
    Payment,
    Policy,
    PolicyStatus,
    RenewalCase,
    RenewalStatus,
)
from policies.tasks import UNPAID, unpaid_as_of
from policyholders.models import Interaction, Policyholder, ServiceKind, ServiceRequest
from reports.catalogue import WITH_AGENTS, report
from reports.filters import ReportArgs, choice
from reports.models import ChurnReason, ChurnScore
from reports.sql import greatest, least
from reports.tables import Chart, Column, ReportResult, Table

#: the reasons, strongest first (the order the reasons of a policyholder are listed in), with their labels
REASON_LABELS = {
    "renewal_not_contacted": _l("Renewal due within 30 days, not contacted"),
    "premium_overdue": _l("Premium overdue (installment missed or policy in grace)"),
    "complaint": _l("Complaint in the last 90 days"),
    "claim_rejected": _l("Claim rejected in the last 180 days"),
    "contacts_falling": _l("Fewer contacts than in the six months before"),
    "premium_rise": _l("Renewal quoted more than 10% above the premium"),
}
#: what each reason adds to the score; the score is their sum, capped at :data:`MAX_SCORE`
WEIGHTS = {"renewal_not_contacted": 30, "premium_overdue": 25, "complaint": 20, "claim_rejected": 20,
           "contacts_falling": 15, "premium_rise": 15}
#: the kind of record a reason's ``record_id`` points at
RECORD_OF = {"renewal_not_contacted": "renewal_case", "premium_overdue": "policy", "complaint": "service_request",
             "claim_rejected": "claim", "contacts_falling": "policyholder", "premium_rise": "renewal_case"}
MAX_SCORE = 100
#: the daily job that stores the scores (:mod:`reports.tasks`)
CHURN_JOB = "reports.churn_scores"
#: how far before the previous run's start the next one looks for changed records: a row is stamped when it is
#: written and seen when its transaction commits (and hosts' clocks may be a little apart)
IN_FLIGHT = timedelta(hours=1)
RENEWAL_DAYS, COMPLAINT_DAYS, CLAIM_DAYS, CONTACT_MONTHS = 30, 90, 180, 6
#: a quote more than this fraction above the expiring policy's premium is a large rise
PREMIUM_RISE = Decimal("0.10")
#: who may run the report: agents (their own book), branch managers (their branch), actuaries and admins
REPORT_ROLES = WITH_AGENTS
#: how many warnings the agent's My day lists
MY_DAY_LIMIT = 10
SEPARATOR = "; "


# -- the reasons, as of a logical date -----------------------------------------------------------------------

def months_before(day: date, months: int) -> date:
    """``day`` minus ``months`` calendar months, clamped to the end of the month reached (31 Aug → 28 Feb)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def local_midnight(day: date) -> datetime:
    """The instant (aware) a day of the insurer's time zone begins."""
    return datetime.combine(day, time.min, tzinfo=clock.zone())


def _local_midnight_of(date_column, around: date) -> ColumnElement:
    """SQL: the instant a day (a date column) begins in the insurer's time zone. SQLite has no time zones: the
    zone's offset on ``around`` is used, and the instant is written as SQLite stores instants (UTC text)."""
    if db.dialect == "postgresql":
        return func.timezone(clock.zone().key, cast(date_column, DateTime))
    offset = int(local_midnight(around).utcoffset().total_seconds())
    return func.datetime(date_column, f"{-offset:+d} seconds")


def _row(code: str, holder, record, *order) -> tuple:
    """The columns every reason selects: policyholder, code, weight, record, and its rank among the same
    policyholder's records of that reason (the first by ``order`` is kept)."""
    rank = func.row_number().over(partition_by=holder, order_by=order) if order else literal(1)
    return (holder.label("policyholder_id"), cast(literal(code), String(32)).label("code"),
            cast(literal(WEIGHTS[code]), Integer).label("weight"), record.label("record_id"), rank.label("rank"))


def _reasons(day: date, holder_ids) -> list[Select]:
    """One ``SELECT`` per reason over the policyholders ``holder_ids``, as of ``day`` (see docs/metrics.md)."""
    end = local_midnight(day + timedelta(days=1))
    holder = Policy.policyholder_id
    contacted = exists().where(Interaction.policyholder_id == holder, Interaction.occurred_at < end,
                               Interaction.occurred_at >= _local_midnight_of(RenewalCase.opened_on, day))
    overdue = exists().where(Installment.policy_id == Policy.id, Installment.due_date < day, unpaid_as_of(day))
    recent_start = local_midnight(months_before(day, CONTACT_MONTHS) + timedelta(days=1))
    earlier_start = local_midnight(months_before(day, 2 * CONTACT_MONTHS) + timedelta(days=1))
    recent = func.count(case((Interaction.occurred_at >= recent_start, 1)))
    earlier = func.count(case((Interaction.occurred_at < recent_start, 1)))
    cases = select().select_from(RenewalCase).join(Policy, Policy.id == RenewalCase.policy_id)
    return [
        cases.add_columns(*_row("renewal_not_contacted", holder, RenewalCase.id, RenewalCase.due_date, RenewalCase.id))
        .where(holder.in_(holder_ids), RenewalCase.status == RenewalStatus.OPEN, RenewalCase.due_date >= day,
               RenewalCase.due_date <= day + timedelta(days=RENEWAL_DAYS), ~contacted),
        select(*_row("premium_overdue", holder, Policy.id, Policy.id))
        .where(holder.in_(holder_ids), Policy.status.in_(IN_FORCE_STATUSES),
               or_(Policy.status == PolicyStatus.GRACE, overdue)),
        select(*_row("complaint", ServiceRequest.policyholder_id, ServiceRequest.id, ServiceRequest.opened_at.desc(),
                     ServiceRequest.id.desc()))
        .where(ServiceRequest.policyholder_id.in_(holder_ids), ServiceRequest.kind == ServiceKind.COMPLAINT,
               ServiceRequest.opened_at >= local_midnight(day - timedelta(days=COMPLAINT_DAYS - 1)),
               ServiceRequest.opened_at < end),
        select(*_row("claim_rejected", holder, Claim.id, Claim.report_date.desc(), Claim.id.desc()))
        .join(Policy, Policy.id == Claim.policy_id)
        .where(holder.in_(holder_ids), Claim.status == ClaimStatus.REJECTED,
               Claim.report_date > day - timedelta(days=CLAIM_DAYS), Claim.report_date <= day),
        select(*_row("contacts_falling", Interaction.policyholder_id, Interaction.policyholder_id))
        .where(Interaction.policyholder_id.in_(holder_ids), Interaction.occurred_at >= earlier_start,
               Interaction.occurred_at < end)
        .group_by(Interaction.policyholder_id).having(and_(earlier >= 2, recent < earlier)),
        # a quote is a modal premium, as the policy's: quoted > premium × 1.1, in whole multiples (no float on SQLite)
        cases.add_columns(*_row("premium_rise", holder, RenewalCase.id, RenewalCase.due_date, RenewalCase.id))
        .where(holder.in_(holder_ids), RenewalCase.status.in_(WORKED_CASE_STATUSES),
               RenewalCase.quoted_premium.is_not(None),
               RenewalCase.quoted_premium * 100 > Policy.premium * int(100 * (1 + PREMIUM_RISE))),
    ]


def reason_rows(day: date, holder_ids) -> Select:
    """``SELECT policyholder_id, code, weight, record_id``: the reasons of the policyholders ``holder_ids`` (a list
    or a ``SELECT`` of ids) as of ``day``, one row per policyholder and reason, with the record behind it (the
    first by the reason's order: the case due soonest, the policy with the lowest id, the latest complaint or claim)."""
    ranked = union_all(*_reasons(day, holder_ids)).subquery()
    return (select(ranked.c.policyholder_id, ranked.c.code, ranked.c.weight, ranked.c.record_id)
            .where(ranked.c.rank == 1))


def score_rows(day: date, holder_ids) -> Select:
    """``SELECT policyholder_id, scored_on, score`` of the policyholders ``holder_ids`` from their stored reasons:
    the sum of the weights, capped at :data:`MAX_SCORE` (0 without a reason)."""
    total = func.coalesce(func.sum(ChurnReason.weight), 0)
    return (select(Policyholder.id, literal(day), least(literal(MAX_SCORE), total))
            .outerjoin(ChurnReason, ChurnReason.policyholder_id == Policyholder.id)
            .where(Policyholder.id.in_(holder_ids)).group_by(Policyholder.id))


# -- the day's candidates -------------------------------------------------------------------------------------

def _holders_of(model, *conditions) -> Select:
    """The holders of the policies of the ``model`` rows (with a ``policy_id``) meeting ``conditions``: read from
    the rows' index, each policy then looked up by id."""
    return select(Policy.policyholder_id).select_from(model).join(Policy, Policy.id == model.policy_id).where(
        *conditions)


def _interactions_between(start: datetime, end: datetime) -> Select:
    return select(Interaction.policyholder_id).where(Interaction.occurred_at >= start, Interaction.occurred_at < end)


def day_candidates(day: date, since: datetime) -> Select:
    """``SELECT`` of the ids of the policyholders whose reasons on ``day`` may differ from those they had on the
    day before, when every stored score stood for the day before as the records were at ``since``:

    - a record changed since ``since`` (``updated_at``): the policyholder, their policies, renewal cases, payments
      (with the installments they paid), claims, service requests and interactions;
    - a date crossed because a day passed: a renewal case falling due within 30 days or past its due date; an
      installment falling due unpaid, or paid on ``day`` having been overdue (or still unpaid on ``day``, paid
      later); a complaint opened on ``day`` or leaving the 90 days, a rejected claim reported on ``day`` or leaving
      the 180 days; an interaction on ``day`` or crossing the start of the last six months or of the six before.

    Each part reads an index range of the day's work, never the book (docs/metrics.md, "Churn early warning")."""
    start, end = local_midnight(day), local_midnight(day + timedelta(days=1))
    yesterday = day - timedelta(days=1)
    half_years = [local_midnight(months_before(d, months) + timedelta(days=1))
                  for months in (CONTACT_MONTHS, 2 * CONTACT_MONTHS) for d in (yesterday, day)]
    complaints = select(ServiceRequest.policyholder_id).where(ServiceRequest.kind == ServiceKind.COMPLAINT)
    changed = [
        select(Policyholder.id).where(Policyholder.updated_at >= since),
        select(Policy.policyholder_id).where(Policy.updated_at >= since),
        *(_holders_of(model, model.updated_at >= since) for model in (RenewalCase, Payment, Claim)),
        *(select(model.policyholder_id).where(model.updated_at >= since) for model in (ServiceRequest, Interaction)),
    ]
    dated = [
        _holders_of(RenewalCase, RenewalCase.due_date.in_([yesterday, day + timedelta(days=RENEWAL_DAYS)])),
        _holders_of(Installment, Installment.status.in_(UNPAID), Installment.due_date == yesterday),
        _holders_of(Installment, Installment.paid_date > day, Installment.due_date == yesterday),
        _holders_of(Installment, Installment.paid_date == day, Installment.due_date < yesterday),
        complaints.where(ServiceRequest.opened_at >= start, ServiceRequest.opened_at < end),
        complaints.where(ServiceRequest.opened_at >= local_midnight(day - timedelta(days=COMPLAINT_DAYS)),
                         ServiceRequest.opened_at < local_midnight(day - timedelta(days=COMPLAINT_DAYS - 1))),
        _holders_of(Claim, Claim.status == ClaimStatus.REJECTED,
                    Claim.report_date.in_([day, day - timedelta(days=CLAIM_DAYS)])),
        _interactions_between(start, end),
        _interactions_between(half_years[0], half_years[1]),
        _interactions_between(half_years[2], half_years[3]),
    ]
    return union(*changed, *dated)


def day_is_comparable(day: date) -> bool:
    """Whether the reasons of ``day`` differ from the day before's only by :func:`day_candidates`. Not on SQLite
    when the zone's offset changes overnight: there the start of the day a case opened is computed with the offset
    of the date scored (:func:`_local_midnight_of`), which then moves for every case."""
    if db.dialect == "postgresql":
        return True
    return local_midnight(day).utcoffset() == local_midnight(day - timedelta(days=1)).utcoffset()


# -- reading the stored scores ---------------------------------------------------------------------------------

def _listed_order(code_column) -> ColumnElement[int]:
    """SQL: a reason's place in :data:`REASON_LABELS`, the order reasons are listed in everywhere."""
    return case({code: place for place, code in enumerate(REASON_LABELS)}, value=code_column,
                else_=len(REASON_LABELS))


def stands_for(score=ChurnScore) -> ColumnElement[date]:
    """SQL: the date a stored score stands for — the latest date the job succeeded for, or the date it was
    computed for when later (the run of that date is under way). A score is rewritten only when its reasons may
    have changed (:func:`day_candidates`), so ``scored_on`` alone is the date it was last computed for."""
    latest = (select(func.max(JobRun.logical_date))
              .where(JobRun.job_id == CHURN_JOB, JobRun.attempt_key == "").scalar_subquery())
    return greatest(score.scored_on, func.coalesce(latest, score.scored_on))


def reasons_text(score=ChurnScore) -> ColumnElement[str]:
    """SQL: the labels of a stored score's reasons in the reader's language (the labels are translated when the
    statement is built), strongest first, separated by "; "; NULL without a reason."""
    parts = [case((exists().where(ChurnReason.policyholder_id == score.policyholder_id, ChurnReason.code == code),
                   literal(str(label) + SEPARATOR, String)), else_=literal("", String))
             for code, label in REASON_LABELS.items()]
    text = parts[0]
    for part in parts[1:]:
        text = text + part
    return func.nullif(func.rtrim(text, SEPARATOR), "")


def reason_records() -> list[ColumnElement]:
    """SQL: for each reason, the id of the record behind it on this score (``record_<code>``; NULL without it)."""
    return [select(ChurnReason.record_id).where(ChurnReason.policyholder_id == ChurnScore.policyholder_id,
                                                ChurnReason.code == code).scalar_subquery().label(f"record_{code}")
            for code in REASON_LABELS]


def reason_links(row: Mapping) -> list[tuple[str, str | None]]:
    """A row's reasons, strongest first, each with the page of the record behind it."""
    return [(str(label), record_url(code, row[f"record_{code}"])) for code, label in REASON_LABELS.items()
            if row[f"record_{code}"] is not None]


def _in_unit(org_unit_id: int) -> ColumnElement[bool]:
    subtree = select(OrgUnit.id).where(OrgUnit.path.startswith(
        select(OrgUnit.path).where(OrgUnit.id == org_unit_id).scalar_subquery(), autoescape=False))
    return Policyholder.org_unit_id.in_(subtree)


def _scored(user: User, args: Mapping) -> list[ColumnElement[bool]]:
    """The stored scores ``user`` may see that the report's filters keep (``ChurnScore`` joined to the holder)."""
    conditions = [visible(Policyholder, user), ChurnScore.score >= args.get("min_score", 1)]
    if args.get("org_unit_id") is not None:
        conditions.append(_in_unit(args["org_unit_id"]))
    policy = [column == args[key] for key, column in (("channel", Policy.channel), ("product_id", Policy.product_id))
              if args.get(key) is not None]
    if policy:
        conditions.append(exists().where(Policy.policyholder_id == ChurnScore.policyholder_id, *policy))
    if args.get("reason"):
        # an alias: the count by reason selects from ChurnReason itself, which must not correlate into this test
        having = aliased(ChurnReason)
        conditions.append(exists().where(having.policyholder_id == ChurnScore.policyholder_id,
                                         having.code == args["reason"]))
    return conditions


def warnings_select(user: User, args: Mapping) -> Select:
    """The report's rows: policyholder, score, reasons, owner agent and the date scored, highest score first."""
    return (
        select(ChurnScore.policyholder_id.label("policyholder"), Policyholder.name.label("policyholder_name"),
               ChurnScore.score.label("score"), reasons_text().label("reasons"), *reason_records(),
               Policyholder.owner_agent_id.label("agent"), Agent.name.label("agent_name"),
               stands_for().label("scored_on"))
        .join(Policyholder, Policyholder.id == ChurnScore.policyholder_id)
        .outerjoin(Agent, Agent.id == Policyholder.owner_agent_id)
        .where(*_scored(user, args)).order_by(ChurnScore.score.desc(), ChurnScore.policyholder_id)
    )


def by_reason_select(user: User, args: Mapping) -> Select:
    """How many of the report's policyholders have each reason, strongest reason first."""
    label = case(*((ChurnReason.code == code, literal(str(text), String)) for code, text in REASON_LABELS.items()),
                 else_=ChurnReason.code)
    weight = case(*((ChurnReason.code == code, w) for code, w in WEIGHTS.items()), else_=0).label("weight")
    order = _listed_order(ChurnReason.code)
    return (
        select(label.label("reason"), ChurnReason.code.label("reason_code"), weight,
               func.count().label("policyholders"))
        .select_from(ChurnReason)
        .join(ChurnScore, ChurnScore.policyholder_id == ChurnReason.policyholder_id)
        .join(Policyholder, Policyholder.id == ChurnScore.policyholder_id)
        .where(*_scored(user, args)).group_by(ChurnReason.code).order_by(order, ChurnReason.code)
    )


class ChurnArgs(ReportArgs):
    """The warnings of the latest scores. The period does not apply (a score is as of the day the job scored it);
    the branch is the policyholder's; a channel or a product keeps the policyholders with a policy of it."""

    min_score = IntegerField(load_default=1, minimum=0, maximum=MAX_SCORE,
                             metadata={"label": _l("Lowest score"),
                                       "description": "Only scores at least this high (default 1: any reason)."})
    reason = choice({"": _l("Any reason"), **REASON_LABELS}, label=_l("Reason"), default="",
                    description="Only the policyholders with this reason (empty: any).")


@report("churn", title=_l("Churn early warning"), args=ChurnArgs, roles=REPORT_ROLES, order=60,
        description=_l("Policyholders likely to leave, with the reasons, from the latest nightly scores."),
        period=False,
        help=(_l("Every night each active policyholder is scored as of that day: each reason found adds its weight "
                 "and the score is at most 100. A renewal due within 30 days with no contact since its case opened "
                 "weighs 30; an installment missed or a policy in grace 25; a complaint in the last 90 days 20; a "
                 "claim rejected in the last 180 days 20; fewer contacts in the last six months than in the six "
                 "before (at least two then) 15; a renewal quoted more than 10 per cent above the premium 15."),
              _l("The owner agent sees their list on My day, each reason linked to the record behind it; managers "
                 "see their branch's here. The period does not apply: the scores are those of the latest night.")))
def churn_report(user: User, args: dict, today: date) -> ReportResult:
    scores = Table(
        "scores", _l("Policyholders at risk"),
        [Column("policyholder", _l("Policyholder"), "policyholder", name_key="policyholder_name"),
         Column("score", _l("Score"), "int"), Column("reasons", _l("Reasons")),
         Column("agent", _l("Owner agent"), "agent", name_key="agent_name"),
         Column("scored_on", _l("Scored on"), "date")],
        warnings_select(user, args),
        link=lambda row: url_for("policyholders_web.detail", policyholder_id=row["policyholder"]),
        cell_links={"reasons": reason_links})
    reasons = Table("by_reason", _l("Policyholders by reason"),
                    [Column("reason", _l("Reason")), Column("weight", _l("Weight"), "int"),
                     Column("policyholders", _l("Policyholders"), "int")],
                    by_reason_select(user, args), link=_policyholders_with_reason)
    return ReportResult(
        tables=[scores, reasons],
        charts=[Chart("by_reason", _l("Policyholders at risk by reason"), "by_reason", "reason", ["policyholders"])],
        notes=[_l("Scores are computed every night for every active policyholder, as of that day (the period "
                  "does not apply): each reason adds its weight, up to 100.")])


def _policyholders_with_reason(row: Mapping) -> str:
    """A reason's row (or bar) lists the policyholders with it: this report filtered by the reason, other filters
    kept."""
    kept = {key: value for key, value in request.args.items() if not key.startswith("page") and key != "reason"}
    return url_for("reports_web.show", name="churn", reason=row["reason_code"], **kept)


# -- the agent's My day -----------------------------------------------------------------------------------------

def agent_warnings(user: User) -> Select:
    """``SELECT ChurnScore`` of the policyholders ``user`` owns (and may see) with a score above 0."""
    return (select(ChurnScore).join(Policyholder, Policyholder.id == ChurnScore.policyholder_id)
            .where(visible(Policyholder, user), Policyholder.owner_agent_id == user.agent_id, ChurnScore.score > 0))


def top_warnings(user: User, limit: int = MY_DAY_LIMIT) -> list[dict]:
    """The ``limit`` highest :func:`agent_warnings` with their policyholder and their reasons (code, label and link
    to the record behind it, strongest first), in one query."""
    top = (agent_warnings(user).with_only_columns(ChurnScore.policyholder_id, ChurnScore.score,
                                                  stands_for().label("scored_on"))
           .order_by(ChurnScore.score.desc(), ChurnScore.policyholder_id).limit(limit).subquery())
    rows = db.session.execute(
        select(top.c.policyholder_id, top.c.score, top.c.scored_on, Policyholder, ChurnReason.code,
               ChurnReason.record_id)
        .join(Policyholder, Policyholder.id == top.c.policyholder_id)
        .outerjoin(ChurnReason, ChurnReason.policyholder_id == top.c.policyholder_id)
        .order_by(top.c.score.desc(), top.c.policyholder_id, _listed_order(ChurnReason.code))).all()
    warnings: dict[int, dict] = {}
    for holder_id, score, scored_on, holder, code, record_id in rows:  # ≤ limit × reasons rows
        warning = warnings.setdefault(holder_id, {"holder": holder, "score": score, "scored_on": scored_on,
                                                  "reasons": []})
        if code is not None:
            warning["reasons"].append({"code": code, "label": REASON_LABELS.get(code, code),
                                       "url": record_url(code, record_id)})
    return list(warnings.values())


def record_url(code: str, record_id: int) -> str | None:
    """The page of the record behind a reason. A renewal case has no page of its own: it is worked on the
    renewals worklist, at its contact form (the list of the reason's cases)."""
    kind = RECORD_OF.get(code)
    if kind == "renewal_case":
        filters = {"status": "open", "due_within": RENEWAL_DAYS} if code == "renewal_not_contacted" else {}
        return url_for("renewals_web.worklist", **filters) + f"#contact-{record_id}-title"
    endpoints = {"policy": ("policies_web.detail", "policy_id"), "claim": ("policies_web.claim_page", "claim_id"),
                 "service_request": ("service_web.detail", "request_id"),
                 "policyholder": ("policyholders_web.detail", "policyholder_id")}
    if kind not in endpoints:
        return None
    endpoint, argument = endpoints[kind]
    return url_for(endpoint, **{argument: record_id})
