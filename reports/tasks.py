"""Daily jobs of the reports domain (``reports.<name>``): figures stored once a day, read by the reports and pages.

Set-based and in batches (:func:`insurecrm.batches.in_batches`), like every daily job: a run for a date that
crashed half-way finishes the work when run again (the churn job's day of candidates is simply done again).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import delete, exists, func, insert, select, text

from insurecrm.batches import in_batches
from insurecrm.db import db
from insurecrm.jobs import daily_job
from insurecrm.models import JobRun
from policyholders.models import Policyholder, PolicyholderStatus
from reports import churn, figures
from reports.models import ChurnReason, ChurnScore

CHURN_JOB = churn.CHURN_JOB
#: the count of a run that found scores of its date or a later one, which it kept: the next run scores everyone
ALREADY_SCORED = "holders_already_scored"


@daily_job(CHURN_JOB, order=80, depends_on=("policies.open_renewal_cases", "policies.grace_and_lapse"))
def churn_scores(logical_date: date) -> dict[str, int]:
    """Keep the score of every active policyholder as of the logical date (docs/metrics.md, "Churn early
    warning"): their reasons (:func:`reports.churn.reason_rows`, each with its weight and the record behind it)
    and the score, the capped sum of the weights. Runs after the status job (a policy in grace) and the opening of
    renewal cases of the same date.

    **The day's candidates.** After a successful run for the day before, only the policyholders whose reasons may
    have changed are rescored (:func:`reports.churn.day_candidates`: a record changed since that run began, a date
    crossed overnight); every other stored score already is the one of the date. Those no longer active lose
    their score. A rerun for the date (after a crash) rescores the same candidates, as the records are then.

    **Everyone after a gap.** On the first run, after a date not run, after a run that kept scores an earlier
    attempt had written (``holders_already_scored``: when those were computed is not known), and on SQLite when
    the zone's offset changes overnight, every active policyholder without a score of the date or a later one is
    scored, and the scores of those no longer active are removed; a rerun after a crash does only the rest.

    **Never backwards.** After a successful run for a later date, a run for an earlier one (a hand catch-up)
    changes nothing, and a score computed for a later date is never replaced.

    Counts: ``holders_scored`` (this run), ``holders_at_risk`` (stored scores above 0 of the date or before, after
    the run), and when some: ``churn_scores_removed``, ``holders_already_scored``."""
    if _succeeded_after(logical_date):
        return {"holders_scored": 0}
    since = _changes_since(logical_date)
    counts = _score_everyone(logical_date) if since is None else _score_candidates(logical_date, since)
    counts["holders_at_risk"] = db.session.scalar(select(func.count()).select_from(ChurnScore).where(
        ChurnScore.score > 0, ChurnScore.scored_on <= logical_date))
    return counts


def _succeeded_after(logical_date: date) -> bool:
    return db.session.scalar(select(JobRun.id).where(
        JobRun.job_id == CHURN_JOB, JobRun.logical_date > logical_date, JobRun.attempt_key == "").limit(1)) is not None


def _changes_since(logical_date: date) -> datetime | None:
    """The instant from which changed records make the day's candidates (the start of the run for the day before,
    less :data:`reports.churn.IN_FLIGHT`), or ``None`` when everyone is to be scored (see the job)."""
    previous = db.session.execute(select(JobRun.started_at, JobRun.counts).where(
        JobRun.job_id == CHURN_JOB, JobRun.logical_date == logical_date - timedelta(days=1),
        JobRun.attempt_key == "")).first()
    if previous is None or (previous.counts or {}).get(ALREADY_SCORED) or not churn.day_is_comparable(logical_date):
        return None
    return previous.started_at - churn.IN_FLIGHT


def _score_candidates(logical_date: date, since: datetime) -> dict[str, int]:
    """Rescore the day's candidates still active, remove the scores of those no longer active."""
    newer = exists().where(ChurnScore.policyholder_id == Policyholder.id, ChurnScore.scored_on > logical_date)
    removed = 0

    def step(ids) -> int:
        nonlocal removed
        rows = db.session.execute(select(Policyholder.id, Policyholder.status)
                                  .where(Policyholder.id.in_(ids), ~newer)).all()
        active = [holder for holder, status in rows if status == PolicyholderStatus.ACTIVE]
        gone = [holder for holder, status in rows if status != PolicyholderStatus.ACTIVE]
        if gone:
            removed += db.session.scalar(select(func.count()).select_from(ChurnScore)
                                         .where(ChurnScore.policyholder_id.in_(gone)))
            _delete(gone)
        _rescore(logical_date, active)
        return len(active)

    if db.dialect == "postgresql":
        # a few hundred ids from index ranges: starting parallel workers (which the planner's estimates of the
        # installments' ranges on a large book ask for) costs more than the whole read; until the first batch commits
        db.session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    counts = {"holders_scored": in_batches(churn.day_candidates(logical_date, since), step)}
    if removed:
        counts["churn_scores_removed"] = removed
    return counts


def _score_everyone(logical_date: date) -> dict[str, int]:
    """Score every active policyholder without a score of the date or a later one; remove the scores, not
    newer than the date, of those no longer active."""
    to_score = [Policyholder.status == PolicyholderStatus.ACTIVE,
                ~exists().where(ChurnScore.policyholder_id == Policyholder.id, ChurnScore.scored_on >= logical_date)]
    already = db.session.scalar(select(func.count()).select_from(ChurnScore)
                                .where(ChurnScore.scored_on >= logical_date))

    def score(ids) -> int:
        ids = db.session.scalars(select(Policyholder.id).where(Policyholder.id.in_(ids), *to_score)).all()
        _rescore(logical_date, ids)
        return len(ids)

    stale = [ChurnScore.scored_on <= logical_date,
             ChurnScore.policyholder_id.in_(select(Policyholder.id)
                                            .where(Policyholder.status != PolicyholderStatus.ACTIVE))]

    def remove(ids) -> int:
        ids = db.session.scalars(select(ChurnScore.policyholder_id)
                                 .where(ChurnScore.policyholder_id.in_(ids), *stale)).all()
        _delete(ids)
        return len(ids)

    counts = {"holders_scored": in_batches(select(Policyholder.id).where(*to_score), score)}
    removed = in_batches(select(ChurnScore.policyholder_id).where(*stale), remove)
    if removed:
        counts["churn_scores_removed"] = removed
    if already:
        counts[ALREADY_SCORED] = already
    if db.dialect == "postgresql":
        # the table was rewritten: fresh statistics, so that the day's reads (those at risk, by the score's index)
        # do not scan it before autovacuum comes by
        db.session.execute(text("ANALYZE churn_scores"))
        db.session.commit()
    return counts


def _rescore(logical_date: date, holder_ids) -> None:
    """Replace the stored reasons and score of ``holder_ids`` (active policyholders) with those of the date."""
    if not holder_ids:
        return
    _delete(holder_ids)
    db.session.execute(insert(ChurnReason).from_select(
        ["policyholder_id", "code", "weight", "record_id"], churn.reason_rows(logical_date, holder_ids)))
    db.session.execute(insert(ChurnScore).from_select(
        ["policyholder_id", "scored_on", "score"], churn.score_rows(logical_date, holder_ids)))


def _delete(holder_ids) -> None:
    """Delete the stored reasons and scores of ``holder_ids``."""
    for model in (ChurnReason, ChurnScore):
        db.session.execute(delete(model).where(model.policyholder_id.in_(holder_ids))
                           .execution_options(synchronize_session=False))


@daily_job(figures.REFRESH_JOB, order=90)
def refresh_figures(logical_date: date) -> dict[str, int]:
    """The maintained report figures of the default period of the logical date: all of them on the month's first
    run, else those of the policyholders whose policies, payments, claims, service requests or interactions changed
    since the month's previous run (:func:`reports.figures.refresh`)."""
    return figures.refresh(logical_date)
