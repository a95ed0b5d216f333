"""The admin page of the loyalty score's weights (``/admin/loyalty-weights``): the weights in force, and a form to
change them. Read through :class:`reports.loyalty.WeightsSchema` and saved by :func:`reports.loyalty.save_weights`
(audited); a refused form comes back with the messages next to their fields (422), nothing written.
"""

from __future__ import annotations

import marshmallow as ma
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from insurecrm.db import db
from insurecrm.errors import flatten_messages
from insurecrm.models import Role
from insurecrm.web import load_form, page_roles
from reports.loyalty import CAPS, DEFAULT_WEIGHTS, PART_LABELS, PARTS, WeightsSchema, current_weights, save_weights

bp = Blueprint("loyalty_admin", __name__, url_prefix="/admin", template_folder="templates")
WEB_BLUEPRINTS = (bp,)


@bp.route("/loyalty-weights", methods=["GET", "POST"])
@page_roles(Role.ADMIN)
def weights():
    """The weights in force; on POST, the new weights (all six), or the form again with its messages."""
    if request.method == "POST":
        try:
            changed = save_weights(load_form(WeightsSchema()))
            db.session.commit()
        except ma.ValidationError as exc:
            db.session.rollback()
            errors = flatten_messages(exc.normalized_messages())
            return _page(dict(request.form), errors), 422
        flash(_("Loyalty weights saved.") if changed else _("No change: these are the weights in force."),
              "success" if changed else "info")
        return redirect(url_for(".weights"))
    return _page(current_weights(), {})


def _page(values: dict, errors: dict):
    return render_template("reports/loyalty_weights.html", values=values, errors=errors, report_name="loyalty",
                           other_errors={key: messages for key, messages in errors.items()
                                         if key not in DEFAULT_WEIGHTS},
                           parts=[(part, PART_LABELS[part], CAPS[part], DEFAULT_WEIGHTS[part])
                                  for part in (*PARTS, "complaints")])
