"""The bancassurance side (银保): bank partners, their branches (网点), referrers and referrals."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from insurecrm.db import Base, Rate, TimestampMixin, utcnow

from .org import agent_bank_partners


class PartnerStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    ENDED = "ended"


class BankPartner(TimestampMixin, Base):
    """A bank that distributes our products; ``commission_rate`` is its share of premium."""

    __tablename__ = "bank_partners"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    commission_rate: Mapped[Rate] = mapped_column(default=Decimal("0"))
    commission_terms: Mapped[str | None] = mapped_column(Text)
    status: Mapped[PartnerStatus] = mapped_column(default=PartnerStatus.ACTIVE)

    branches: Mapped[list[BankBranch]] = relationship(back_populates="bank_partner")
    specialists = relationship("Agent", secondary=agent_bank_partners, back_populates="bank_partners")


class BankBranch(TimestampMixin, Base):
    """A bank branch (网点) of a partner, served by one of our organisation units."""

    __tablename__ = "bank_branches"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_partner_id: Mapped[int] = mapped_column(ForeignKey("bank_partners.id"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str | None] = mapped_column(String(255))
    region: Mapped[str | None] = mapped_column(String(64))
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    status: Mapped[PartnerStatus] = mapped_column(default=PartnerStatus.ACTIVE)

    bank_partner: Mapped[BankPartner] = relationship(back_populates="branches")


class Referrer(TimestampMixin, Base):
    """A member of a bank branch's staff who refers customers to us (银行网点员工)."""

    __tablename__ = "referrers"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_branch_id: Mapped[int] = mapped_column(ForeignKey("bank_branches.id"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[PartnerStatus] = mapped_column(default=PartnerStatus.ACTIVE)

    bank_branch: Mapped[BankBranch] = relationship()


class ReferralStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    CONVERTED = "converted"
    REJECTED = "rejected"


class Referral(TimestampMixin, Base):
    """A customer referred by bank staff; a specialist works it into an opportunity and a policy."""

    __tablename__ = "referrals"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    referrer_id: Mapped[int] = mapped_column(ForeignKey("referrers.id"), index=True)
    bank_branch_id: Mapped[int] = mapped_column(ForeignKey("bank_branches.id"), index=True)
    prospect_name: Mapped[str] = mapped_column(String(120))
    prospect_phone: Mapped[str | None] = mapped_column(String(32))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[ReferralStatus] = mapped_column(default=ReferralStatus.SUBMITTED, index=True)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    specialist_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), index=True)
    policyholder_id: Mapped[int | None] = mapped_column(ForeignKey("policyholders.id"), index=True)
    rejection_reason: Mapped[str | None] = mapped_column(String(255))

    referrer: Mapped[Referrer] = relationship()
    bank_branch: Mapped[BankBranch] = relationship()
