"""Contacts (接触记录), service requests and complaints (客户服务/投诉), campaigns."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from insurecrm.db import Base, Money, TimestampMixin, utcnow


class InteractionChannel(enum.StrEnum):
    VISIT = "visit"
    PHONE = "phone"
    SMS = "sms"
    EMAIL = "email"
    MESSAGING = "messaging"
    BRANCH_COUNTER = "branch_counter"
    CALL_CENTRE = "call_centre"
    WEB = "web"


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Interaction(TimestampMixin, Base):
    """One contact with a policyholder on any channel: the timeline of the 360° view."""

    __tablename__ = "interactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    policyholder_id: Mapped[int] = mapped_column(ForeignKey("policyholders.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    channel: Mapped[InteractionChannel]
    direction: Mapped[Direction] = mapped_column(default=Direction.OUTBOUND)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    summary: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(255))
    cost: Mapped[Money | None]
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("policies.id"), index=True)
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id"), index=True)


class ServiceKind(enum.StrEnum):
    SERVICE = "service"
    COMPLAINT = "complaint"


class ServiceCategory(enum.StrEnum):
    POLICY_CHANGE = "policy_change"
    BENEFICIARY_CHANGE = "beneficiary_change"
    CONTACT_UPDATE = "contact_update"
    PAYMENT = "payment"
    CLAIM = "claim"
    CANCELLATION = "cancellation"
    ENQUIRY = "enquiry"
    SALES_PRACTICE = "sales_practice"
    OTHER = "other"


class ServicePriority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class ServiceStatus(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"


class ServiceRequest(TimestampMixin, Base):
    """A service request or a complaint, with its SLA (``due_at``), resolution and cost."""

    __tablename__ = "service_requests"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    policyholder_id: Mapped[int] = mapped_column(ForeignKey("policyholders.id", ondelete="CASCADE"), index=True)
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("policies.id"), index=True)
    kind: Mapped[ServiceKind] = mapped_column(index=True)
    category: Mapped[ServiceCategory]
    priority: Mapped[ServicePriority] = mapped_column(default=ServicePriority.NORMAL)
    status: Mapped[ServiceStatus] = mapped_column(default=ServiceStatus.OPEN, index=True)
    channel: Mapped[InteractionChannel | None]
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime] = mapped_column(index=True)
    assigned_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), index=True)
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)
    cost: Mapped[Money] = mapped_column(default=Decimal("0"))
