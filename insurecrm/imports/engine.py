"""The import engine: a file checked (the dry run), then imported all or nothing.

A run reads its file as a stream (:mod:`insurecrm.imports.reading`), maps the file's headers to the kind's columns,
reads each cell with its column's parser, and hands each row to the kind (:class:`~insurecrm.imports.kinds.Import\
Kind`), which writes it through the domain's services — the same schemas and rules as the API, on behalf of the
user who uploaded the file, audited as the import (``import:<run id>``). Everything is done in one transaction:

- the **dry run** (mode ``check``) does every write and rolls it back at the end, so that it sees what the import
  would see (a policy naming a policyholder created three rows above, a number already taken), and reports the
  counts of what would be created, updated and left alone, and every problem, row by row;
- the **import** (mode ``import``) does the same and commits — only if no row had a problem: one bad row and
  nothing is written. Importing the same file again changes nothing: each kind finds its records by their natural
  key (ID number, policy number, ...) and leaves a record that already reads as the file says.

A run is either done in the request that asked for it (a small file) or by a worker thread, and any host's
scheduler takes up a run left queued or abandoned (:func:`resume_abandoned`); a worker claims a run by a
conditional ``UPDATE``, so two never do the same one.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import IO

from flask import Flask, current_app, g
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, insert, literal, or_, select, text, update

from insurecrm.actor import acting_as
from insurecrm.db import db, utcnow
from insurecrm.imports.kinds import Context, ImportKind, RowError, header_key, load_kinds
from insurecrm.imports.models import (
    FINAL_STATUSES,
    ImportFileChunk,
    ImportIssue,
    ImportMode,
    ImportRun,
    ImportStatus,
)
from insurecrm.imports.reading import FileProblem, Table, file_format_of, read_table
from insurecrm.imports.values import cell_text
from insurecrm.models import User

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
#: the problems kept row by row in a run's report (all are counted)
MAX_ISSUES = 10_000
#: rows between two flushes of the session (and two progress notes of a worker)
BATCH_ROWS = 500
#: a run whose worker has not shown it is alive for this long is taken up again
ABANDONED_AFTER = timedelta(minutes=5)
#: the file of a run that was refused, failed or never imported is kept this long (to map its columns, to import
#: it after its check), then deleted; the run and its report stay
KEEP_FILES = timedelta(days=7)
#: an import of at least this many rows refreshes the statistics of the tables it wrote
ANALYZE_AFTER_ROWS = 10_000
#: a long run refreshes them as it goes too, every so many rows (PostgreSQL), inside its transaction: the rows it
#: wrote count (a transaction's own rows are sampled), so the planner keeps using the indexes of a table that the run
#: itself is growing — with the statistics taken before, the look-ups of each batch became scans of the table
ANALYZE_EVERY_ROWS = 10_000

REQUIRED = _l("Required: this column must have a value.")
NOT_IMPORTED = _l("This column is not one of the file's columns: it is not imported.")


class ImportRefused(Exception):
    """An upload refused before any run exists (no file, too large, an unknown kind)."""


# -- creating and starting runs ------------------------------------------------------------------------------------

def create_run(kind: str, filename: str, stream: IO[bytes], *, user: User, column_map: dict | None = None,
               encoding: str | None = None, language: str = "en", mode: ImportMode = ImportMode.CHECK) -> ImportRun:
    """Store an uploaded file (read from ``stream`` in chunks, never whole) as a queued run of ``kind``: a dry run
    (``mode`` check), or an import that checks every row and writes only if none is refused. Refuses an unknown
    kind, an empty file and a file above ``IMPORT_MAX_BYTES``."""
    if kind not in load_kinds():
        raise ImportRefused(str(_l("Unknown kind of import: %(kind)s.", kind=kind)))
    limit = current_app.config["IMPORT_MAX_BYTES"]
    run = ImportRun(kind=kind, filename=_storable(filename, None)[-255:] if filename else "upload", size_bytes=0,
                    file_format="csv",
                    encoding=encoding, column_map=column_map or {}, mode=mode, status=ImportStatus.QUEUED,
                    user_id=user.id, language=language)
    db.session.add(run)
    db.session.flush()
    size, seq = 0, 0
    while chunk := stream.read(CHUNK_BYTES):
        if seq == 0:
            run.file_format = file_format_of(run.filename, chunk)
        size += len(chunk)
        if size > limit:
            db.session.rollback()
            raise ImportRefused(str(_l("The file is larger than %(megabytes)s MB: split it.",
                                       megabytes=limit // (1 << 20))))
        db.session.execute(insert(ImportFileChunk).values(run_id=run.id, seq=seq, data=chunk))
        seq += 1
    if size == 0:
        db.session.rollback()
        raise ImportRefused(str(_l("The file is empty.")))
    run.size_bytes = size
    db.session.commit()
    return run


def copy_run(run: ImportRun, *, column_map: dict[str, str], user: User) -> ImportRun:
    """A new dry run of the file of ``run``, its headers given the meanings of ``column_map`` (the file's
    header → the kind's field); the file is copied in the database, not read."""
    again = ImportRun(kind=run.kind, filename=run.filename, size_bytes=run.size_bytes, file_format=run.file_format,
                      encoding=run.encoding, column_map=column_map, mode=ImportMode.CHECK,
                      status=ImportStatus.QUEUED, user_id=user.id, language=run.language)
    db.session.add(again)
    db.session.flush()
    db.session.execute(insert(ImportFileChunk).from_select(
        ["run_id", "seq", "data"],
        select(literal(again.id), ImportFileChunk.seq, ImportFileChunk.data).where(ImportFileChunk.run_id == run.id)))
    db.session.commit()
    return again


def confirm(run: ImportRun) -> None:
    """Queue the import of a run whose dry run found nothing wrong."""
    if run.status != ImportStatus.CHECKED:
        raise ImportRefused(str(_l("Only a file checked without problems can be imported.")))
    run.mode, run.status, run.rows_done, run.heartbeat_at = ImportMode.IMPORT, ImportStatus.QUEUED, 0, None
    db.session.commit()


def start(run: ImportRun) -> None:
    """Do the run now, in this request, when its file is small; otherwise in a worker thread of this process
    (the page shows its progress), which any host's scheduler takes over if this process ends first."""
    if run.size_bytes <= current_app.config["IMPORT_INLINE_BYTES"]:
        perform(run.id)
        return
    app = current_app._get_current_object()  # noqa: SLF001 - the thread needs the app, not the proxy
    threading.Thread(target=_work, args=(app, run.id), name=f"import-{run.id}", daemon=True).start()


def _work(app: Flask, run_id: int) -> None:
    with app.app_context():
        try:
            perform(run_id, background=True)
        except Exception:  # logged; the run is marked failed by perform
            log.exception("import run %s failed", run_id)
        finally:
            db.session.remove()


def resume_abandoned(app: Flask) -> int:
    """Do, one after the other, the runs left queued or abandoned by a worker that stopped (the scheduler calls
    this every minute); the number done."""
    done = 0
    with app.app_context():
        try:
            stale = utcnow() - ABANDONED_AFTER
            ids = db.session.scalars(select(ImportRun.id).where(or_(
                ImportRun.status == ImportStatus.QUEUED,
                (ImportRun.status == ImportStatus.RUNNING) & (ImportRun.heartbeat_at < stale)))
                .order_by(ImportRun.id)).all()
            db.session.rollback()
            for run_id in ids:
                if perform(run_id, background=True, stale_before=stale):
                    done += 1
            old = select(ImportRun.id).where(ImportRun.status.in_(FINAL_STATUSES),
                                             ImportRun.finished_at < utcnow() - KEEP_FILES)
            db.session.execute(delete(ImportFileChunk).where(ImportFileChunk.run_id.in_(old)))
            db.session.commit()
        finally:
            db.session.remove()
    return done


# -- doing a run ---------------------------------------------------------------------------------------------------

def _claim(run_id: int, stale_before) -> bool:
    """Take the run for this worker: queued, or abandoned before ``stale_before``; ``False`` if another has it."""
    claimable = ImportRun.status == ImportStatus.QUEUED
    if stale_before is not None:
        claimable = or_(claimable, (ImportRun.status == ImportStatus.RUNNING) & (ImportRun.heartbeat_at < stale_before))
    now = utcnow()
    claimed = db.session.execute(
        update(ImportRun).where(ImportRun.id == run_id, claimable)
        .values(status=ImportStatus.RUNNING, started_at=now, heartbeat_at=now, rows_done=0)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return bool(claimed)


def perform(run_id: int, *, background: bool = False, stale_before=None,
            progress: Callable[[int], None] | None = None) -> bool:
    """Do the run ``run_id`` if it can be claimed: check or import its file, then record the outcome and its
    report. ``background``: a worker, whose progress is written as it goes (in a connection of its own, so that
    pages see it during the run's long transaction). ``False`` when the run was not this worker's to do."""
    if not _claim(run_id, stale_before):
        return False
    run = db.session.get(ImportRun, run_id)
    user = db.session.get(User, run.user_id) if run.user_id is not None else None
    kind = load_kinds()[run.kind]
    if progress is None:
        progress = _progress_writer(run_id) if background else (lambda rows: None)
    outcome = Outcome()
    requester = g.get("user")
    with force_locale(run.language):
        try:
            if user is None or not user.active:
                raise FileProblem(str(_l("The user who uploaded the file is no longer active.")))
            g.user = user  # the scope rules read the acting user from ``g`` where no user is passed
            with acting_as(f"import:{run_id}", user_id=user.id):
                _execute(run, kind, user, outcome, progress)
        except FileProblem as problem:
            db.session.rollback()
            outcome.issues.add(0, None, None, problem.message)
        except Exception:
            db.session.rollback()
            log.exception("import run %s failed", run_id)
            outcome.failed = True
            outcome.issues.add(0, None, None, str(_l("The import stopped on an unexpected error (logged): nothing "
                                                     "was written. Tell your administrator.")))
        finally:
            g.user = requester  # the request goes on as the user who asked (an admin confirming a manager's run)
    _finish(run_id, kind, outcome)
    return True


@dataclass
class Issues:
    """The problems of a run: every one counted, the first :data:`MAX_ISSUES` kept."""

    kept: list[dict] = field(default_factory=list)
    errors: int = 0
    warnings: int = 0

    def add(self, row: int, column: str | None, value, message: str, severity: str = "error") -> None:
        if severity == "error":
            self.errors += 1
        else:
            self.warnings += 1
        if len(self.kept) < MAX_ISSUES:
            shown = cell_text(value)
            # what the report's columns hold: a file's header or cell may be of any length, and hold a NUL
            self.kept.append({"row": row, "column": _storable(column, 120), "value": _storable(shown, 255),
                              "message": _storable(message, None), "severity": severity})


def _storable(text: str | None, length: int | None) -> str | None:
    """``text`` as a report keeps it: a NUL shown as ␀ (no database text holds one), cut to ``length``."""
    if not text:
        return None
    return text.replace("\x00", "\u2400")[:length]


@dataclass
class Outcome:
    counts: Counter = field(default_factory=Counter)
    issues: Issues = field(default_factory=Issues)
    rows: int = 0
    encoding: str | None = None
    committed: bool = False
    failed: bool = False


@dataclass
class Mapping:
    """Which cell of a row goes to which column of the kind, and the file's own name of each column."""

    cells: list[tuple[int, object]]
    headers: dict[str, str]


def map_headers(kind: ImportKind, headers: list[str], column_map: dict[str, str]) -> tuple[Mapping, list[str]]:
    """The kind's columns found among ``headers`` (by field, English or Chinese header, or ``column_map``),
    and the headers not imported. Raises :class:`FileProblem` for a required column missing or a column given
    twice."""
    by_name = {name: column for column in kind.columns for name in column.names()}
    chosen = {header_key(header): field_name for header, field_name in (column_map or {}).items() if field_name}
    fields = {column.field: column for column in kind.columns}
    cells, names, unknown = [], {}, []
    for index, header in enumerate(headers):
        if not header:
            continue
        key = header_key(header)
        column = fields.get(chosen[key]) if key in chosen else by_name.get(key)
        if column is None:
            unknown.append(header)
            continue
        if column.field in names:
            raise FileProblem(str(_l("Two columns of the file are %(column)s: \"%(first)s\" and \"%(second)s\".",
                                     column=column.header, first=names[column.field], second=header)))
        cells.append((index, column))
        names[column.field] = header
    missing = [str(column.header) for column in kind.columns if column.required and column.field not in names]
    if missing:
        raise FileProblem(str(_l("The file has no column %(columns)s: add it, or say which column holds it.",
                                 columns=", ".join(f"\"{name}\"" for name in missing))))
    return Mapping(cells, names), unknown


def _execute(run: ImportRun, kind: ImportKind, user: User, outcome: Outcome, progress: Callable[[int], None]) -> None:
    mode, run_id = run.mode, run.id
    table: Table = read_table(lambda: file_chunks(run_id), run.file_format, encoding=run.encoding)
    outcome.encoding = table.encoding
    mapping, unknown = map_headers(kind, table.headers, run.column_map)
    issues = outcome.issues
    for header in unknown:
        issues.add(1, header, None, str(NOT_IMPORTED), "warning")
    ctx = Context(user=user, checking=mode == ImportMode.CHECK)
    kind.prepare(ctx)
    seen: dict[tuple, int] = {}
    # a key repeated is reported on its most telling column the file has (the ID number, not its type)
    key_field = next((name for name in reversed(kind.key_fields) if name in mapping.headers), kind.key_fields[-1])
    for batch in _batches(table.rows, BATCH_ROWS):
        parsed = []
        for number, cells in batch:
            outcome.rows += 1
            values, errors, raw = _read_row(kind, mapping, cells)
            if not errors and (key := kind.key(values)) is not None:
                if key in seen:
                    errors[key_field] = [str(_l("Row %(row)s has the same key: each record once per file.",
                                                row=seen[key]))]
                else:
                    seen[key] = number
            parsed.append((number, values, errors, raw))
        kind.prefetch([values for _number, values, errors, _raw in parsed if not errors], ctx)
        for number, values, errors, raw in parsed:
            if not errors:
                try:
                    outcome.counts[kind.apply(number, values, ctx)] += 1
                except RowError as refused:
                    errors = refused.errors
            for field_name, messages in errors.items():
                for message in messages:
                    issues.add(number, _column_name(kind, mapping, field_name), raw.get(field_name), message)
        if len(batch) == BATCH_ROWS:  # more may follow: write this batch, forget its objects, say how far
            _lighten_session(user)
            progress(outcome.rows)
            if outcome.rows % ANALYZE_EVERY_ROWS == 0:
                _analyze_within(kind.tables)
    # the last batch written, in a dry run too: what the database itself refuses (a number taken meanwhile by
    # someone else) fails the dry run as it would the import
    db.session.flush()
    for number, refused in kind.finish(ctx):
        for field_name, messages in refused.errors.items():
            for message in messages:
                issues.add(number, _column_name(kind, mapping, field_name), None, message)
    for number, field_name, message in ctx.warnings:
        issues.add(number, _column_name(kind, mapping, field_name), None, message, "warning")
    if mode == ImportMode.IMPORT and not issues.errors:
        db.session.commit()
        outcome.committed = True
        if outcome.rows >= ANALYZE_AFTER_ROWS:
            _analyze(kind.tables)
    else:
        db.session.rollback()


def _batches(rows: Iterator[tuple[int, list]], size: int) -> Iterator[list[tuple[int, list]]]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _read_row(kind: ImportKind, mapping: Mapping, cells: list) -> tuple[dict, dict, dict]:
    """The row's values by field, its problems by field, and its cells as given (for the report)."""
    values, errors, raw = {}, {}, {}
    for index, column in mapping.cells:
        cell = cells[index] if index < len(cells) else None
        if cell_text(cell) is None:
            continue
        raw[column.field] = cell
        try:
            values[column.field] = column.parse(cell)
        except ValueError as error:
            errors[column.field] = [str(error)]
    for column in kind.columns:
        if column.required and column.field not in raw:
            errors[column.field] = [str(REQUIRED)]
    return values, errors, raw


def _column_name(kind: ImportKind, mapping: Mapping, field_name: str | None) -> str | None:
    """How the report names a field: by the file's header, else by the column's name in the reader's language
    (a column the file lacks), else as the service named it."""
    if field_name is None:
        return None
    if field_name in mapping.headers:
        return mapping.headers[field_name]
    column = next((column for column in kind.columns if column.field == field_name), None)
    return str(column.header) if column is not None else field_name


def _lighten_session(user: User) -> None:
    """Write the batch and forget its objects (the transaction goes on): a long file does not fill the session."""
    db.session.flush()
    for obj in list(db.session.identity_map.values()):
        if obj is not user and obj in db.session:  # (one object's expunge takes its collections along)
            db.session.expunge(obj)


def _analyze_within(tables: tuple[str, ...]) -> None:
    """Refresh the statistics of ``tables`` inside the run's transaction (PostgreSQL; rolled back with a dry run)."""
    if db.dialect == "postgresql":
        for table in tables:
            db.session.execute(text(f"ANALYZE {table}"))


def _analyze(tables: tuple[str, ...]) -> None:
    """Bring the planner's statistics of the tables written up to date (a large import changes them)."""
    for table in tables:
        db.session.execute(text(f"ANALYZE {table}"))
    db.session.commit()


def file_chunks(run_id: int) -> Iterator[bytes]:
    """The stored file, chunk by chunk, each read on its own."""
    seqs = db.session.scalars(select(ImportFileChunk.seq).where(ImportFileChunk.run_id == run_id)
                              .order_by(ImportFileChunk.seq)).all()
    for seq in seqs:
        yield db.session.scalar(select(ImportFileChunk.data).where(ImportFileChunk.run_id == run_id,
                                                                   ImportFileChunk.seq == seq))


def _progress_writer(run_id: int) -> Callable[[int], None]:
    def note(rows: int) -> None:
        with db.engine.begin() as connection:
            connection.execute(update(ImportRun).where(ImportRun.id == run_id)
                               .values(rows_done=rows, heartbeat_at=utcnow()))
    return note


def _finish(run_id: int, kind: ImportKind, outcome: Outcome) -> None:
    """Record the outcome and the report of the run (after the data's transaction ended, whichever way)."""
    run = db.session.get(ImportRun, run_id)
    issues = outcome.issues
    if outcome.failed:
        status = ImportStatus.FAILED
    elif issues.errors:
        status = ImportStatus.REFUSED
    elif outcome.committed:
        status = ImportStatus.IMPORTED
    else:
        status = ImportStatus.CHECKED
    db.session.execute(delete(ImportIssue).where(ImportIssue.run_id == run_id))
    if issues.kept:
        db.session.execute(insert(ImportIssue), [{"run_id": run_id, **issue} for issue in issues.kept])
    now = utcnow()
    run.status, run.finished_at, run.heartbeat_at = status, now, now
    run.encoding = outcome.encoding or run.encoding
    run.rows_total = run.rows_done = outcome.rows
    run.issues_count = issues.errors + issues.warnings
    run.counts = {**{name: outcome.counts.get(name, 0) for name in ("created", "updated", "unchanged")},
                  "errors": issues.errors, "warnings": issues.warnings}
    if status == ImportStatus.IMPORTED:
        run.imported_at = now
    if status == ImportStatus.IMPORTED:
        db.session.execute(delete(ImportFileChunk).where(ImportFileChunk.run_id == run_id))
    db.session.commit()
