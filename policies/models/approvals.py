"""Discount approvals: a renewal quote below the product's discount limit waits for the branch manager."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from insurecrm.db import Base, Money, Rate, TimestampMixin, VersionedMixin, utcnow

from .renewal import RenewalCase


class ApprovalStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    #: replaced by a later quote of the same case before anyone decided
    WITHDRAWN = "withdrawn"


class RenewalDiscountApproval(VersionedMixin, TimestampMixin, Base):
    """A renewal quote whose discount exceeds the product's ``max_renewal_discount``: the quote stands only
    once a branch manager of the case's unit (or an admin) approves it. At most one is pending per case."""

    __tablename__ = "renewal_discount_approvals"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    renewal_case_id: Mapped[int] = mapped_column(ForeignKey("renewal_cases.id", ondelete="CASCADE"), index=True)
    #: the modal premium asked for (same frequency as the expiring policy)
    premium: Mapped[Money]
    #: the expiring policy's modal premium when the quote was made
    current_premium: Mapped[Money]
    #: ``1 - premium / current_premium``
    discount: Mapped[Rate]
    #: the product's limit when the quote was made
    max_discount: Mapped[Rate]
    status: Mapped[ApprovalStatus] = mapped_column(default=ApprovalStatus.PENDING, index=True)
    requested_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)

    case: Mapped[RenewalCase] = relationship()
