"""The merge API: merge two policyholders, undo a merge (admins)."""

from __future__ import annotations

from flask import abort
from flask.views import MethodView
from flask_babel import gettext as _
from marshmallow import ValidationError

import policyholders.permissions  # noqa: F401 - registers the scope rules
from insurecrm.api import api_blueprint, current_user
from insurecrm.auth import require_roles
from insurecrm.db import db
from insurecrm.models import Role
from insurecrm.scope import get_visible_or_404
from policyholders.merging import services
from policyholders.merging.models import PolicyholderMerge
from policyholders.merging.schemas import MergeResultSchema, MergeSchema
from policyholders.models import Policyholder

blp = api_blueprint("policyholder_merges_api", __name__,
                    description="Merging two records of one policyholder, and undoing a merge.")
API_BLUEPRINTS = (blp,)
#: who may merge: managers (records of their scope) and admins; agents may not
MERGERS = (Role.ADMIN, Role.BRANCH_MANAGER)


@blp.route("/policyholders/<int:policyholder_id>/merge")
class Merge(MethodView):
    @require_roles(*MERGERS)
    @blp.arguments(MergeSchema)
    @blp.response(201, MergeResultSchema)
    def post(self, data, policyholder_id):
        """Merge `merged_id` into this policyholder: its policies, contacts, requests, tasks, relationships, tags
        and every other row move here, the fields named in `take` take its values, and it is deleted; its old id
        then answers 302 to this record. Both records must be in your scope (404 otherwise)."""
        if data["merged_id"] == policyholder_id:
            raise ValidationError({"merged_id": [_("A record cannot be merged with itself.")]})
        survivor = get_visible_or_404(Policyholder, policyholder_id)
        merged = get_visible_or_404(Policyholder, data["merged_id"])
        record = services.merge(survivor, merged, take=set(data["take"]), actor=current_user())
        db.session.commit()
        return record


@blp.route("/policyholder-merges/<int:merge_id>/undo")
class Undo(MethodView):
    @require_roles(Role.ADMIN)
    @blp.response(200, MergeResultSchema)
    def post(self, merge_id):
        """Undo a merge (admins): the merged record returns with its id, every moved row goes back to it, the
        surviving record gets back the values it took. 409 with the reason when something since prevents it."""
        record = db.session.get(PolicyholderMerge, merge_id) or abort(404, description=f"Merge {merge_id} not found.")
        services.undo(record, actor=current_user())
        db.session.commit()
        return record
