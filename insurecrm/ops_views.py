"""Operations pages for admins: daily job runs, the outbox, message templates.

- ``/admin/ops/jobs``: the jobs failing now, and the recent runs of the daily jobs (what each did, why it failed or
  was skipped), by job and status; an admin runs a skipped date by hand (``/admin/ops/jobs/run``, docs/operations.md);
- ``/admin/ops/outbox``: every message the jobs queued, with its recipient and subject (worded from its template
  as the sender would word it, until it is sent) and counts by status; a failed message
  (among them the *uncertain* ones a stopped sender left, see :mod:`insurecrm.outbox.sender`) can be sent
  again or marked as sent by an admin who checked with the recipient;
- ``/admin/ops/templates``: the wording of each kind of message per language and channel, edited with a
  preview on a sample payload; a template that does not compile is refused (422) with the reason by its field.

Record ids travel in the query string or the form (``?id=``), not in the path: these pages have no scope
beyond "admins only", and keeping them out of the record routes keeps the page access matrix exact.

The modules of :mod:`insurecrm.outbox` that define or use the ``message_templates`` table are imported by the
views that need them: the schema is what :mod:`insurecrm.registry` lists (with its migration), never something
that loading the web pages adds on the side.
"""

from __future__ import annotations

import json
import logging

import marshmallow as ma
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import and_, case, func, select

from insurecrm import jobplan, jobs
from insurecrm.api import ListArgs
from insurecrm.db import db
from insurecrm.errors import flatten_messages
from insurecrm.i18n import LANGUAGES
from insurecrm.i18n import day as format_day
from insurecrm.labels import label
from insurecrm.models import JobRun, JobRunStatus, Outbox, OutboxChannel, OutboxStatus, Role
from insurecrm.outbox.defaults import TEMPLATE_CHANNELS, sample_payload
from insurecrm.outbox.gateways import UNCERTAIN_PREFIX
from insurecrm.web import id_or_404, is_safe_redirect, load_form, page_roles, paginate_page

log = logging.getLogger(__name__)
bp = Blueprint("ops", __name__, url_prefix="/admin/ops")
WEB_BLUEPRINTS = (bp,)
admin_only = page_roles(Role.ADMIN)
PER_PAGE = 50
#: a pseudo-status of the outbox page: failed rows whose delivery is uncertain, waiting for a human
UNCERTAIN = "uncertain"
FORM_FIELDS = ("kind", "language", "channel", "subject", "body", "sample")


class JobRunArgs(ListArgs):
    job = ma.fields.String(validate=ma.validate.Length(max=64))
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in JobRunStatus]))


class OutboxArgs(ListArgs):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in OutboxStatus] + [UNCERTAIN]))
    channel = ma.fields.String(validate=ma.validate.OneOf([c.value for c in OutboxChannel]))
    kind = ma.fields.String(validate=ma.validate.Length(max=48))


class TemplateArgs(ListArgs):
    kind = ma.fields.String(validate=ma.validate.Length(max=48))
    language = ma.fields.String(validate=ma.validate.OneOf(list(LANGUAGES)))
    channel = ma.fields.String(validate=ma.validate.OneOf(TEMPLATE_CHANNELS))


def _filters(schema: type[ma.Schema]) -> dict:
    return schema().load({key: value for key, value in request.args.items() if value.strip()})


class RunDateForm(ma.Schema):
    job = ma.fields.String(required=True, validate=ma.validate.Length(max=64))
    date = ma.fields.Date(required=True)


@bp.get("/jobs")
@admin_only
def job_runs():
    """The jobs failing now (since which date, attempts, last error, the jobs they hold back; of the job filtered
    by, if any), then the recent runs
    of the daily jobs, newest first: date, job, status, host, counts, error or why it was skipped; a skipped date
    not run since has a button to run it."""
    filters = _filters(JobRunArgs)
    stmt = select(JobRun)
    if "job" in filters:
        stmt = stmt.where(JobRun.job_id == filters["job"])
    if "status" in filters:
        stmt = stmt.where(JobRun.status == filters["status"])
    page = paginate_page(stmt.order_by(JobRun.started_at.desc(), JobRun.id.desc()), PER_PAGE)
    known = set(db.session.scalars(select(JobRun.job_id).distinct())) | {job.id for job in jobs.registered()}
    failing = [job for job in jobplan.failing() if filters.get("job", job.job_id) == job.job_id]
    return render_template("ops/jobs.html", page=page, filters=filters, failing=failing,
                           runnable=_still_skipped(page.items),
                           job_choices=[(job_id, label(job_id, "job")) for job_id in sorted(known)])


def _still_skipped(runs) -> set[int]:
    """The ids of the skipped rows among ``runs`` whose (job, date) has not run since (one query)."""
    known = {job.id for job in jobs.registered()}
    skipped = [run for run in runs if run.status == JobRunStatus.SKIPPED and run.job_id in known]
    if not skipped:
        return set()
    done = set(db.session.execute(select(JobRun.job_id, JobRun.logical_date).where(
        JobRun.attempt_key == "", JobRun.job_id.in_({run.job_id for run in skipped}),
        JobRun.logical_date.in_({run.logical_date for run in skipped}))).all())
    return {run.id for run in skipped if (run.job_id, run.logical_date) not in done}


@bp.post("/jobs/run")
@admin_only
def job_run_date():
    """Run a job for a date by hand (a date the scheduler skipped): as ``insurecrm jobs run --date D JOB`` does,
    with the earlier dates it still owes and the jobs it depends on first. Refuses an unknown job and a date after
    today (422), and says so when another run of the jobs holds the lock. Logged with the admin's name."""
    from flask_login import current_user

    from insurecrm import clock, joblock

    form = RunDateForm().load({key: request.form.get(key, "") for key in ("job", "date")})
    if form["job"] not in {job.id for job in jobs.registered()}:
        raise ma.ValidationError(_("There is no such job."), "job")
    if form["date"] > clock.today():
        raise ma.ValidationError(_("A date after today cannot be run."), "date")
    log.info("%s runs %s for %s by hand", current_user.username, form["job"], form["date"])
    try:
        outcome = jobplan.run_owed(form["date"], [form["job"]], hand=True, lock_timeout=0)
    except joblock.JobsBusy:
        flash(_("The daily jobs are running now; try again in a few minutes."), "error")
        return redirect(url_for(".job_runs"))
    if outcome.failed or outcome.waiting:
        flash(_("Not every run succeeded: see the failing jobs below."), "error")
    else:
        flash(_("%(job)s ran for %(date)s (%(count)s run(s)).", job=label(form["job"], "job"),
                date=format_day(form["date"]), count=len(outcome.runs)), "success")
    return redirect(url_for(".job_runs"))


def _uncertain():
    return and_(Outbox.status == OutboxStatus.FAILED, Outbox.last_error.startswith(UNCERTAIN_PREFIX))


@bp.get("/outbox")
@admin_only
def outbox():
    """Every outbox row, newest first, filtered by status (``uncertain``: failed rows waiting for a human),
    channel and kind; with the number of rows in each status."""
    filters = _filters(OutboxArgs)
    stmt = select(Outbox)
    if filters.get("status") == UNCERTAIN:
        stmt = stmt.where(_uncertain())
    elif "status" in filters:
        stmt = stmt.where(Outbox.status == filters["status"])
    if "channel" in filters:
        stmt = stmt.where(Outbox.channel == filters["channel"])
    if "kind" in filters:
        stmt = stmt.where(Outbox.kind == filters["kind"])
    from insurecrm.outbox.rendering import previews

    page = paginate_page(stmt.order_by(Outbox.id.desc()), PER_PAGE)
    bucket = case((_uncertain(), UNCERTAIN), else_=Outbox.status)
    counts = dict(db.session.execute(select(bucket, func.count()).group_by(bucket)).all())
    return render_template("ops/outbox.html", page=page, filters=filters, UNCERTAIN=UNCERTAIN,
                           previews=previews(db.session, page.items),
                           counts={key: counts.get(key, 0) for key in [*OutboxStatus, UNCERTAIN]})


@bp.post("/outbox/resolve")
@admin_only
def outbox_resolve():
    """A human's decision on a failed message: ``resend`` it, or ``mark_sent`` (it did arrive)."""
    from insurecrm.outbox import sender

    row = db.session.get(Outbox, id_or_404("id", request.form) or 0) or abort(404)
    action = request.form.get("action")
    if action == "resend":
        sender.resend_by_hand(row)
        message = _("Message %(id)s queued to be sent again.", id=row.id)
    elif action == "mark_sent":
        sender.mark_sent_by_hand(row)
        message = _("Message %(id)s marked as sent.", id=row.id)
    else:
        raise ma.ValidationError("Choose resend or mark_sent.", "action")
    db.session.commit()
    flash(message, "success")
    target = request.form.get("next") or ""
    on_outbox = is_safe_redirect(target) and target.startswith("/admin/ops/outbox")
    return redirect(target if on_outbox else url_for(".outbox"))


@bp.get("/templates")
@admin_only
def message_templates():
    """The message templates, by kind, language and channel (the built-in ones, and the built-in campaigns they
    word, are added when missing)."""
    from insurecrm.outbox import templates
    from insurecrm.outbox.models import MessageTemplate
    from policyholders.campaigns.system import ensure_system_campaigns

    if templates.ensure_default_templates(db.session) + ensure_system_campaigns(db.session):
        db.session.commit()
    filters = _filters(TemplateArgs)
    stmt = select(MessageTemplate)
    for key in ("kind", "language", "channel"):
        if key in filters:
            stmt = stmt.where(getattr(MessageTemplate, key) == filters[key])
    order = (MessageTemplate.kind, MessageTemplate.channel, MessageTemplate.language)
    page = paginate_page(stmt.order_by(*order), PER_PAGE)
    return render_template("ops/templates.html", page=page, filters=filters, channels=TEMPLATE_CHANNELS)


@bp.route("/templates/edit", methods=["GET", "POST"])
@admin_only
def template_form():
    """Edit the template ``?id=`` (its wording), or create one (kind, language, channel and wording). The
    *preview* button renders the form's wording with the sample payload and saves nothing."""
    from insurecrm.outbox import templates
    from insurecrm.outbox.models import MessageTemplate
    from insurecrm.outbox.schemas import MessageTemplateCreateSchema, MessageTemplateUpdateSchema

    template_id = id_or_404("id")
    template = (db.session.get(MessageTemplate, template_id) or abort(404)) if template_id else None
    if request.method == "GET":
        return _show(template, _initial_values(template))
    schema = MessageTemplateUpdateSchema() if template else MessageTemplateCreateSchema()
    if request.form.get("action") == "preview":
        return _preview(template, schema)
    try:
        saved = templates.save_template(load_form(schema, clearing=template is not None), template)
        db.session.commit()
    except ma.ValidationError as exc:
        db.session.rollback()
        return _show(template, _posted(template), flatten_messages(exc.normalized_messages()), 422)
    flash(_("Template %(name)s saved.", name=template_name(saved)), "success")
    return redirect(url_for(".message_templates"))


def _preview(template, schema: ma.Schema):
    from insurecrm.outbox import templates
    from insurecrm.outbox.schemas import PreviewSchema

    errors: dict = {}
    data = _loaded(schema, errors, clearing=template is not None)
    sample = _loaded(PreviewSchema(), errors)
    if not errors:
        channel = template.channel if template else data["channel"]
        language = template.language if template else data["language"]
        subject = data.get("subject") if channel == OutboxChannel.EMAIL else None
        try:
            rendered = templates.preview(subject, data["body"], json.loads(sample["sample"]), language)
        except ma.ValidationError as exc:
            errors.update(flatten_messages(exc.normalized_messages()))
        else:
            return _show(template, _posted(template), preview=rendered)
    return _show(template, _posted(template), errors, 422)


def _loaded(schema: ma.Schema, errors: dict, **kwargs) -> dict:
    """The form read through ``schema``; its refusals are added to ``errors``."""
    try:
        return load_form(schema, **kwargs)
    except ma.ValidationError as exc:
        errors.update(flatten_messages(exc.normalized_messages()))
        return {}


def _initial_values(template) -> dict:
    from insurecrm.outbox.rendering import resolve
    from insurecrm.outbox.schemas import MessageTemplateSchema

    if template is not None:
        values = MessageTemplateSchema().dump(template)
    else:
        # a new template starts from the wording its key resolves to today (a fallback or a built-in default)
        values = {key: request.args.get(key, "") for key in ("kind", "language", "channel")}
        if values["kind"] and values["language"] in LANGUAGES and values["channel"] in TEMPLATE_CHANNELS:
            _name, values["subject"], values["body"] = resolve(db.session, **values)
    values["sample"] = json.dumps(sample_payload(values.get("kind") or ""), ensure_ascii=False, indent=2)
    return values


def _posted(template) -> dict:
    values = dict(request.form.items())
    if template is not None:
        values.update(kind=template.kind, language=template.language, channel=template.channel.value)
    return values


def template_name(template) -> str:
    """A template named for a reader: "Renewal reminder · English · Email", never its codes."""
    return " · ".join((label(template.kind, "message_kind"), label(template.language, "language"),
                       label(template.channel, "outbox_channel")))


def _show(template, values: dict, errors: dict | None = None, status: int = 200, preview=None):
    errors = errors or {}
    name = template_name(template) if template else None
    return render_template("ops/template_form.html", template=template, name=name, values=values, errors=errors,
                           other_errors={key: messages for key, messages in errors.items() if key not in FORM_FIELDS},
                           preview=preview, channels=TEMPLATE_CHANNELS), status
