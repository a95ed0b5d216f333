"""A segment: a saved filter over policyholders, kept by name for its owner (docs/product.md, "Segments").

The filter is stored as the JSON the API takes (:class:`policyholders.segments.filters.SegmentFilterSchema`) and
evaluated when it is read, in SQL, inside the reader's scope: a segment holds no list of members.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from insurecrm.db import Base, TimestampMixin, VersionedMixin


class Segment(VersionedMixin, TimestampMixin, Base):
    """A named filter over policyholders. ``owner_user_id`` made it (its name is unique among theirs);
    ``org_unit_id`` is the owner's unit when made, so that the branch manager above sees it (none for an admin's)."""

    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint("owner_user_id", "name"),)
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)
    #: the filter as the API takes it: ``{"region": ["Shanghai"], "churn_min": 40, ...}``
    criteria: Mapped[dict[str, Any]] = mapped_column(default=dict)
    owner_user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)

    owner = relationship("User", foreign_keys=[owner_user_id])

    def __repr__(self) -> str:
        return f"<Segment {self.id}>"
