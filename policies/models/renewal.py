"""Renewal cases (续保): one per policy approaching expiry."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from insurecrm.db import Base, Money, TimestampMixin, VersionedMixin, utcnow


class RenewalStatus(enum.StrEnum):
    OPEN = "open"
    CONTACTED = "contacted"
    QUOTED = "quoted"
    RENEWED = "renewed"
    LOST = "lost"
    LAPSED = "lapsed"


#: a case still being worked (neither renewed, lost nor lapsed)
WORKED_CASE_STATUSES = (RenewalStatus.OPEN, RenewalStatus.CONTACTED, RenewalStatus.QUOTED)


class LostReason(enum.StrEnum):
    PRICE = "price"
    COMPETITOR = "competitor"
    SERVICE = "service"
    MOVED_AWAY = "moved_away"
    DECEASED = "deceased"
    OTHER = "other"


class RenewalCase(VersionedMixin, TimestampMixin, Base):
    __tablename__ = "renewal_cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"), unique=True)
    #: the expiry date of the policy being renewed
    due_date: Mapped[date] = mapped_column(index=True)
    opened_on: Mapped[date]
    #: ``None`` means the case sits in the organisation unit's pool
    assigned_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), index=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    status: Mapped[RenewalStatus] = mapped_column(default=RenewalStatus.OPEN, index=True)
    first_contacted_at: Mapped[datetime | None]
    last_contacted_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    quoted_premium: Mapped[Money | None]
    lost_reason: Mapped[LostReason | None]
    lost_note: Mapped[str | None] = mapped_column(Text)
    renewing_policy_id: Mapped[int | None] = mapped_column(ForeignKey("policies.id"))
    closed_at: Mapped[datetime | None]

    policy = relationship("Policy", foreign_keys=[policy_id])
    reminders: Mapped[list[RenewalReminder]] = relationship(cascade="all, delete-orphan")


class RenewalReminder(Base):
    """A reminder sent for a case at an offset (days before expiry), pointing at its outbox row."""

    __tablename__ = "renewal_reminders"
    __table_args__ = (UniqueConstraint("renewal_case_id", "offset_days", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    renewal_case_id: Mapped[int] = mapped_column(ForeignKey("renewal_cases.id", ondelete="CASCADE"), index=True)
    offset_days: Mapped[int]
    channel: Mapped[str] = mapped_column(String(16))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
