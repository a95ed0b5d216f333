"""What the database keeps of an import: the run (who, when, what kind, how far, what came of it), the file it
reads, in chunks, and the problems it found, row by row.

The file is kept in the database (``import_file_chunks``, 1 MiB a row) so that any host of a deployment can check
or import it, and so that a run is read as a stream, never whole. The chunks are deleted once the file is imported
or refused; the run and its report stay as the history.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from insurecrm.db import Base, utcnow


class ImportStatus(enum.StrEnum):
    """Where a run stands. ``queued`` and ``running`` are the two steps of the work, the dry run (``mode``
    ``check``) or the import (``mode`` ``import``); the others are their outcomes."""

    QUEUED = "queued"
    RUNNING = "running"
    #: the dry run found nothing wrong: the file can be imported as it is
    CHECKED = "checked"
    #: a row or the file is wrong: nothing was written; the report says what
    REFUSED = "refused"
    IMPORTED = "imported"
    #: the run stopped on an unexpected error (logged): nothing was written
    FAILED = "failed"


class ImportMode(enum.StrEnum):
    CHECK = "check"
    IMPORT = "import"


#: the outcomes after which a run does nothing more
FINAL_STATUSES = frozenset({ImportStatus.CHECKED, ImportStatus.REFUSED, ImportStatus.IMPORTED, ImportStatus.FAILED})


class ImportRun(Base):
    """One file brought in: checked (a dry run), then, when its user confirms, imported all or nothing."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: what the file holds: ``policyholders``, ``policies``, ... (``insurecrm.imports.kinds.KINDS``)
    kind: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int]
    #: ``csv`` or ``xlsx``
    file_format: Mapped[str] = mapped_column(String(8))
    #: the text encoding a CSV file was read in (detected, or given)
    encoding: Mapped[str | None] = mapped_column(String(32))
    #: the file's headers given another meaning: ``{"header in the file": "field"}``
    column_map: Mapped[dict[str, Any]] = mapped_column(default=dict)
    mode: Mapped[ImportMode]
    status: Mapped[ImportStatus] = mapped_column(index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    #: the language of the report's messages: the uploader's
    language: Mapped[str] = mapped_column(String(8), default="en")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    #: when a worker last showed it was alive on this run: a run left ``running`` long after is taken up again
    heartbeat_at: Mapped[datetime | None]
    rows_total: Mapped[int | None]
    rows_done: Mapped[int] = mapped_column(default=0)
    #: ``{"created": n, "updated": n, "unchanged": n}`` (would be, for a dry run), and ``"duplicates"``
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: problems found (all of them; the first ``MAX_ISSUES`` are kept row by row)
    issues_count: Mapped[int] = mapped_column(default=0)
    #: when the file was imported, and by whom the import was confirmed
    imported_at: Mapped[datetime | None]

    issues: Mapped[list[ImportIssue]] = relationship(back_populates="run", cascade="all, delete-orphan",
                                                     passive_deletes=True, order_by="ImportIssue.id")


class ImportFileChunk(Base):
    """A piece of an uploaded file, in order; the file is their concatenation."""

    __tablename__ = "import_file_chunks"

    run_id: Mapped[int] = mapped_column(ForeignKey("import_runs.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ImportIssue(Base):
    """A problem of one value (``row`` and ``column`` of the file), of a whole row (no ``column``), or of the
    file (``row`` 0): a wrong encoding, a missing column, a broken workbook. Warnings (a likely duplicate) are
    kept here too, with ``severity`` ``warning``: they do not stop the import."""

    __tablename__ = "import_issues"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("import_runs.id", ondelete="CASCADE"), index=True)
    #: the row's number as a spreadsheet shows it (the header is row 1); 0 for the file as a whole
    row: Mapped[int]
    column: Mapped[str | None] = mapped_column(String(120))
    value: Mapped[str | None] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text)
    #: ``error`` (nothing is written while one remains) or ``warning``
    severity: Mapped[str] = mapped_column(String(8), default="error")

    run: Mapped[ImportRun] = relationship(back_populates="issues")
