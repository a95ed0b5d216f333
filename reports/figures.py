"""The maintained report figures: each policy's and each policyholder's earned premium, claims, commissions,
service costs and contribution over the default period, kept by a daily job for what changed, so that pages and
exports read a row per policyholder instead of scanning the whole book (docs/architecture.md, "Report figures").

The figures are computed by the reports' own SQL: :func:`reports.earned.policy_figures` per policy, summed per
policyholder by :func:`reports.contribution.holder_figures` — narrowed to a batch of policyholders, never another
formula. The period is always the default one of the refresh's date (the 12 complete months before its month,
:func:`reports.filters.last_twelve_months`):

- the first refresh of a month (the period moved on) recomputes every policyholder who holds a policy;
- the next ones recompute the policyholders touched since the month's previous refresh began (less
  :data:`IN_FLIGHT`): whose policies were changed, paid (payments, with the installments they paid and the
  commissions they earned), claimed on (claims created or changed), or that have a service request or interaction
  created or changed. A policyholder is recomputed whole: all their policies, then their sums, in one batch.

What the timestamps cannot show is caught up by the next month's first refresh, not before: rows written by hand in
SQL without touching ``updated_at``, deletions of claims, payments, service requests or interactions (none of the
services deletes them), and a service request or interaction moved to another policyholder's policy (the holder
it names is recomputed, the one it left is not).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import ARRAY, ColumnElement, Integer, Select, any_, delete, func, insert, literal, select, text, union

from insurecrm.batches import batch_size, in_batches
from insurecrm.db import db, utcnow
from insurecrm.models import JobRun, JobRunStatus
from policies.models import Claim, Payment, Policy
from policyholders.models import Interaction, Policyholder, ServiceRequest
from reports.contribution import SUMMED, holder_figures
from reports.earned import holder_service_costs, policy_figures
from reports.filters import last_twelve_months
from reports.models import PolicyFigures, PolicyholderFigures

REFRESH_JOB = "reports.refresh_figures"
#: how far before the previous refresh's start the next one looks for changes: a row is stamped when it is written
#: and seen when its transaction commits, so a change committed after a refresh began, by a transaction opened
#: before, is picked up by the next refresh (anything open longer than this, by the next month's full refresh)
IN_FLIGHT = timedelta(hours=1)
#: the first refresh of a month writes every policyholder: larger batches (the figures tables lock no user's row)
FULL_BATCHES = 10
POLICY_PARTS = ("earned", "incurred", "paid", "claims", "commission", "service_cost", "contribution")
HOLDER_PARTS = (*SUMMED, "own_service_cost", "contribution", "margin")


def latest_refresh() -> date | None:
    """The date of the latest successful refresh: its period is the one the figures hold."""
    return db.session.scalar(select(func.max(JobRun.logical_date)).where(
        JobRun.job_id == REFRESH_JOB, JobRun.attempt_key == "", JobRun.status == JobRunStatus.SUCCEEDED))


def refresh(logical_date: date) -> dict[str, int]:
    """Refresh the figures for the default period of ``logical_date``: all of them on the month's first refresh,
    else those of the policyholders touched since the month's previous refresh. Idempotent for its date (a rerun
    recomputes the same policyholders, to the same figures); never backwards: after a refresh of a later month
    (whose period the figures now hold), a run for an earlier date does nothing.

    Counts: ``holders_refreshed``, ``policies_refreshed`` (policyholders and policies recomputed, a policy with
    nothing in the period included), ``full_refresh`` (1 on the month's first refresh)."""
    month = logical_date.replace(day=1)
    next_month = (month + timedelta(days=32)).replace(day=1)
    runs = select(func.max(JobRun.started_at)).where(JobRun.job_id == REFRESH_JOB, JobRun.attempt_key == "",
                                                     JobRun.status == JobRunStatus.SUCCEEDED)
    if db.session.scalar(runs.where(JobRun.logical_date >= next_month)) is not None:
        return {"holders_refreshed": 0, "policies_refreshed": 0}
    since = db.session.scalar(runs.where(JobRun.logical_date >= month, JobRun.logical_date < next_month))
    period, now = last_twelve_months(logical_date), utcnow()
    policies = 0

    def step(holder_ids) -> int:
        nonlocal policies
        policies += refresh_holders(holder_ids, period, now)
        return len(holder_ids)

    if since is None:
        holders = in_batches(select(Policy.policyholder_id).distinct(), step, size=batch_size() * FULL_BATCHES)
        # the rows of other periods left (policyholders who no longer hold a policy: none the services allow)
        for model in (PolicyFigures, PolicyholderFigures):
            db.session.execute(delete(model).where(model.period_end != period[1]))
        db.session.commit()
        if db.dialect == "postgresql":
            # both tables were rewritten: fresh statistics, so that the next refreshes (a few hundred rows by
            # policyholder) and the pages do not plan on those of the month before, until autovacuum comes by
            db.session.execute(text("ANALYZE policy_figures, policyholder_figures"))
            db.session.commit()
        return {"holders_refreshed": holders, "policies_refreshed": policies, "full_refresh": 1}
    holders = in_batches(touched_holders(since - IN_FLIGHT), step)
    return {"holders_refreshed": holders, "policies_refreshed": policies}


def touched_holders(after: datetime) -> Select:
    """The policyholders whose figures may have changed since ``after``: the holders (now and as last computed) of
    the policies changed, paid or claimed on, and the holders of the service requests and interactions changed
    (and of the policies these name). Each part reads an index on ``updated_at``: the day's changes, not the book."""
    policies = union(
        select(Policy.id).where(Policy.updated_at >= after),
        select(Payment.policy_id).where(Payment.updated_at >= after),
        select(Claim.policy_id).where(Claim.updated_at >= after),
        *(select(model.policy_id).where(model.updated_at >= after, model.policy_id.is_not(None))
          for model in (ServiceRequest, Interaction)),
    ).subquery("touched")
    return union(
        select(Policy.policyholder_id).where(Policy.id.in_(select(policies.c.id))),
        select(PolicyFigures.policyholder_id).where(PolicyFigures.policy_id.in_(select(policies.c.id))),
        *(select(model.policyholder_id).where(model.updated_at >= after) for model in (ServiceRequest, Interaction)),
    )


def among(column, ids) -> ColumnElement[bool]:
    """``column`` is one of ``ids``: on PostgreSQL as one array parameter (``= ANY(:ids)``), since an ``IN`` list of
    thousands of parameters costs more to send and plan than the batch's work; on SQLite, an ``IN`` list."""
    if db.dialect == "postgresql":
        return column == any_(literal(list(ids), ARRAY(Integer)))
    return column.in_(ids)


def refresh_holders(holder_ids, period: tuple[date, date], now: datetime) -> int:
    """Recompute the figures of the policyholders ``holder_ids`` for ``period``: the rows of their policies (and
    the rows still naming them of policies they no longer hold), then their sums. Returns the policies computed."""
    start, end = period
    of_holders = among(Policy.policyholder_id, holder_ids)
    policy_ids = select(Policy.id).where(of_holders)
    computed = db.session.scalar(select(func.count()).where(of_holders))
    stamp = (literal(start).label("period_start"), literal(end).label("period_end"),
             literal(now, PolicyFigures.refreshed_at.type).label("refreshed_at"))
    db.session.execute(delete(PolicyFigures).where(among(PolicyFigures.policyholder_id, holder_ids))
                       .execution_options(synchronize_session=False))
    if computed:
        db.session.execute(delete(PolicyFigures).where(PolicyFigures.policy_id.in_(policy_ids))
                           .execution_options(synchronize_session=False))
        figures = policy_figures(start, end, of_holders, policy_ids=policy_ids)
        db.session.execute(insert(PolicyFigures).from_select(
            ["policy_id", "policyholder_id", *POLICY_PARTS, "period_start", "period_end", "refreshed_at"],
            select(figures.c.policy_id, figures.c.policyholder_id, *(figures.c[part] for part in POLICY_PARTS),
                   *stamp)))
    db.session.execute(delete(PolicyholderFigures).where(among(PolicyholderFigures.policyholder_id, holder_ids))
                       .execution_options(synchronize_session=False))
    stored = (select(PolicyFigures.policyholder_id, *(PolicyFigures.__table__.c[part] for part in SUMMED))
              .where(among(PolicyFigures.policyholder_id, holder_ids)).subquery("stored"))
    holders = Policyholder.id.in_(select(Policy.policyholder_id).where(of_holders))
    own_costs = holder_service_costs(start, end, select(Policyholder.id).where(among(Policyholder.id, holder_ids)))
    sums = holder_figures(stored, own_costs, holders).subquery("sums")
    db.session.execute(insert(PolicyholderFigures).from_select(
        ["policyholder_id", *HOLDER_PARTS, "period_start", "period_end", "refreshed_at"],
        select(sums.c.policyholder_id, *(sums.c[part] for part in HOLDER_PARTS), *stamp)))
    return computed
