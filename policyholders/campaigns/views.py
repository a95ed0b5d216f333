"""Pages of campaigns: the list (the campaigns that stopped because their owner left first), the editor (new and
edit) with its message per language, a campaign's page (status moves, run now, hand over, the preview of its message
for a member in each language, its runs) and a run's members with what each was sent and answered. Rules live in
:mod:`policyholders.campaigns.services`, ``owners`` and ``runs``; the form is read by the API's schemas. The
effectiveness of a campaign has its own page (:mod:`policyholders.campaigns.effect_views`)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import MultiDict

from agents.models import Activity
from agents.task_services import OUTCOME_LABELS
from insurecrm import clock
from insurecrm.db import db
from insurecrm.errors import VersionConflict
from insurecrm.models import Outbox, User
from insurecrm.scope import get_visible_or_404, scoped_select
from insurecrm.web import load_form, page_roles, paginate_page
from policyholders.campaigns import owners, services
from policyholders.campaigns.models import Campaign, CampaignMember, CampaignRun, CampaignStatus, MemberOutcome
from policyholders.campaigns.responses import responded_at_of, response_of
from policyholders.campaigns.routes import KEEPERS, READERS
from policyholders.campaigns.runs import CampaignNotRunnable, run_now
from policyholders.campaigns.schemas import (
    LANGUAGES,
    CampaignMessageSchema,
    CampaignSchema,
    CampaignUpdateSchema,
    OwnerSchema,
)
from policyholders.campaigns.system import display_name, template_kinds
from policyholders.segments.models import Segment

bp = Blueprint("campaigns_web", __name__, template_folder="templates")
WEB_BLUEPRINTS = (bp,)
PER_PAGE = 25
FIELDS = ("name", "description", "kind", "channel", "segment_id", "schedule", "start_date", "end_date",
          "control_percent", "conversion_window_days", "cost_per_message", "budget")


@bp.get("/campaigns")
@page_roles(*READERS)
def index():
    """The campaigns the user may see, newest first, with their segment, and the active ones that stopped because
    their owner left (to hand over): four queries a page."""
    stmt = scoped_select(Campaign).options(selectinload(Campaign.segment)).order_by(Campaign.id.desc())
    page = paginate_page(stmt, PER_PAGE)
    last_runs = dict(db.session.execute(select(CampaignRun.campaign_id, func.max(CampaignRun.run_date)).where(
        CampaignRun.campaign_id.in_([campaign.id for campaign in page.items])).group_by(CampaignRun.campaign_id)).all())
    may_keep = g.user.role in KEEPERS
    stopped = db.session.execute(scoped_select(Campaign, g.user, Campaign.id, Campaign.name).where(
        owners.stopped()).order_by(Campaign.id).limit(PER_PAGE)).all() if may_keep else []
    return render_template("campaigns/index.html", page=page, last_runs=last_runs, may_keep=may_keep,
                           stopped=stopped)


@bp.get("/campaigns/new")
@page_roles(*KEEPERS)
def new():
    values = MultiDict({"start_date": clock.today().isoformat(), "control_percent": "10",
                        "conversion_window_days": "30", "cost_per_message": "0.00", "schedule": "once"})
    return _editor(None, values, {})


@bp.post("/campaigns/new")
@page_roles(*KEEPERS)
def create():
    """Make a draft from the form; a refused form comes back with its messages (422)."""
    try:
        data = _read_form(CampaignSchema(exclude=("messages",)))
        if request.form.get("action") == "preview":
            return _editor(None, request.form, {}, previews=_previews(data))
        campaign = services.create_campaign(data, actor=g.user)
    except ValidationError as error:
        db.session.rollback()
        return _editor(None, request.form, _flat(error.messages), status=422)
    db.session.commit()
    flash(_("Campaign saved as a draft: check its message, then activate it."), "success")
    return redirect(url_for("campaigns_web.detail", campaign_id=campaign.id))


@bp.get("/campaigns/<int:campaign_id>/edit")
@page_roles(*KEEPERS)
def edit(campaign_id: int):
    campaign = get_visible_or_404(Campaign, campaign_id)
    return _editor(campaign, _values_of(campaign), {})


@bp.post("/campaigns/<int:campaign_id>/edit")
@page_roles(*KEEPERS)
def update(campaign_id: int):
    """Save the changes (a stale version explains the conflict: 409)."""
    campaign = get_visible_or_404(Campaign, campaign_id)
    try:
        if campaign.system_key is not None:  # worded by its templates: its name and description only
            data = load_form(CampaignUpdateSchema(only=("version", "name", "description")), clearing=True)
        else:
            data = _read_form(CampaignUpdateSchema(exclude=("messages",)), clearing=True)
            if request.form.get("action") == "preview":
                return _editor(campaign, request.form, {}, previews=_previews(data, campaign))
        changed = services.update_campaign(campaign, data, actor=g.user)
        db.session.commit()
    except ValidationError as error:
        db.session.rollback()
        return _editor(get_visible_or_404(Campaign, campaign_id), request.form, _flat(error.messages), status=422)
    except StaleDataError:
        raise VersionConflict() from None
    flash(_("Campaign saved.") if changed else _("Nothing changed."), "success")
    return redirect(url_for("campaigns_web.detail", campaign_id=campaign.id))


@bp.get("/campaigns/<int:campaign_id>")
@page_roles(*READERS)
def detail(campaign_id: int):
    """The campaign, its message previewed in each language for a member, and its runs (the latest 50)."""
    campaign = get_visible_or_404(Campaign, campaign_id, options=(selectinload(Campaign.messages),
                                                                   joinedload(Campaign.segment)))
    may_keep = g.user.role in KEEPERS
    previews = [services.preview(campaign, language, g.user) for language in LANGUAGES] if may_keep else []
    return _detail(campaign, runs=_runs_of(campaign.id), previews=previews, may_keep=may_keep)


def _runs_of(campaign_id: int) -> list[CampaignRun]:
    """The campaign's latest 50 runs, the latest first."""
    return list(db.session.scalars(select(CampaignRun).where(CampaignRun.campaign_id == campaign_id)
                                   .order_by(CampaignRun.run_date.desc()).limit(50)))


def _detail(campaign: Campaign, *, status: int = 200, owner_errors: dict | None = None, **values):
    """The campaign's page: its owner (and whether they may keep it) and, for a keeper of a campaign that is not
    built-in, who it may be handed over to."""
    owner = db.session.get(User, campaign.owner_user_id) if campaign.owner_user_id is not None else None
    handing_over = values["may_keep"] and campaign.system_key is None
    return render_template("campaigns/detail.html", campaign=campaign, owner=owner,
                           owner_may_keep=owners.owner_may_keep(campaign),
                           possible_owners=owners.possible_owners(campaign) if handing_over else [],
                           owner_errors=owner_errors or {}, moves=sorted(services.TRANSITIONS[campaign.status]),
                           template_kinds=template_kinds(campaign), **values), status


@bp.post("/campaigns/<int:campaign_id>/status")
@page_roles(*KEEPERS)
def status(campaign_id: int):
    campaign = get_visible_or_404(Campaign, campaign_id)
    try:
        services.set_status(campaign, CampaignStatus(request.form.get("status", "")))
    except ValueError:
        abort(400)
    except ValidationError as error:
        db.session.rollback()
        for message in _flat(error.messages).get("status", []):
            flash(message, "error")
        return redirect(url_for("campaigns_web.detail", campaign_id=campaign_id))
    db.session.commit()
    flash(_("The campaign is now: %(status)s.", status=_status_label(campaign.status)), "success")
    return redirect(url_for("campaigns_web.detail", campaign_id=campaign_id))


@bp.post("/campaigns/<int:campaign_id>/owner")
@page_roles(*KEEPERS)
def owner(campaign_id: int):
    """Hand the campaign over (the form of its page); a refused choice comes back on the page with why (422)."""
    campaign = get_visible_or_404(Campaign, campaign_id)
    try:
        data = load_form(OwnerSchema())
        changed = owners.hand_over(campaign, data["owner_user_id"], version=data["version"])
        db.session.commit()
    except ValidationError as error:
        db.session.rollback()
        errors = _flat(error.messages)
        campaign = get_visible_or_404(Campaign, campaign_id)
        previews = [services.preview(campaign, language, g.user) for language in LANGUAGES]
        return _detail(campaign, status=422, owner_errors=errors, runs=_runs_of(campaign_id), previews=previews,
                       may_keep=True)
    except StaleDataError:
        raise VersionConflict() from None
    if changed:
        new_owner = db.session.get(User, campaign.owner_user_id)
        flash(_("Campaign handed over to %(name)s: it now runs in their scope.", name=new_owner.display_name),
              "success")
    else:
        flash(_("Nothing changed."), "success")
    return redirect(url_for("campaigns_web.detail", campaign_id=campaign_id))


@bp.post("/campaigns/<int:campaign_id>/run")
@page_roles(*KEEPERS)
def run(campaign_id: int):
    """Run the campaign now (its run for today: once a day, whoever asks)."""
    campaign = get_visible_or_404(Campaign, campaign_id)
    try:
        done = run_now(campaign)
    except CampaignNotRunnable as refused:
        db.session.rollback()
        flash(str(refused), "error")
        return redirect(url_for("campaigns_web.detail", campaign_id=campaign_id))
    db.session.commit()
    flash(_("Run of %(day)s: %(members)s members.", day=done.run_date.isoformat(),
            members=done.counts.get("members", 0)), "success")
    return redirect(url_for("campaigns_web.run_members", run_id=done.id))


@bp.post("/campaigns/<int:campaign_id>/delete")
@page_roles(*KEEPERS)
def delete(campaign_id: int):
    services.delete_campaign(get_visible_or_404(Campaign, campaign_id))
    db.session.commit()
    flash(_("Campaign deleted."), "success")
    return redirect(url_for("campaigns_web.index"))


@bp.get("/campaigns/runs/<int:run_id>")
@page_roles(*KEEPERS)
def run_members(run_id: int):
    """A run's members, 25 a page, with their outcome, their message's or task's state and their response: four
    queries (the run, its campaign, the count, the page with its policyholders, messages and tasks)."""
    run_ = db.session.get(CampaignRun, run_id)
    if run_ is None:
        abort(404)
    campaign = get_visible_or_404(Campaign, run_.campaign_id)
    stmt = (select(CampaignMember, Outbox.status.label("message_status"), Activity.status.label("task_status"),
                   Activity.task_outcome, responded_at_of().label("responded_at"), response_of().label("response"))
            .outerjoin(Outbox, Outbox.id == CampaignMember.outbox_id)
            .outerjoin(Activity, Activity.id == CampaignMember.activity_id)
            .where(CampaignMember.run_id == run_.id)
            .options(joinedload(CampaignMember.policyholder))
            .order_by(CampaignMember.policyholder_id))
    outcome = request.args.get("outcome")
    if outcome in {member.value for member in MemberOutcome}:
        stmt = stmt.where(CampaignMember.outcome == outcome)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    page_number = max(1, min(request.args.get("page", 1, type=int) or 1, 100_000))
    rows = db.session.execute(stmt.limit(PER_PAGE).offset((page_number - 1) * PER_PAGE)).all()
    return render_template("campaigns/run.html", campaign=campaign, run=run_, rows=rows, total=total,
                           page_number=page_number, per_page=PER_PAGE, outcome=outcome, outcome_labels=OUTCOME_LABELS)


# -- the editor --------------------------------------------------------------------------------------------------

def _editor(campaign: Campaign | None, values, errors: dict, *, status: int = 200, previews=()):
    segments = db.session.execute(scoped_select(Segment, g.user, Segment.id, Segment.name)
                                  .order_by(Segment.name)).all()
    return render_template("campaigns/editor.html", campaign=campaign, values=values, errors=errors,
                           segments=segments, languages=LANGUAGES, previews=previews,
                           has_run=campaign is not None and services.has_run(campaign)), status


def _previews(data: dict, campaign: Campaign | None = None) -> list[dict]:
    """The typed messages worded for the first member of the chosen segment (nothing is saved)."""
    segment_id = data.get("segment_id", campaign.segment_id if campaign is not None else None)
    return services.preview_messages(data.get("messages", []), segment_id, g.user)


def _read_form(schema, *, clearing: bool = False) -> dict:
    """The campaign's fields through the API's schema, and its messages (one per language whose text is given)."""
    errors, data = {}, {}
    try:
        data = load_form(schema, clearing=clearing)
    except ValidationError as error:
        errors.update(error.messages)
    messages, message_schema = [], CampaignMessageSchema()
    for language in LANGUAGES:
        subject = request.form.get(f"subject_{language}", "").strip()
        body = request.form.get(f"body_{language}", "").strip()
        if not body and not subject:
            continue
        try:
            messages.append(message_schema.load({"language": language, "subject": subject or None, "body": body}))
        except ValidationError as error:
            for name, texts in error.messages.items():
                errors[f"{name}_{language}"] = texts
    if errors:
        raise ValidationError(errors)
    return {**data, "messages": messages}


def _values_of(campaign: Campaign) -> MultiDict:
    """A kept campaign as the form shows it."""
    values = MultiDict({"version": str(campaign.version)})
    for name in FIELDS:
        value = getattr(campaign, name)
        values[name] = "" if value is None else str(getattr(value, "value", value))
    for message in campaign.messages:
        values[f"subject_{message.language}"] = message.subject or ""
        values[f"body_{message.language}"] = message.body
    return values


def _flat(messages) -> dict[str, list[str]]:
    def flat(value) -> list[str]:
        if isinstance(value, dict):
            return [text for inner in value.values() for text in flat(inner)]
        return [str(text) for text in value] if isinstance(value, list) else [str(value)]
    return {name: flat(value) for name, value in messages.items()} if isinstance(messages, dict) else {
        "_schema": flat(messages)}


def _status_label(status: CampaignStatus) -> str:
    from insurecrm.labels import label

    return label(status, "campaign_status")


@bp.app_template_global()
def stopped_campaign_url(task) -> str | None:
    """The page of the campaign a task *Campaign stopped* is about (the Tasks page links it), else ``None``."""
    campaign_id = owners.campaign_of_task(task.source_key)
    return None if campaign_id is None else url_for("campaigns_web.detail", campaign_id=campaign_id)


@bp.app_template_filter("campaign_name")
def campaign_name(campaign: Campaign) -> str:
    """A campaign's name for the reader (a built-in one's in the reader's language, until an admin renames it)."""
    return display_name(campaign)
