"""The imports pages (``/imports``), for admins and branch managers: upload a file of a kind, see its dry run
(counts, every problem row by row, downloadable), say which column is which when the headers differ, confirm the
import, and the history of imports with who, when and what came of them. Templates of each kind, with the headers
in the reader's language, are downloadable. An admin sees every import; a manager their own. A large file is
checked and imported by a worker: its page refreshes itself and shows how far it is."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import func, select

from insurecrm.db import db
from insurecrm.imports import engine
from insurecrm.imports.kinds import ImportKind, load_kinds
from insurecrm.imports.models import FINAL_STATUSES, ImportFileChunk, ImportIssue, ImportRun, ImportStatus
from insurecrm.imports.reading import FileProblem, read_table
from insurecrm.models import Role, User
from insurecrm.web import page_roles, paginate_page

bp = Blueprint("imports_web", __name__, url_prefix="/imports", template_folder="templates")
WEB_BLUEPRINTS = [bp]
importers = page_roles(Role.ADMIN, Role.BRANCH_MANAGER)
#: problems shown per page of a run
ISSUES_PER_PAGE = 100
ENCODINGS = ("utf-8", "gb18030", "utf-16")


def _runs_visible():
    stmt = select(ImportRun)
    if g.user.role != Role.ADMIN:
        stmt = stmt.where(ImportRun.user_id == g.user.id)
    return stmt


def _run_or_404(run_id: int) -> ImportRun:
    run = db.session.scalar(_runs_visible().where(ImportRun.id == run_id))
    if run is None:
        abort(404)
    return run


def _kind_or_404(name: str) -> ImportKind:
    kind = load_kinds().get(name)
    if kind is None:
        abort(404)
    return kind


@bp.get("")
@importers
def index():
    """The upload form and the history of imports."""
    return _index_page({}, {}, 200)


def _index_page(errors: dict, form, status: int):
    runs = paginate_page(_runs_visible().order_by(ImportRun.id.desc()))
    users = dict(db.session.execute(select(User.id, User.display_name).where(
        User.id.in_({run.user_id for run in runs.items if run.user_id}))).all())
    kinds = load_kinds()
    return render_template("imports/index.html", runs=runs, users=users, kinds=kinds, encodings=ENCODINGS,
                           kind_choices={name: kind.label for name, kind in kinds.items()}, errors=errors,
                           form=form), status


@bp.post("")
@importers
def upload():
    """Store the file and check it (the dry run); the run's page follows."""
    upload_file = request.files.get("file")
    kind, encoding = request.form.get("kind", ""), request.form.get("encoding") or None
    errors = {}
    if kind not in load_kinds():
        errors["kind"] = [_("Choose what the file holds.")]
    if upload_file is None or not upload_file.filename:
        errors["file"] = [_("Choose a file (.csv or .xlsx).")]
    if encoding is not None and encoding not in ENCODINGS:
        errors["encoding"] = [_("Choose an encoding from the list.")]
    if not errors:
        try:
            run = engine.create_run(kind, upload_file.filename, upload_file.stream, user=g.user, encoding=encoding,
                                    language=str(get_locale() or "en"))
        except engine.ImportRefused as refused:
            errors["file"] = [str(refused)]
    if errors:
        return _index_page(errors, request.form, 422)
    engine.start(run)
    return redirect(url_for(".run", run_id=run.id), 303)


@bp.get("/<int:run_id>")
@importers
def run(run_id: int):
    """A run: its status and progress, its counts, its problems page by page; confirm, or map the columns."""
    item = _run_or_404(run_id)
    kind = load_kinds()[item.kind]
    issues = paginate_page(select(ImportIssue).where(ImportIssue.run_id == item.id).order_by(ImportIssue.id),
                           ISSUES_PER_PAGE)
    uploader = db.session.get(User, item.user_id) if item.user_id else None
    headers = _file_headers(item) if item.status == ImportStatus.REFUSED and _has_file(item) else None
    return render_template("imports/run.html", run=item, kind=kind, issues=issues, uploader=uploader,
                           headers=headers, working=item.status not in FINAL_STATUSES)


def _has_file(run: ImportRun) -> bool:
    return db.session.scalar(select(func.count()).select_from(ImportFileChunk)
                             .where(ImportFileChunk.run_id == run.id)) > 0


def _file_headers(run: ImportRun) -> list[str] | None:
    try:
        return read_table(lambda: engine.file_chunks(run.id), run.file_format, encoding=run.encoding).headers
    except FileProblem:
        return None


@bp.post("/<int:run_id>/confirm")
@importers
def confirm(run_id: int):
    """Import a file whose dry run found nothing wrong."""
    item = _run_or_404(run_id)
    try:
        engine.confirm(item)
    except engine.ImportRefused as refused:
        flash(str(refused), "error")
        return redirect(url_for(".run", run_id=item.id), 303)
    engine.start(item)
    return redirect(url_for(".run", run_id=item.id), 303)


@bp.post("/<int:run_id>/columns")
@importers
def columns(run_id: int):
    """Check the same file again, its headers given the meanings chosen on the page (a new run)."""
    item = _run_or_404(run_id)
    kind = load_kinds()[item.kind]
    fields = {column.field for column in kind.columns}
    chosen = {key.removeprefix("map:"): value for key, value in request.form.items()
              if key.startswith("map:") and value in fields}
    again = engine.copy_run(item, column_map=chosen, user=g.user)
    engine.start(again)
    return redirect(url_for(".run", run_id=again.id), 303)


@bp.get("/<int:run_id>/report.csv", defaults={"fmt": "csv"})
@bp.get("/<int:run_id>/report.xlsx", defaults={"fmt": "xlsx"}, endpoint="report_xlsx")
@importers
def report(run_id: int, fmt: str):
    """The run's problems as CSV or XLSX: row, column, value, message."""
    item = _run_or_404(run_id)
    heading = [_("Row"), _("Column"), _("Value"), _("Problem"), _("Severity")]
    rows = ([issue.row, issue.column or "", issue.value or "", issue.message,
             _("Error") if issue.severity == "error" else _("Warning")]
            for issue in db.session.scalars(select(ImportIssue).where(ImportIssue.run_id == item.id)
                                            .order_by(ImportIssue.id)))
    return _download(f"import-{item.id}-report", heading, rows, fmt)


@bp.get("/template.csv", defaults={"fmt": "csv"})
@bp.get("/template.xlsx", defaults={"fmt": "xlsx"}, endpoint="template_xlsx")
@importers
def template(fmt: str):
    """An empty file of the kind ``?kind=``: the headers in the reader's language (either language is accepted)
    and an example row."""
    kind = _kind_or_404(request.args.get("kind", "policyholders"))
    heading = [str(column.header) + (" *" if column.required else "") for column in kind.columns]
    example = [column.example for column in kind.columns]
    return _download(f"{kind.name}-template", heading, iter([example]), fmt)


def _download(name: str, heading: list[str], rows: Iterator[list], fmt: str) -> Response:
    if fmt == "xlsx":
        import openpyxl

        workbook = openpyxl.Workbook(write_only=True)
        sheet = workbook.create_sheet()
        sheet.append(heading)
        for row in rows:
            sheet.append(row)
        buffer = io.BytesIO()
        workbook.save(buffer)
        body, mimetype = buffer.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(heading)
        writer.writerows(rows)
        # with its byte-order mark, Excel opens the file as UTF-8 (Chinese headers and all)
        body, mimetype = "\ufeff".encode() + text.getvalue().encode(), "text/csv; charset=utf-8"
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})
