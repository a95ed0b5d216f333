"""Imports API (``/api/v1/imports``), for integrations: upload a file (multipart) to check it — or, with
``dry_run=false``, to import it all or nothing in one step —, follow its run, read its problems, confirm a checked
file. Admins and branch managers (in their scope, as on the pages); an admin sees every run, a manager their own;
other roles get 403. A small file's run is done before the answer (its status is final); a larger one's answer
comes at once (202) with the run queued or working: poll ``GET /imports/{id}``."""

from __future__ import annotations

import json

from flask import request
from flask.views import MethodView
from flask_babel import get_locale
from marshmallow import ValidationError, fields, validate
from sqlalchemy import select
from werkzeug.exceptions import Conflict, NotFound

from insurecrm.api import (
    Id,
    Integer,
    ListArgs,
    Schema,
    api_blueprint,
    current_user,
    page_envelope,
    paginate,
    refuse_a_body,
)
from insurecrm.auth import require_roles
from insurecrm.db import db
from insurecrm.imports import engine
from insurecrm.imports.kinds import load_kinds
from insurecrm.imports.models import ImportIssue, ImportMode, ImportRun, ImportStatus
from insurecrm.models import Role

blp = api_blueprint("imports_api", __name__, description="Imports of policyholders and policies from CSV/XLSX.")
API_BLUEPRINTS = [blp]
ROLES = (Role.ADMIN, Role.BRANCH_MANAGER)
#: the problems a run's answer carries (the pages and their downloads have every problem kept)
ISSUES_SHOWN = 200
KIND_NAMES = ("policyholders", "policies", "installments", "payments", "claims")


class UploadFormSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(KIND_NAMES))
    dry_run = fields.Boolean(load_default=True, metadata={
        "description": "true (the default): check only. false: check and import all or nothing."})
    encoding = fields.String(validate=validate.OneOf(("utf-8", "gb18030", "utf-16")), metadata={
        "description": "Of a CSV file; detected when not given."})
    column_map = fields.String(validate=validate.Length(max=10_000), metadata={
        "description": "A JSON object: the file's header → the field it holds, for headers not named as the "
                       "template names them."})


class ImportIssueSchema(Schema):
    row = Integer(metadata={"description": "The row as a spreadsheet numbers it (the header is 1); 0: the file."})
    column = fields.String(allow_none=True)
    value = fields.String(allow_none=True)
    message = fields.String()
    severity = fields.String(metadata={"description": "error (nothing is written) or warning."})


class ImportRunSchema(Schema):
    id = Id()
    kind = fields.String()
    filename = fields.String()
    size_bytes = Integer()
    file_format = fields.String()
    encoding = fields.String(allow_none=True)
    mode = fields.Enum(ImportMode, by_value=True)
    status = fields.Enum(ImportStatus, by_value=True)
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    imported_at = fields.DateTime(allow_none=True)
    rows_total = Integer(allow_none=True)
    rows_done = Integer()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "created, updated, unchanged (would be, for a dry run), errors, warnings."})
    issues_count = Integer()


class ImportRunDetailSchema(ImportRunSchema):
    issues = fields.Method("_issues", metadata={"description": f"The first {ISSUES_SHOWN} problems."})

    def _issues(self, run: ImportRun) -> list[dict]:
        rows = db.session.scalars(select(ImportIssue).where(ImportIssue.run_id == run.id).order_by(ImportIssue.id)
                                  .limit(ISSUES_SHOWN))
        return ImportIssueSchema(many=True).dump(rows)


def _runs():
    stmt = select(ImportRun)
    if current_user().role != Role.ADMIN:
        stmt = stmt.where(ImportRun.user_id == current_user().id)
    return stmt


def _run_or_404(run_id: int) -> ImportRun:
    run = db.session.scalar(_runs().where(ImportRun.id == run_id))
    if run is None:
        raise NotFound()
    return run


#: the upload's multipart body, as OpenAPI describes it (the fields of :class:`UploadFormSchema` and the file)
UPLOAD_BODY = {
    "type": "object", "required": ["kind", "file"], "additionalProperties": False,
    "properties": {
        "kind": {"type": "string", "enum": list(KIND_NAMES)},
        "dry_run": {"type": "boolean", "default": True,
                    "description": "true (the default): check only. false: check and import all or nothing."},
        "encoding": {"type": "string", "enum": ["utf-8", "gb18030", "utf-16"],
                     "description": "Of a CSV file; detected when not given."},
        "column_map": {"type": "string", "maxLength": 10_000, "description": "A JSON object: the file's header → "
                       "the field it holds, for headers not named as the template names them."},
        "file": {"type": "string", "format": "binary", "description": "The CSV or XLSX file."},
    },
}


@blp.route("/imports")
class Imports(MethodView):
    @require_roles(*ROLES)
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, page_envelope(ImportRunSchema))
    def get(self, args):
        """The imports you may see, newest first."""
        items, meta = paginate(_runs().order_by(ImportRun.id.desc()), args)
        return {"items": items, "meta": meta}

    @require_roles(*ROLES)
    @blp.doc(requestBody={"required": True, "content": {"multipart/form-data": {"schema": UPLOAD_BODY}}})
    @blp.response(202, ImportRunDetailSchema)
    def post(self):
        """Upload a CSV or XLSX file of a kind to check it (or, with `dry_run=false`, import it all or nothing)."""
        form, upload = _upload()
        try:
            run = engine.create_run(form["kind"], upload.filename or "upload", upload.stream, user=current_user(),
                                    column_map=form["column_map"], encoding=form.get("encoding"),
                                    language=str(get_locale() or "en"),
                                    mode=ImportMode.CHECK if form["dry_run"] else ImportMode.IMPORT)
        except engine.ImportRefused as refused:
            raise ValidationError({"file": [str(refused)]}) from None
        engine.start(run)
        return db.session.get(ImportRun, run.id)


def _upload() -> tuple[dict, object]:
    """The upload's fields and file from a multipart body, checked like any body: unknown fields, a missing
    file, a column map that is not a JSON object of the kind's fields — every problem at once (422)."""
    if request.mimetype == "multipart/form-data":
        raw = request.form.to_dict()
    elif request.is_json:
        raw = request.get_json(silent=True)
        if raw is None:
            raise ValidationError({"_schema": ["Send the file and its fields as multipart/form-data."]})
    else:
        raw = {}
    errors: dict[str, list[str]] = {}
    form: dict = {}
    try:
        form = UploadFormSchema().load(raw)
    except ValidationError as error:
        errors.update(error.messages if isinstance(error.messages, dict) else {"_schema": error.messages})
    for name in request.files:
        if name != "file":
            errors[name] = ["Unknown field."]
    upload = request.files.get("file")
    if upload is None:
        errors["file"] = ["Send the file as the multipart part `file`."]
    form["column_map"] = _column_map(form, errors)
    if errors:
        raise ValidationError(errors)
    return form, upload


def _column_map(form: dict, errors: dict) -> dict[str, str]:
    if not form.get("column_map"):
        return {}
    try:
        column_map = json.loads(form["column_map"])
    except ValueError:
        column_map = None
    if not isinstance(column_map, dict) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in column_map.items()):
        errors["column_map"] = ["A JSON object of header → field."]
        return {}
    if form.get("kind") in KIND_NAMES:
        unknown = sorted(set(column_map.values()) - {column.field for column in load_kinds()[form["kind"]].columns})
        if unknown:
            errors["column_map"] = [f"Not fields of {form['kind']}: {', '.join(unknown)}."]
    return column_map


@blp.route("/imports/<int:run_id>")
class ImportResource(MethodView):
    @require_roles(*ROLES)
    @blp.response(200, ImportRunDetailSchema)
    def get(self, run_id):
        """A run: its status, progress, counts and first problems."""
        return _run_or_404(run_id)


@blp.route("/imports/<int:run_id>/confirm")
class ImportConfirm(MethodView):
    @require_roles(*ROLES)
    @blp.response(202, ImportRunDetailSchema)
    @blp.alt_response(409, description="The run is not a dry run that found nothing wrong.")
    def post(self, run_id):
        """Import the file of a dry run that found nothing wrong (all or nothing). No body, or `{}`."""
        refuse_a_body()
        run = _run_or_404(run_id)
        if run.status != ImportStatus.CHECKED:
            raise Conflict("Only a file checked without problems can be imported.")
        engine.confirm(run)
        engine.start(run)
        return db.session.get(ImportRun, run.id)

