"""Daily jobs of the reports domain (``reports.<name>``): figures stored once a day, read by the reports and pages.

Set-based and in batches (:func:`insurecrm.batches.in_batches`), like every daily job: a run for a date that
crashed half-way does only the rest when run again.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, exists, func, insert, select

from insurecrm.batches import in_batches
from insurecrm.db import db
from insurecrm.jobs import daily_job
from policyholders.models import Policyholder, PolicyholderStatus
from reports import churn, figures
from reports.models import ChurnReason, ChurnScore

CHURN_JOB = "reports.churn_scores"


@daily_job(CHURN_JOB, order=80, depends_on=("policies.open_renewal_cases", "policies.grace_and_lapse"))
def churn_scores(logical_date: date) -> dict[str, int]:
    """Score every active policyholder as of the logical date (docs/metrics.md, "Churn early warning"): their
    reasons (:func:`reports.churn.reason_rows`, each with its weight and the record behind it) replace the ones
    stored, and the score, the capped sum of the weights, replaces theirs. Runs after the status job (a policy in
    grace) and the opening of renewal cases of the same date.

    **Once per date, never backwards.** A policyholder is scored when they have no score of the logical date or a
    later one: a rerun for the same date finds them done (the same rows), a run for an earlier date (a catch-up,
    a hand run) leaves newer scores alone. The scores of policyholders no longer active are removed
    (``churn_scores_removed``, reported when some were), unless newer than the date.

    Counts: ``holders_scored`` (this run), ``holders_at_risk`` (scores above 0 of the date, after the run)."""
    to_score = [Policyholder.status == PolicyholderStatus.ACTIVE,
                ~exists().where(ChurnScore.policyholder_id == Policyholder.id, ChurnScore.scored_on >= logical_date)]

    def score(ids) -> int:
        ids = db.session.scalars(select(Policyholder.id).where(Policyholder.id.in_(ids), *to_score)).all()
        if not ids:
            return 0
        _delete(ids)
        db.session.execute(insert(ChurnReason).from_select(
            ["policyholder_id", "code", "weight", "record_id"], churn.reason_rows(logical_date, ids)))
        db.session.execute(insert(ChurnScore).from_select(
            ["policyholder_id", "scored_on", "score"], churn.score_rows(logical_date, ids)))
        return len(ids)

    stale = [ChurnScore.scored_on < logical_date,
             ChurnScore.policyholder_id.in_(select(Policyholder.id)
                                            .where(Policyholder.status != PolicyholderStatus.ACTIVE))]

    def remove(ids) -> int:
        ids = db.session.scalars(select(ChurnScore.policyholder_id)
                                 .where(ChurnScore.policyholder_id.in_(ids), *stale)).all()
        _delete(ids)
        return len(ids)

    counts = {"holders_scored": in_batches(select(Policyholder.id).where(*to_score), score)}
    counts["holders_at_risk"] = db.session.scalar(
        select(func.count()).select_from(ChurnScore).where(ChurnScore.scored_on == logical_date, ChurnScore.score > 0))
    removed = in_batches(select(ChurnScore.policyholder_id).where(*stale), remove)
    if removed:
        counts["churn_scores_removed"] = removed
    return counts


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
