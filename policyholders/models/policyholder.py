"""The policyholder (保户): one record per person or organisation across every channel."""

from __future__ import annotations

import enum
from datetime import date

from sqlalchemy import (
    ColumnElement,
    Computed,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    cast,
    column,
    event,
    extract,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from insurecrm.db import Base, TimestampMixin, VersionedMixin
from insurecrm.name_sort import SortedByName
from policyholders.name_keys import name_key


def birthday_of(date_of_birth) -> ColumnElement[int]:
    """The month and day of a date of birth as one integer, ``month * 100 + day``, as SQL."""
    return cast(extract("month", date_of_birth) * 100 + extract("day", date_of_birth), Integer)


class PartyKind(enum.StrEnum):
    PERSON = "person"
    ORGANISATION = "organisation"


class Gender(enum.StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"


class IdType(enum.StrEnum):
    """Identity documents; those with a known format are validated (see ``policyholders.identity``)."""

    PRC_RESIDENT = "prc_resident"  # 居民身份证, 18 digits with a check digit
    PASSPORT = "passport"
    HK_MACAU_PERMIT = "hk_macau_permit"
    PRC_USCC = "prc_uscc"  # 统一社会信用代码, for organisations
    OTHER = "other"


class PolicyholderStatus(enum.StrEnum):
    PROSPECT = "prospect"
    ACTIVE = "active"
    LAPSED = "lapsed"
    FORMER = "former"


class ContactChannel(enum.StrEnum):
    PHONE = "phone"
    SMS = "sms"
    EMAIL = "email"
    MESSAGING = "messaging"
    VISIT = "visit"
    POST = "post"


class IncomeBand(enum.StrEnum):
    LOW = "low"
    LOWER_MIDDLE = "lower_middle"
    MIDDLE = "middle"
    UPPER_MIDDLE = "upper_middle"
    HIGH = "high"


#: the bands of age of the reports and of the policyholder list's filter: (code, lowest age, highest age), both
#: included
AGE_BANDS = (("under_25", 0, 24), ("25_34", 25, 34), ("35_44", 35, 44), ("45_54", 45, 54), ("55_64", 55, 64),
             ("65_plus", 65, 200))


class MaritalStatus(enum.StrEnum):
    SINGLE = "single"
    MARRIED = "married"
    DIVORCED = "divorced"
    WIDOWED = "widowed"


class AcquisitionChannel(enum.StrEnum):
    AGENCY = "agency"
    BANCASSURANCE = "bancassurance"
    DIRECT = "direct"
    TELESALES = "telesales"
    WEB = "web"
    TRANSFER_IN = "transfer_in"


class Policyholder(SortedByName, VersionedMixin, TimestampMixin, Base):
    """A policyholder or prospect, owned by an agent within an organisation unit.

    ``org_unit_id`` is the unit whose book the policyholder belongs to; it stays when the owner agent
    leaves (the record then sits in that unit's pool with ``owner_agent_id`` empty).
    """

    __tablename__ = "policyholders"
    #: updated_at: for policyholders.tasks.key_customer_callbacks (the records that changed)
    #: (date_of_birth, name_key) and id_number: the blocking keys of the duplicates queue (policyholders/merging)
    __table_args__ = (UniqueConstraint("id_type", "id_number"), Index("ix_policyholders_updated_at", "updated_at"),
                      Index("ix_policyholders_date_of_birth_name_key", "date_of_birth", "name_key"),
                      Index("ix_policyholders_id_number", "id_number"))
    __audited__ = True
    #: the audit log is API output too, and the full ID number never leaves the database through the API
    __audit_secret__ = frozenset({"id_number"})
    #: derived from the name and the date of birth, which are audited themselves
    __audit_ignore__ = frozenset({"name_sort_key", "name_key", "birthday"})

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[PartyKind] = mapped_column(default=PartyKind.PERSON)
    name: Mapped[str] = mapped_column(String(120), index=True)
    #: the name's pinyin words in sorted order (policyholders.name_keys), kept in step with the name by a mapper
    #: event: the same key for 张伟 and "Wei Zhang"
    name_key: Mapped[str] = mapped_column(String(255), default="", server_default="")
    gender: Mapped[Gender | None]
    date_of_birth: Mapped[date | None] = mapped_column(index=True)
    #: the month and day of birth, ``month * 100 + day`` (``229`` for 29 February), computed by the database
    #: from ``date_of_birth`` (a generated column, whoever writes the row): its index gives
    #: policyholders.tasks.birthday_greetings the day's birthdays, not every date of birth of the book
    birthday: Mapped[int | None] = mapped_column(
        Computed(birthday_of(column("date_of_birth")), persisted=True), index=True)
    id_type: Mapped[IdType | None]
    id_number: Mapped[str | None] = mapped_column(String(32))
    #: E.164, normalised by ``policyholders.identity.normalise_phone``
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    phone_alt: Mapped[str | None] = mapped_column(String(20), index=True)
    email: Mapped[str | None] = mapped_column(String(255))
    address: Mapped[str | None] = mapped_column(String(255))
    region: Mapped[str | None] = mapped_column(String(64), index=True)
    occupation: Mapped[str | None] = mapped_column(String(64))
    industry: Mapped[str | None] = mapped_column(String(64))
    income_band: Mapped[IncomeBand | None]
    marital_status: Mapped[MaritalStatus | None]
    preferred_channel: Mapped[ContactChannel | None]
    preferred_language: Mapped[str] = mapped_column(String(8), default="zh")
    consent_marketing: Mapped[bool] = mapped_column(default=False)
    consent_sms: Mapped[bool] = mapped_column(default=False)
    consent_email: Mapped[bool] = mapped_column(default=False)
    owner_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), index=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    acquisition_channel: Mapped[AcquisitionChannel] = mapped_column(default=AcquisitionChannel.AGENCY)
    acquisition_source: Mapped[str | None] = mapped_column(String(120))
    bank_partner_id: Mapped[int | None] = mapped_column(ForeignKey("bank_partners.id"), index=True)
    referrer_id: Mapped[int | None] = mapped_column(ForeignKey("referrers.id"), index=True)
    status: Mapped[PolicyholderStatus] = mapped_column(default=PolicyholderStatus.PROSPECT, index=True)

    owner_agent = relationship("Agent")
    org_unit = relationship("OrgUnit")
    tags: Mapped[list[PolicyholderTag]] = relationship(cascade="all, delete-orphan", order_by="PolicyholderTag.tag")
    relationships_out: Mapped[list[PolicyholderRelationship]] = relationship(
        foreign_keys="PolicyholderRelationship.from_policyholder_id", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Policyholder {self.id}>"


@event.listens_for(Policyholder, "before_insert")
@event.listens_for(Policyholder, "before_update")
def _keep_the_name_key(_mapper, _connection, target: Policyholder) -> None:
    key = name_key(target.name)
    if target.name_key != key:
        target.name_key = key


class PolicyholderTag(Base):
    __tablename__ = "policyholder_tags"

    policyholder_id: Mapped[int] = mapped_column(ForeignKey("policyholders.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(48), primary_key=True)


class RelationshipKind(enum.StrEnum):
    SPOUSE = "spouse"
    CHILD = "child"
    PARENT = "parent"
    SIBLING = "sibling"
    EMPLOYER = "employer"
    EMPLOYEE = "employee"
    BENEFICIARY = "beneficiary"
    OTHER = "other"


class PolicyholderRelationship(Base):
    """``from`` is ``kind`` of ``to``: e.g. (A, B, child) means A is B's child. Stored once per direction."""

    __tablename__ = "policyholder_relationships"
    __table_args__ = (UniqueConstraint("from_policyholder_id", "to_policyholder_id", "kind"),)
    #: a household is part of the policyholder's record: who related whom, and who removed it, is audited
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    from_policyholder_id: Mapped[int] = mapped_column(ForeignKey("policyholders.id", ondelete="CASCADE"), index=True)
    to_policyholder_id: Mapped[int] = mapped_column(ForeignKey("policyholders.id", ondelete="CASCADE"), index=True)
    kind: Mapped[RelationshipKind]
    note: Mapped[str | None] = mapped_column(String(255))

    to_policyholder: Mapped[Policyholder] = relationship(foreign_keys=[to_policyholder_id])
