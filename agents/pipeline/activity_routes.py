"""The activities API (/api/v1/activities): list, get, plan (a series when recurring), reschedule, complete, cancel.

The rules are :mod:`agents.pipeline.activities`; who sees which activity is the activity scope rule. Agents,
specialists and branch managers plan and work activities; admins read them; actuaries and referrers get 403.
"""

from __future__ import annotations

from flask.views import MethodView

from agents.models import Activity
from agents.pipeline import activities as services
from agents.pipeline.activity_schemas import (
    ActivityArgs,
    ActivityCancelSchema,
    ActivityChanged,
    ActivityCompleteSchema,
    ActivityCreateSchema,
    ActivitySchema,
    ActivityUpdateSchema,
)
from insurecrm.api import api_blueprint, apply_sort, current_user, page_envelope, paginate, partial
from insurecrm.auth import require_roles
from insurecrm.db import db
from insurecrm.scope import scoped_select

activities_blp = api_blueprint("activities_api", __name__,
                               description="Sales activities (销售活动) and their recurring series: plan, "
                                           "reschedule, complete with an outcome and an evaluation, cancel.")
API_BLUEPRINTS = (activities_blp,)
SORTS = {"planned_start", "actual_start", "status", "kind", "id"}
FILTERS = ("agent_id", "status", "kind", "opportunity_id", "policyholder_id", "series_id")


@activities_blp.route("/activities")
class Activities(MethodView):
    @require_roles(*services.READERS)
    @activities_blp.arguments(ActivityArgs, location="query")
    @activities_blp.response(200, page_envelope(ActivitySchema))
    def get(self, args):
        """Activities and tasks you may see, by planned start; filter by the days they happen (date_from, date_to),
        agent, status, kind, opportunity, policyholder, series, and tasks or not."""
        stmt = scoped_select(Activity, current_user())
        for key in FILTERS:
            if key in args:
                stmt = stmt.where(getattr(Activity, key) == args[key])
        if args.get("date_from"):
            stmt = stmt.where(services.when() >= services.local_midnight(args["date_from"]))
        if args.get("date_to"):
            stmt = stmt.where(services.when() < services.local_midnight(args["date_to"] + services.ONE_DAY))
        if "tasks" in args:
            stmt = stmt.where(Activity.reason.is_not(None) if args["tasks"] else Activity.reason.is_(None))
        items, meta = paginate(apply_sort(stmt, Activity, args["sort"], SORTS, default="planned_start"), args)
        return {"items": items, "meta": meta}

    @require_roles(*services.PLANNERS)
    @activities_blp.arguments(ActivityCreateSchema)
    @activities_blp.response(201, ActivityChanged)
    def post(self, data):
        """Plan an activity — with a recurrence, its series of occurrences (at most 100) up to recurrence_until or
        recurrence_count — or log one done (status done, with its outcome)."""
        created = services.create_activity(data, actor=current_user())
        db.session.commit()
        return {"activity": created[0], "series": created[1:]}


@activities_blp.route("/activities/<int:activity_id>")
class ActivityResource(MethodView):
    @require_roles(*services.READERS)
    @activities_blp.response(200, ActivitySchema)
    def get(self, activity_id):
        """One activity or task you may see."""
        return services.activity_or_404(activity_id)

    @require_roles(*services.PLANNERS)
    @activities_blp.arguments(partial(ActivityUpdateSchema))
    @activities_blp.response(200, ActivityChanged)
    def patch(self, data, activity_id):
        """Reschedule or edit a planned activity; apply_to "following" moves the following occurrences of its
        series by the same time. Refused once done or cancelled, and for tasks."""
        activity = services.activity_or_404(activity_id)
        apply_to = data.pop("apply_to", "this")
        changed = services.reschedule_activity(activity, data, apply_to=apply_to, actor=current_user())
        db.session.commit()
        return {"activity": changed[0], "series": changed[1:]}


@activities_blp.route("/activities/<int:activity_id>/complete", methods=["POST"])
@require_roles(*services.PLANNERS)
@activities_blp.arguments(ActivityCompleteSchema)
@activities_blp.response(200, ActivitySchema)
def complete_activity(data, activity_id):
    """Record a planned activity as done: outcome, evaluation, actual start and end (default now), cost."""
    activity = services.activity_or_404(activity_id)
    services.complete_activity(activity, actor=current_user(), **data)
    db.session.commit()
    return activity


@activities_blp.route("/activities/<int:activity_id>/cancel", methods=["POST"])
@require_roles(*services.PLANNERS)
@activities_blp.arguments(ActivityCancelSchema)
@activities_blp.response(200, ActivityChanged)
def cancel_activity(data, activity_id):
    """Cancel a planned activity (apply_to "following": it and the following occurrences of its series)."""
    activity = services.activity_or_404(activity_id)
    cancelled = services.cancel_activity(activity, reason=data.get("reason"), apply_to=data["apply_to"],
                                         actor=current_user())
    db.session.commit()
    return {"activity": cancelled[0], "series": cancelled[1:]}
