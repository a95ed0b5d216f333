"""The admin page of the loss reasons (``/admin/loss-reasons``): the list an opportunity is lost with, in order;
add a reason, rename or reorder one, withdraw (deactivate) or restore one. A reason is never deleted: the lost
opportunities keep naming it. Changes are audited (``OpportunityLossReason`` is an audited model)."""

from __future__ import annotations

import marshmallow as ma
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from agents.models import Opportunity, OpportunityLossReason
from agents.pipeline import opportunities as services
from agents.pipeline.opportunity_schemas import LossReasonSchema, LossReasonUpdateSchema
from insurecrm.db import db
from insurecrm.errors import flatten_messages
from insurecrm.models import Role
from insurecrm.web import id_or_404, load_form, page_roles

bp = Blueprint("loss_reasons_admin", __name__, url_prefix="/admin", template_folder="../templates")
WEB_BLUEPRINTS = [bp]


@bp.route("/loss-reasons", methods=["GET", "POST"])
@page_roles(Role.ADMIN)
def loss_reasons():
    """The reasons with how many lost opportunities name each; on POST, a new reason (no ``reason_id``) or the
    change of one (``reason_id`` with its new name, position, or ``active``)."""
    if request.method == "GET":
        return _page({}, None)
    reason_id = id_or_404("reason_id", request.form)
    try:
        if reason_id is None:
            reason = services.create_loss_reason(load_form(LossReasonSchema()))
            message = _("Reason %(name)s added.", name=reason.name)
        else:
            reason = db.session.get(OpportunityLossReason, reason_id) or abort(404)
            changed = services.update_loss_reason(reason, load_form(LossReasonUpdateSchema(), clearing=True))
            message = _("Reason %(name)s saved.", name=reason.name) if changed else _("No change.")
    except ma.ValidationError as exc:
        db.session.rollback()
        return _page(flatten_messages(exc.normalized_messages()), reason_id, status=422)
    db.session.commit()
    flash(message, "success")
    return redirect(url_for(".loss_reasons"))


def _page(errors: dict, failed: int | None, status: int = 200):
    used = dict(db.session.execute(select(Opportunity.loss_reason_id, func.count())
                                   .where(Opportunity.loss_reason_id.is_not(None))
                                   .group_by(Opportunity.loss_reason_id)).all())
    reasons = db.session.scalars(select(OpportunityLossReason).order_by(
        OpportunityLossReason.active.desc(), OpportunityLossReason.position, OpportunityLossReason.id)).all()
    return render_template("pipeline/loss_reasons.html", reasons=reasons, used=used, errors=errors, failed=failed,
                           form=request.form if errors else {}), status
