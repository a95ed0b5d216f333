"""The organisation tree and the agents who sell and service the book."""

from __future__ import annotations

import enum
from datetime import date

from sqlalchemy import Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from insurecrm.db import Base, TimestampMixin
from insurecrm.name_sort import SortedByName


class OrgUnitKind(enum.StrEnum):
    COMPANY = "company"
    BRANCH = "branch"
    SUB_BRANCH = "sub_branch"
    TEAM = "team"


class OrgUnit(TimestampMixin, Base):
    """A node of company → branch → sub-branch/team.

    ``path`` is the materialised path of ids (``/1/4/9/``) so that "this unit and everything below
    it" is one indexed ``LIKE '/1/4/%'`` on any database.
    """

    __tablename__ = "org_units"
    __audited__ = True
    #: derived from ``parent_id`` (whose change the log records), rewritten in bulk for a moved subtree
    __audit_ignore__ = frozenset({"path"})

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[OrgUnitKind]
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    path: Mapped[str] = mapped_column(String(255), index=True, default="")
    region: Mapped[str | None] = mapped_column(String(64))

    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id])

    def __repr__(self) -> str:
        return f"<OrgUnit {self.code}>"


class AgentChannel(enum.StrEnum):
    AGENCY = "agency"
    BANCASSURANCE = "bancassurance"
    DIRECT = "direct"
    TELESALES = "telesales"


class AgentStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    INACTIVE = "inactive"


#: Which bank partners a bancassurance specialist is stationed at.
agent_bank_partners = Table(
    "agent_bank_partners",
    Base.metadata,
    Column("agent_id", ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True),
    Column("bank_partner_id", ForeignKey("bank_partners.id", ondelete="CASCADE"), primary_key=True),
)


class Agent(SortedByName, TimestampMixin, Base):
    """An agent (代理人/营销员) or a bancassurance specialist: a member of one organisation unit."""

    __tablename__ = "agents"
    __audited__ = True
    __audit_collections__ = {"bank_partners": "bank_partner_ids"}

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    licence_number: Mapped[str | None] = mapped_column(String(64))
    licence_expiry: Mapped[date | None]
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), index=True)
    channel: Mapped[AgentChannel] = mapped_column(index=True)
    status: Mapped[AgentStatus] = mapped_column(default=AgentStatus.ACTIVE, index=True)
    hire_date: Mapped[date]
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(255))

    org_unit: Mapped[OrgUnit] = relationship()
    manager: Mapped[Agent | None] = relationship(remote_side=[id])
    bank_partners = relationship("BankPartner", secondary=agent_bank_partners, back_populates="specialists")

    def __repr__(self) -> str:
        return f"<Agent {self.code}>"
