"""Stored results of the reports' daily jobs: the churn early warning (流失预警) of each active policyholder.

The job ``reports.churn_scores`` (:mod:`reports.tasks`) writes them; the churn report, the agent's My day and the
exports read them (:mod:`reports.churn`). How a score is made is in docs/metrics.md, "Churn early warning".
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from insurecrm.db import Base, TimestampMixin


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
