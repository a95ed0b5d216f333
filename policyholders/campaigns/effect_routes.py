"""The campaign effectiveness API: ``GET /api/v1/campaigns/<id>/effect``, the figures of the campaign page
(:func:`policyholders.campaigns.effect.effect_of`) — the campaign's and each run's — with the uplift over the
control group and its 95% interval. A campaign out of the user's scope is a 404, as if it did not exist."""

from __future__ import annotations

from decimal import Decimal

from flask.views import MethodView
from marshmallow import Schema, fields

import policyholders.permissions  # noqa: F401 - registers the campaign scope rule
from insurecrm.api import DecimalString, api_blueprint, current_user
from insurecrm.auth import require_roles
from insurecrm.scope import get_visible_or_404
from policyholders.campaigns.effect import effect_of
from policyholders.campaigns.effect_report import figures
from policyholders.campaigns.effect_views import EFFECT_ROLES
from policyholders.campaigns.models import Campaign

blp = api_blueprint("campaign_effect_api", __name__,
                    description="Campaign effectiveness: reached, responded, converted, premium won, cost, and the "
                                "uplift over the control group.")
API_BLUEPRINTS = (blp,)
MONEY = {"places": 2, "limit": Decimal("1e12"), "dump_only": True}


class EffectSchema(Schema):
    """The figures of a campaign or a run (docs/metrics.md, "Campaign effectiveness"); counts are member rows."""

    members = fields.Integer(metadata={"description": "Member rows: every policyholder the run took."})
    control = fields.Integer(metadata={"description": "Held out: the control group, sent nothing."})
    reached = fields.Integer(metadata={"description": "Sent a message or given to an agent as a task."})
    delivered = fields.Integer(metadata={"description": "Messages the gateway sent, and tasks done."})
    responded = fields.Integer(metadata={"description": "Answered by SMS or email, or reached on the task."})
    converted = fields.Integer(metadata={"description": "Treated members (not held out) with a conversion "
                                                        "credited to them."})
    treated_rate = fields.Float(allow_none=True, metadata={"description": "converted / (members - control)."})
    control_converted = fields.Integer(metadata={"description": "Control members with a conversion credited."})
    control_rate = fields.Float(allow_none=True, metadata={"description": "control_converted / control."})
    uplift = fields.Float(allow_none=True, metadata={"description": "treated_rate - control_rate; null without a "
                                                                    "control group."})
    uplift_low = fields.Float(allow_none=True, metadata={"description": "The uplift's 95% interval, low end "
                                                                        "(Newcombe's hybrid score)."})
    uplift_high = fields.Float(allow_none=True, metadata={"description": "The uplift's 95% interval, high end."})
    premium_won = DecimalString(**MONEY, metadata={"description": "Annualised premium of the new-business "
                                                                  "policies credited to treated members."})
    cost = DecimalString(**MONEY, metadata={"description": "The runs' cost: messages sent × cost per message."})
    cost_per_conversion = DecimalString(**MONEY, allow_none=True, metadata={"description": "cost / converted."})


class RunEffectSchema(EffectSchema):
    run_id = fields.Integer()
    run_date = fields.Date()


class CampaignEffectSchema(Schema):
    campaign_id = fields.Integer()
    name = fields.String()
    conversion_window_days = fields.Integer()
    control_percent = fields.Integer()
    effect = fields.Nested(EffectSchema)
    runs = fields.List(fields.Nested(RunEffectSchema), metadata={"description": "By date."})


@blp.route("/campaigns/<int:campaign_id>/effect")
class CampaignEffect(MethodView):
    @require_roles(*EFFECT_ROLES)
    @blp.response(200, CampaignEffectSchema)
    def get(self, campaign_id):
        """A campaign's effectiveness, and each of its runs'."""
        campaign = get_visible_or_404(Campaign, campaign_id)
        (found,) = effect_of(current_user(), campaign.id)
        return {"campaign_id": campaign.id, "name": campaign.name,
                "conversion_window_days": campaign.conversion_window_days,
                "control_percent": campaign.control_percent, "effect": figures(found.effect),
                "runs": [{"run_id": run.run_id, "run_date": run.run_date, **figures(run.effect)}
                         for run in found.runs]}
