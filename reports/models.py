"""Stored results of the reports' daily jobs: the churn early warning (流失预警) of each active policyholder.

The job ``reports.churn_scores`` (:mod:`reports.tasks`) writes them; the churn report, the agent's My day and the
exports read them (:mod:`reports.churn`). How a score is made is in docs/metrics.md, "Churn early warning".

The maintained figures of the default period (earned premium, claims, commissions, service costs, contribution) of
each policy and policyholder: the job ``reports.refresh_figures`` (:mod:`reports.figures`) keeps them, the
contribution report reads them (docs/architecture.md, "Report figures").
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from insurecrm.db import Base, TimestampMixin
from policies.models import Claim, Payment, RenewalCase
from policyholders.models import Interaction, ServiceRequest


class ChurnScore(Base):
    """How likely an active policyholder is to leave, 0 to 100, as of ``scored_on``: the capped sum of the weights
    of their :class:`ChurnReason` rows. One per policyholder, the latest date scored."""

    __tablename__ = "churn_scores"
    #: the top scores of a book (My day, the report), highest first
    __table_args__ = (CheckConstraint("score BETWEEN 0 AND 100", name="score_range"),
                      Index("ix_churn_scores_score", "score"))

    policyholder_id: Mapped[int] = mapped_column(ForeignKey("policyholders.id", ondelete="CASCADE"),
                                                 primary_key=True)
    scored_on: Mapped[date] = mapped_column(index=True)
    score: Mapped[int]


class ChurnReason(Base):
    """One reason behind a policyholder's score: its code (``reports.churn.REASONS``), its weight when scored, and
    the id of the record behind it (a renewal case, a policy, a service request, a claim or the policyholder,
    by the code: ``reports.churn.RECORD_OF``). At most one per policyholder and code."""

    __tablename__ = "churn_reasons"

    policyholder_id: Mapped[int] = mapped_column(ForeignKey("policyholders.id", ondelete="CASCADE"),
                                                 primary_key=True)
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    weight: Mapped[int]
    record_id: Mapped[int]


class LoyaltyWeights(TimestampMixin, Base):
    """The weights of the loyalty score (忠诚度), as an admin last saved them: one row, or none while the defaults
    in code (``reports.loyalty.DEFAULT_WEIGHTS``) apply. Each weight is the most points its part can give (the five
    positive parts add up to 100) or, for complaints, take away. Saved on /admin/loyalty-weights, audited there."""

    __tablename__ = "loyalty_weights"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        *(CheckConstraint(f"{part} BETWEEN 0 AND 100", name=f"{part}_range")
          for part in ("tenure", "renewals", "product_lines", "on_time", "referrals", "complaints")),
        CheckConstraint("tenure + renewals + product_lines + on_time + referrals = 100", name="parts_sum"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    tenure: Mapped[int]
    renewals: Mapped[int]
    product_lines: Mapped[int]
    on_time: Mapped[int]
    referrals: Mapped[int]
    complaints: Mapped[int]


#: an amount as the report's SQL computes it, unrounded (NUMERIC without a scale on PostgreSQL): a sum of stored
#: figures is then exactly the sum the live SQL makes, to the last digit, and rounds to the same cent
Amount = Numeric(asdecimal=True)


class PolicyFigures(Base):
    """One policy's figures over the default period (the 12 complete months before the month of the refresh), as
    :func:`reports.earned.policy_figures` computes them: one row per policy with anything in the period, none for
    the others. ``policyholder_id`` is the policy's holder when computed."""

    __tablename__ = "policy_figures"

    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"), primary_key=True)
    policyholder_id: Mapped[int] = mapped_column(ForeignKey("policyholders.id", ondelete="CASCADE"), index=True)
    period_start: Mapped[date]
    period_end: Mapped[date]
    earned: Mapped[Decimal] = mapped_column(Amount)
    incurred: Mapped[Decimal] = mapped_column(Amount)
    paid: Mapped[Decimal] = mapped_column(Amount)
    claims: Mapped[int]
    commission: Mapped[Decimal] = mapped_column(Amount)
    service_cost: Mapped[Decimal] = mapped_column(Amount)
    contribution: Mapped[Decimal] = mapped_column(Amount)
    refreshed_at: Mapped[datetime]


class PolicyholderFigures(Base):
    """One policyholder's figures over the default period: the sums of all their policies' :class:`PolicyFigures`
    and the service costs naming no policy (``own_service_cost``, NULL when there were none), the contribution and
    the margin, as the contribution report computes them for a reader who sees the whole book
    (:func:`reports.contribution.holder_figures`). One row per policyholder who holds a policy and has anything in
    the period."""

    __tablename__ = "policyholder_figures"
    #: the top (and bottom) policyholders by contribution
    __table_args__ = (Index("ix_policyholder_figures_contribution", "contribution"),)

    policyholder_id: Mapped[int] = mapped_column(ForeignKey("policyholders.id", ondelete="CASCADE"),
                                                 primary_key=True)
    period_start: Mapped[date]
    period_end: Mapped[date]
    earned: Mapped[Decimal] = mapped_column(Amount)
    incurred: Mapped[Decimal] = mapped_column(Amount)
    paid: Mapped[Decimal] = mapped_column(Amount)
    commission: Mapped[Decimal] = mapped_column(Amount)
    service_cost: Mapped[Decimal] = mapped_column(Amount)
    own_service_cost: Mapped[Decimal | None] = mapped_column(Amount)
    contribution: Mapped[Decimal] = mapped_column(Amount)
    margin: Mapped[Decimal | None] = mapped_column(Amount)
    refreshed_at: Mapped[datetime]


# What the refresh reads to find the day's changes: the rows changed since the last refresh, by their timestamp.
# Declared here, beside the figures that need them, rather than in the policies and policyholders models.
Index("ix_claims_updated_at", Claim.updated_at)
Index("ix_payments_updated_at", Payment.updated_at)
Index("ix_service_requests_updated_at", ServiceRequest.updated_at)
Index("ix_interactions_updated_at", Interaction.updated_at)

# What the churn job reads to find the day's candidates (reports.churn.day_candidates): the renewal cases changed,
# and the complaints and rejected claims leaving their windows on a date.
Index("ix_renewal_cases_updated_at", RenewalCase.updated_at)
Index("ix_service_requests_opened_at", ServiceRequest.opened_at)
Index("ix_claims_report_date", Claim.report_date)
