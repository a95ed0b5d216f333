"""Premium installments, payments, claims and commissions."""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from insurecrm.db import Base, Money, Rate, TimestampMixin


class InstallmentStatus(enum.StrEnum):
    DUE = "due"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    WAIVED = "waived"


class Installment(Base):
    """One scheduled premium: due date and amount; ``paid_amount`` accumulates applied payments."""

    __tablename__ = "installments"
    #: (status, due_date) and paid_date: the unpaid installments, as of a date, for policies.tasks.grace_and_lapse
    __table_args__ = (UniqueConstraint("policy_id", "sequence"),
                      Index("ix_installments_status_due_date", "status", "due_date"))

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"), index=True)
    sequence: Mapped[int]
    due_date: Mapped[date] = mapped_column(index=True)
    amount: Mapped[Money]
    paid_amount: Mapped[Money] = mapped_column(default=Decimal("0"))
    #: the date the installment became fully paid
    paid_date: Mapped[date | None] = mapped_column(index=True)
    status: Mapped[InstallmentStatus] = mapped_column(default=InstallmentStatus.DUE, index=True)

    #: (no back reference: a policy's installments are read by query) lets a new policy's schedule be made before
    #: the policy has an id — an import writes a batch of policies and their schedules in one flush
    policy = relationship("Policy")


class PaymentMethod(enum.StrEnum):
    BANK_DEBIT = "bank_debit"
    BANK_TRANSFER = "bank_transfer"
    CARD = "card"
    CASH = "cash"
    MOBILE = "mobile"


class Payment(TimestampMixin, Base):
    """Money received for a policy; applied to its oldest open installments."""

    __tablename__ = "payments"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"), index=True)
    paid_on: Mapped[date] = mapped_column(index=True)
    amount: Mapped[Money]
    method: Mapped[PaymentMethod] = mapped_column(default=PaymentMethod.BANK_TRANSFER)
    reference: Mapped[str | None] = mapped_column(String(64))

    allocations: Mapped[list[PaymentAllocation]] = relationship(cascade="all, delete-orphan")


class PaymentAllocation(Base):
    """How much of a payment went to which installment."""

    __tablename__ = "payment_allocations"

    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"), primary_key=True)
    installment_id: Mapped[int] = mapped_column(ForeignKey("installments.id", ondelete="CASCADE"), primary_key=True)
    amount: Mapped[Money]


class ClaimStatus(enum.StrEnum):
    REPORTED = "reported"
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    PAID = "paid"
    CLOSED = "closed"


class ClaimKind(enum.StrEnum):
    """What was lost. Death, total disability and total loss end the cover once settled (``policies.claims``)."""

    DEATH = "death"
    TOTAL_DISABILITY = "total_disability"
    MEDICAL = "medical"
    TOTAL_LOSS = "total_loss"
    DAMAGE = "damage"
    OTHER = "other"


class Claim(TimestampMixin, Base):
    __tablename__ = "claims"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"), index=True)
    loss_date: Mapped[date] = mapped_column(index=True)
    report_date: Mapped[date]
    kind: Mapped[ClaimKind] = mapped_column(default=ClaimKind.OTHER, server_default=ClaimKind.OTHER.value)
    status: Mapped[ClaimStatus] = mapped_column(default=ClaimStatus.REPORTED, index=True)
    incurred_amount: Mapped[Money] = mapped_column(default=Decimal("0"))
    paid_amount: Mapped[Money] = mapped_column(default=Decimal("0"))
    description: Mapped[str | None] = mapped_column(Text)
    rejection_reason: Mapped[str | None] = mapped_column(String(255))


class CommissionKind(enum.StrEnum):
    FIRST_YEAR = "first_year"
    RENEWAL = "renewal"


class CommissionPayee(enum.StrEnum):
    AGENT = "agent"
    BANK_PARTNER = "bank_partner"


class Commission(Base):
    """Commission earned on a premium payment, by an agent or a bank partner."""

    __tablename__ = "commissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"), index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"), index=True)
    payee: Mapped[CommissionPayee]
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), index=True)
    bank_partner_id: Mapped[int | None] = mapped_column(ForeignKey("bank_partners.id"), index=True)
    kind: Mapped[CommissionKind]
    rate: Mapped[Rate]
    base_amount: Mapped[Money]
    amount: Mapped[Money]
    earned_on: Mapped[date] = mapped_column(index=True)

    #: (no back reference) lets a new payment's commissions be made before the payment has an id — an import writes
    #: a batch of payments and their commissions in one flush
    payment = relationship("Payment")
