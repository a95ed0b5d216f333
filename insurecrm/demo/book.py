"""Building the demo book: generate household by household, write chunk by chunk, in one transaction.

Memory stays bounded whatever the size: only the organisation and one chunk of households (with
all their policies, payments, opportunities...) are held at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import click
from sqlalchemy import exists, select, text
from tqdm import tqdm

from agents.models import PipelineStage
from agents.pipeline.opportunities import ensure_default_loss_reasons
from agents.pipeline.stages import ensure_default_stages
from insurecrm import audit, jobs
from insurecrm.actor import acting_as
from insurecrm.db import db
from insurecrm.demo.campaigns import add_segments_and_campaigns
from insurecrm.demo.context import BookContext, BookPlan, Rows, StageRef
from insurecrm.demo.organisation import Organisation, build_organisation
from insurecrm.demo.people import Household, make_household, set_statuses
from insurecrm.demo.policies import PolicyInfo, add_policies
from insurecrm.demo.sales import add_callbacks, add_opportunities, add_referrals
from insurecrm.demo.service import add_service
from insurecrm.demo.writer import BookWriter, current_serials, first_free_ids
from insurecrm.models import Role, User
from insurecrm.passwords import hash_password
from policyholders.models import Policyholder

#: the daily jobs that give people tasks, run for the few days before a new demo book's date, so that its users
#: find their tasks (some overdue) made the way the application makes them; the book's own date is left to the
#: scheduler (or to ``insurecrm simulate``), which runs every job for it
TASK_JOBS = ["policies.remind_renewals", "policies.escalate_renewals", "policies.new_policy_callbacks",
             "policyholders.key_customer_callbacks"]
TASK_DAYS = 3
#: the nightly work of the reports, run once at the end of the build for the day before the book's date: the refresh
#: of the report figures (reports.figures) and the churn scores (reports.churn), so that the contribution report
#: reads maintained figures and agents find their churn warnings on My day from the start
ANALYSIS_JOBS = ["reports.refresh_figures", "reports.churn_scores"]

ROLE_LABELS = {Role.ADMIN: "admin", Role.BRANCH_MANAGER: "branch manager", Role.AGENT: "agent",
               Role.BANCASSURANCE_SPECIALIST: "bancassurance specialist", Role.BANK_REFERRER: "bank referrer",
               Role.ACTUARY: "actuary"}


class BookGenerator:
    """Generates the rows of a demo book: the organisation first, then chunks of households."""

    def __init__(self, plan: BookPlan) -> None:
        self.plan = plan
        self.ctx = BookContext(plan)

    @property
    def serials(self) -> dict[str, int]:
        """The last policy and claim number serial used per counter (valid once generation is done)."""
        return self.ctx.serials

    def chunks(self) -> Iterator[tuple[Rows, int]]:
        """Yield (rows, number of policyholders in them); the first chunk is the organisation (0)."""
        ctx = self.ctx
        org = build_organisation(ctx)
        yield ctx.take_rows(), 0
        remaining, pending = self.plan.policyholders, 0
        while remaining > 0:
            household = make_household(ctx, org, remaining)
            remaining -= len(household.members)
            pending += len(household.members)
            _household_book(ctx, org, household)
            if pending >= self.plan.chunk_size or remaining <= 0:
                yield ctx.take_rows(), pending
                pending = 0


def _household_book(ctx: BookContext, org: Organisation, household: Household) -> None:
    policies = add_policies(ctx, org, household)
    statuses: dict[int, list[str]] = {}
    for info in policies:
        statuses.setdefault(info.holder.id, []).append(info.row["status"])
    set_statuses(household, statuses)
    _timestamps(ctx, household, policies)
    referral_id = add_referrals(ctx, household, policies)
    opportunities = add_opportunities(ctx, org, household, referral_id)
    add_callbacks(ctx, household, policies)
    add_service(ctx, household, policies, opportunities)


def _timestamps(ctx: BookContext, household: Household, policies: list[PolicyInfo]) -> None:
    """A policyholder was recorded when their first policy was issued (a prospect some time ago)."""
    for person in household.members:
        held = [p.row for p in policies if p.holder is person]
        first = min((p["issue_date"] for p in held), default=None) or ctx.today - ctx.days(1, 400)
        last = max((p["status_date"] for p in held), default=first)
        person.row["created_at"], person.row["updated_at"] = ctx.instant(first), ctx.instant(max(first, last))


def book_is_empty() -> bool:
    """True when the database holds no policyholder and no user (a demo book may be loaded)."""
    session = db.session
    return not (session.scalar(select(exists().where(Policyholder.id.is_not(None))))
                or session.scalar(select(exists().where(User.id.is_not(None)))))


def load_stages() -> list[StageRef]:
    """The active stages of the default pipeline, in order."""
    stages = db.session.scalars(select(PipelineStage).where(PipelineStage.product_line.is_(None),
                                                            PipelineStage.active).order_by(PipelineStage.position))
    return [StageRef(s.id, s.code, s.position, s.probability, s.max_days, s.is_won, s.is_lost) for s in stages]


def make_plan(*, policyholders: int, seed: int, password: str, today: date | None = None,
              chunk_size: int = 500) -> BookPlan:
    """The plan of a book for the database as it is now (its ids, counters and stages)."""
    session = db.session
    return BookPlan(policyholders=policyholders, seed=seed, today=today or date.today(),
                    password_hash=hash_password(password), stages=load_stages(), first_ids=first_free_ids(session),
                    serials=current_serials(session), chunk_size=chunk_size)


def build_demo_book(*, policyholders: int, seed: int, password: str, today: date | None = None,
                    chunk_size: int = 500, progress: bool = True) -> dict[str, int]:
    """Generate and commit a demo book of ``policyholders`` policyholders; returns rows written per table.

    Refuses a database that already holds policyholders or users. All or nothing: any failure rolls
    the whole book back. The same seed (and day) gives the same book. Ends with ``ANALYZE`` (:func:`analyze`),
    the task jobs of the days before (:func:`run_task_jobs`), the report figures (:func:`refresh_figures`) and a
    branch manager's segments and campaigns, one of which has run (:mod:`insurecrm.demo.campaigns`).
    """
    if not book_is_empty():
        raise RuntimeError("The database already holds a book; the demo loads into an empty one only.")
    session = db.session
    with acting_as("cli:demo"):
        try:
            ensure_default_stages(session)
            ensure_default_loss_reasons(session)
            plan = make_plan(policyholders=policyholders, seed=seed, password=password, today=today,
                             chunk_size=chunk_size)
            generator, writer = BookGenerator(plan), BookWriter(session)
            with tqdm(total=policyholders, unit="policyholder", desc="Demo book", disable=not progress) as bar:
                for rows, count in generator.chunks():
                    writer.write(rows)
                    bar.update(count)
            writer.finish(generator.serials)
            changes = {table: [None, count] for table, count in sorted(writer.counts.items())}
            audit.record(session, action="create", entity_type="demo_book", entity_id=None,
                         changes={**changes, "seed": [None, seed], "as_of": [None, plan.today.isoformat()]})
            session.commit()
        except BaseException:
            session.rollback()
            raise
    analyze(session)
    run_task_jobs(plan.today)
    run_analysis_jobs(plan.today)
    add_segments_and_campaigns(plan.today)
    return dict(writer.counts)


def analyze(session) -> None:
    """Refresh the planner's statistics after a bulk load (``ANALYZE``, on PostgreSQL and SQLite alike): without
    them the planner takes the freshly filled tables for empty, and a daily job or the 360° page picks plans
    hundreds of times slower. Commits."""
    session.execute(text("ANALYZE"))
    session.commit()


def run_task_jobs(today: date, days: int = TASK_DAYS) -> None:
    """Run :data:`TASK_JOBS` for each of the ``days`` days before ``today``, oldest first, under the jobs'
    once-per-date guard (each run commits)."""
    for back in range(days, 0, -1):
        logical_date = today - timedelta(days=back)
        for job in jobs.registered(TASK_JOBS):
            jobs.run_job(job, logical_date)


def run_analysis_jobs(today: date) -> None:
    """Run :data:`ANALYSIS_JOBS` as the night before ``today`` would have: the scheduler's run of ``today`` then has
    only the day's changes to add (or, on the first of a month, the report figures of the new period)."""
    for job in jobs.registered(ANALYSIS_JOBS):
        jobs.run_job(job, today - timedelta(days=1))


def print_logins(password: str | None) -> None:
    """Print the demo usernames per role and the shared password (or a reminder that it was chosen)."""
    users = db.session.execute(select(User.role, User.username).where(User.active).order_by(User.id)).all()
    if not users:
        click.echo("No users yet: run `insurecrm demo` or `insurecrm users create`.")
        return
    click.echo(f"Demo logins, password: {password if password is not None else '(the password you chose)'}")
    for role, label in ROLE_LABELS.items():
        names = [username for user_role, username in users if user_role == role]
        if names:
            shown = ", ".join(names) if len(names) <= 3 else f"{names[0]}, {names[1]} … {names[-1]} ({len(names)})"
            click.echo(f"  {label:<26} {shown}")
