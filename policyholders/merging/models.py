"""The dismissed pairs of the duplicates queue, and the merges of policyholders with what each one changed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from insurecrm.db import Base, utcnow


class DuplicateDismissal(Base):
    """A pair of policyholders someone said are two people: the queue does not show it again. The lower id is
    ``policyholder_id``, so a pair has one row whichever way it was dismissed."""

    __tablename__ = "policyholder_duplicate_dismissals"
    __table_args__ = (UniqueConstraint("policyholder_id", "other_policyholder_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    policyholder_id: Mapped[int] = mapped_column(ForeignKey("policyholders.id", ondelete="CASCADE"))
    other_policyholder_id: Mapped[int] = mapped_column(ForeignKey("policyholders.id", ondelete="CASCADE"), index=True)
    dismissed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    dismissed_at: Mapped[datetime] = mapped_column(default=utcnow)


class PolicyholderMerge(Base):
    """One merge: ``merged_id`` was folded into ``survivor_id``. The merged row is deleted, so nothing that lists,
    searches or counts policyholders can count it; this row keeps what is needed to redirect its old id and to
    undo the merge: the merged row as it was (``merged_row``), the survivor's fields before the merge that took
    the merged record's value (``survivor_before``), and every row of another table that was moved to the survivor
    or dropped (``changed_rows``: ``{"table", "action": "moved"|"dropped", "column", "row"}``).

    ``survivor_id`` and ``merged_id`` are plain ids, not foreign keys: the merged record no longer exists, and the
    survivor may be merged in its turn (the redirect then follows both merges)."""

    __tablename__ = "policyholder_merges"

    id: Mapped[int] = mapped_column(primary_key=True)
    survivor_id: Mapped[int] = mapped_column(index=True)
    merged_id: Mapped[int] = mapped_column(index=True)
    merged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    merged_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    merged_row: Mapped[dict[str, Any]] = mapped_column(default=dict)
    survivor_before: Mapped[dict[str, Any]] = mapped_column(default=dict)
    changed_rows: Mapped[list[Any]] = mapped_column(default=list)
    undone_at: Mapped[datetime | None]
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    merged_by = relationship("User", foreign_keys=[merged_by_id])
    undone_by = relationship("User", foreign_keys=[undone_by_id])

    @property
    def undone(self) -> bool:
        return self.undone_at is not None

    @property
    def moved_count(self) -> int:
        return sum(1 for row in self.changed_rows if row["action"] == "moved")

    @property
    def dropped_count(self) -> int:
        return sum(1 for row in self.changed_rows if row["action"] == "dropped")
