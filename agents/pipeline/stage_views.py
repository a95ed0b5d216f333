"""The stage settings page for admins (``/admin/pipeline-stages``): the default pipeline and each product line's, in
order; a stage renamed, re-weighted, given a residence limit, moved up or down, deactivated; a stage added to a
pipeline. Forms are read with the API's schemas and saved by :mod:`agents.pipeline.stages` (``create_stage``,
``update_stage``), so the page refuses what the API refuses, with the messages next to their fields (422).

A stage change never rewrites history: the stage change rows of the opportunities stay as they are, and every
opportunity keeps the probability it was given when it entered its stage (closed ones keep theirs for good).
"""

from __future__ import annotations

import marshmallow as ma
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import case, select

from agents.models import PipelineStage
from agents.pipeline.stages import create_stage, update_stage
from agents.schemas import PipelineStageSchema, PipelineStageUpdateSchema
from insurecrm.db import db
from insurecrm.errors import flatten_messages
from insurecrm.labels import label
from insurecrm.models import Role
from insurecrm.scope import get_visible_or_404, scoped_select
from insurecrm.web import load_form, page_roles
from policies.models import ProductLine

bp = Blueprint("pipeline_stages_web", __name__, url_prefix="/admin", template_folder="../templates")
WEB_BLUEPRINTS = [bp]
#: the fields of the "add a stage" form (a message about anything else is shown above the form)
NEW_FIELDS = ("code", "name", "name_zh", "product_line", "position", "probability", "max_days", "is_won", "is_lost",
              "active")


def pipelines() -> list[tuple[str | None, list[PipelineStage]]]:
    """Every pipeline with its stages in order: the default one first, then each product line's (one query)."""
    stages = db.session.scalars(scoped_select(PipelineStage).order_by(
        case((PipelineStage.product_line.is_(None), 0), else_=1), PipelineStage.product_line,
        PipelineStage.position, PipelineStage.id)).all()
    grouped: dict[str | None, list[PipelineStage]] = {None: []}
    for stage in stages:
        grouped.setdefault(stage.product_line, []).append(stage)
    return list(grouped.items())


@bp.route("/pipeline-stages", methods=["GET", "POST"])
@page_roles(Role.ADMIN)
def stages():
    """The pipelines and their stages; on POST, a new stage (the form again with its messages when refused)."""
    if request.method == "POST":
        try:
            stage = create_stage(load_form(PipelineStageSchema()))
            db.session.commit()
        except ma.ValidationError as exc:
            db.session.rollback()
            return _list_page(dict(request.form), flatten_messages(exc.normalized_messages())), 422
        flash(_("Stage %(name)s added.", name=stage.name), "success")
        return redirect(url_for(".stages"))
    return _list_page({"active": True, "probability": "", "position": ""}, {})


@bp.route("/pipeline-stages/<int:record_id>", methods=["GET", "POST"])
@page_roles(Role.ADMIN)
def edit(record_id: int):
    """One stage's settings; on POST, the changes (a won stage keeps 100%, a lost one 0%)."""
    stage = get_visible_or_404(PipelineStage, record_id)
    if request.method == "POST":
        before = {key: getattr(stage, key) for key in PipelineStageUpdateSchema().load_fields}
        try:
            update_stage(stage, load_form(PipelineStageUpdateSchema(), clearing=True))
            changed = any(getattr(stage, key) != value for key, value in before.items())
            db.session.commit()
        except ma.ValidationError as exc:
            db.session.rollback()
            return _edit_page(stage, dict(request.form), flatten_messages(exc.normalized_messages())), 422
        flash(_("Stage %(name)s saved.", name=stage.name) if changed else _("No change: these are the settings in "
                                                                            "force."), "success" if changed else "info")
        return redirect(url_for(".stages"))
    return _edit_page(stage, PipelineStageSchema().dump(stage), {})


@bp.post("/pipeline-stages/<int:record_id>/move")
@page_roles(Role.ADMIN)
def move(record_id: int):
    """Swap a stage with its neighbour above (``direction=up``) or below (``down``) in its pipeline."""
    stage = get_visible_or_404(PipelineStage, record_id)
    if request.form.get("direction") not in ("up", "down"):
        abort(422, description=_("Move a stage up or down."))
    up = request.form["direction"] == "up"
    same_line = (PipelineStage.product_line.is_(None) if stage.product_line is None
                 else PipelineStage.product_line == stage.product_line)
    order = (PipelineStage.position.desc(), PipelineStage.id.desc()) if up else (PipelineStage.position,
                                                                                  PipelineStage.id)
    beyond = ((PipelineStage.position < stage.position) if up else (PipelineStage.position > stage.position))
    neighbour = db.session.scalar(select(PipelineStage).where(same_line, beyond).order_by(*order).limit(1))
    if neighbour is not None:
        mine, theirs = stage.position, neighbour.position
        update_stage(stage, {"position": theirs})
        update_stage(neighbour, {"position": mine})
        db.session.commit()
    return redirect(url_for(".stages"))


def _list_page(values: dict, errors: dict):
    return render_template("pipeline/stages.html", pipelines=pipelines(), values=values, errors=errors,
                           other_errors={key: messages for key, messages in errors.items() if key not in NEW_FIELDS},
                           line_choices=_line_choices(), stage=None)


def _edit_page(stage: PipelineStage, values: dict, errors: dict):
    fields = PipelineStageUpdateSchema().load_fields
    return render_template("pipeline/stages.html", pipelines=None, values=values, errors=errors,
                           other_errors={key: messages for key, messages in errors.items() if key not in fields},
                           line_choices=_line_choices(), stage=stage)


def _line_choices() -> list[tuple[str, str]]:
    return [(line.value, label(line.value, "product_line")) for line in ProductLine]
