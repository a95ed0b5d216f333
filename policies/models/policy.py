"""Policies (保单), the people on them and their status history."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from insurecrm.db import Base, Money, TimestampMixin, VersionedMixin, utcnow

from .product import PremiumFrequency, Product


class PolicyStatus(enum.StrEnum):
    QUOTED = "quoted"
    IN_FORCE = "in_force"
    GRACE = "grace"
    LAPSED = "lapsed"
    REINSTATED = "reinstated"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    RENEWED = "renewed"
    MATURED = "matured"
    TERMINATED_BY_CLAIM = "terminated_by_claim"


#: a policy giving cover and owing premium: what "in force" means in reports, jobs and pages
IN_FORCE_STATUSES = (PolicyStatus.IN_FORCE, PolicyStatus.GRACE, PolicyStatus.REINSTATED)


class BusinessType(enum.StrEnum):
    NEW = "new"  # 新保
    TRANSFER_IN = "transfer_in"  # 转保
    RENEWAL = "renewal"  # 续保


class SalesChannel(enum.StrEnum):
    AGENCY = "agency"
    BANCASSURANCE = "bancassurance"
    DIRECT = "direct"
    TELESALES = "telesales"


class Policy(VersionedMixin, TimestampMixin, Base):
    """A policy. Its ``status`` only changes through ``policies.services.transition``."""

    __tablename__ = "policies"
    __audited__ = True
    #: for the daily jobs (policies.tasks, policyholders.tasks): running policies whose term ended, changed policies
    __table_args__ = (Index("ix_policies_status_expiry_date", "status", "expiry_date"),
                      Index("ix_policies_updated_at", "updated_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    policyholder_id: Mapped[int] = mapped_column(ForeignKey("policyholders.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    servicing_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), index=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    channel: Mapped[SalesChannel] = mapped_column(index=True)
    bank_partner_id: Mapped[int | None] = mapped_column(ForeignKey("bank_partners.id"), index=True)
    bank_branch_id: Mapped[int | None] = mapped_column(ForeignKey("bank_branches.id"), index=True)
    referrer_id: Mapped[int | None] = mapped_column(ForeignKey("referrers.id"), index=True)
    business_type: Mapped[BusinessType] = mapped_column(default=BusinessType.NEW)
    #: the policy this one renews (续保), if any
    renews_policy_id: Mapped[int | None] = mapped_column(ForeignKey("policies.id"), unique=True)
    issue_date: Mapped[date] = mapped_column(index=True)
    effective_date: Mapped[date] = mapped_column(index=True)
    expiry_date: Mapped[date] = mapped_column(index=True)
    sum_insured: Mapped[Money]
    #: modal premium: the amount of each installment
    premium: Mapped[Money]
    frequency: Mapped[PremiumFrequency]
    status: Mapped[PolicyStatus] = mapped_column(default=PolicyStatus.QUOTED, index=True)
    status_date: Mapped[date]
    cancellation_reason: Mapped[str | None] = mapped_column(String(255))
    #: a cancellation inside the cooling-off period (犹豫期), counted apart from other cancellations
    cooling_off_cancellation: Mapped[bool] = mapped_column(default=False)

    product: Mapped[Product] = relationship()
    policyholder = relationship("Policyholder")
    servicing_agent = relationship("Agent")
    renews: Mapped[Policy | None] = relationship(remote_side=[id], foreign_keys=[renews_policy_id],
                                                 back_populates="renewed_by")
    #: the policy that renews this one, if any (the other side of ``renews``)
    renewed_by: Mapped[Policy | None] = relationship(foreign_keys=[renews_policy_id], back_populates="renews",
                                                     uselist=False)
    insured_persons: Mapped[list[InsuredPerson]] = relationship(cascade="all, delete-orphan")
    beneficiaries: Mapped[list[Beneficiary]] = relationship(
        cascade="all, delete-orphan", order_by="Beneficiary.priority"
    )
    status_history: Mapped[list[PolicyStatusChange]] = relationship(
        cascade="all, delete-orphan", order_by="PolicyStatusChange.id"
    )

    @property
    def annual_premium(self) -> Decimal:
        """Annualised premium (a single premium counts once)."""
        return self.premium * self.frequency.per_year

    def __repr__(self) -> str:
        return f"<Policy {self.number} {self.status}>"


class InsuredPerson(Base):
    __tablename__ = "insured_persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"), index=True)
    policyholder_id: Mapped[int | None] = mapped_column(ForeignKey("policyholders.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    date_of_birth: Mapped[date | None]
    relation_to_holder: Mapped[str] = mapped_column(String(32), default="self")


class Beneficiary(Base):
    __tablename__ = "beneficiaries"

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"), index=True)
    policyholder_id: Mapped[int | None] = mapped_column(ForeignKey("policyholders.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    relation_to_insured: Mapped[str] = mapped_column(String(32))
    #: 1 = first in line
    priority: Mapped[int] = mapped_column(default=1)
    share_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("100"))


class PolicyStatusChange(Base):
    """One transition of a policy's status, with the date it took effect, the reason and who did it."""

    __tablename__ = "policy_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[PolicyStatus | None]
    to_status: Mapped[PolicyStatus]
    effective_date: Mapped[date] = mapped_column(index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(String(120), default="system")
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
