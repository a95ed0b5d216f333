"""The audit log for admins (``/admin/audit``): who changed what, when, from which value to which.

Newest first, 50 to a page, filtered by the kind of record, its id, the actor, the action and a range of dates (in
the insurer's time zone). Two queries whatever the size of the log: the count and the page. Each entry links to
its record's page where there is one; values are shown as the log stores them (secrets are ``***`` there already),
long ones shortened. The page hangs on the admin blueprint (``admin.audit``), beside the other admin sections.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import marshmallow as ma
from flask import render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select

from insurecrm import audit, clock
from insurecrm.actor import actor_display
from insurecrm.admin_views import admin_only, bp
from insurecrm.api import ListArgs
from insurecrm.errors import flatten_messages
from insurecrm.models import AuditLog
from insurecrm.web import paginate_page

PER_PAGE = 50
#: a value longer than this is shortened on the page (the log keeps it whole)
SHOWN_LENGTH = 80

#: every kind of record the log holds: the audited tables, and what services record themselves
ENTITY_TYPES = {
    "policyholders": _l("Policyholder"), "policyholder_relationships": _l("Household relationship"),
    "policies": _l("Policy"), "payments": _l("Payment"), "claims": _l("Claim"),
    "service_requests": _l("Service request"), "renewal_cases": _l("Renewal case"),
    "renewal_discount_approvals": _l("Renewal discount approval"), "products": _l("Product"),
    "pipeline_stages": _l("Pipeline stage"), "org_units": _l("Organisation unit"), "agents": _l("Agent"),
    "bank_partners": _l("Bank partner"), "bank_branches": _l("Bank branch"), "referrers": _l("Referrer"),
    "referrals": _l("Referral"), "activities": _l("Task or activity"),
    "users": _l("User"), "message_templates": _l("Message template"),
    "outbox": _l("Outbox message"), "demo_book": _l("Demo book"), "loyalty_weights": _l("Loyalty weights"),
    "opportunities": _l("Opportunity"), "opportunity_loss_reasons": _l("Loss reason"),
    "rate_rows": _l("Rate table row"), "rate_table_settings": _l("Flat premium of a product"),
    "frequency_loadings": _l("Loading of a premium frequency"), "quotes": _l("Quote"),
    "agent_targets": _l("Agent target"), "segments": _l("Segment"), "campaigns": _l("Campaign"),
    "campaign_messages": _l("Campaign message"), "holidays": _l("Holiday"),
}
#: the labels of :data:`insurecrm.audit.ACTIONS`
ACTIONS = {"create": _l("Created"), "update": _l("Changed"), "delete": _l("Deleted"),
           "reveal": _l("ID number revealed"), "resend": _l("Sent again"), "mark_sent": _l("Marked as sent"),
           "merge": _l("Merged"), "unmerge": _l("Merge undone"), "not_duplicate": _l("Not a duplicate")}
#: the page of each kind of record that has one: (endpoint, name of its id argument)
RECORD_PAGES = {
    "policyholders": ("policyholders_web.detail", "policyholder_id"),
    "policies": ("policies_web.detail", "policy_id"),
    "service_requests": ("service_web.detail", "request_id"),
    "message_templates": ("ops.template_form", "id"),
    "opportunities": ("pipeline_web.detail", "opportunity_id"),
    "quotes": ("quotes_web.detail", "quote_id"),
    "segments": ("segments_web.members", "segment_id"),
    "campaigns": ("campaigns_web.detail", "campaign_id"),
    **{name: (f"admin.{name}_edit", "record_id")
       for name in ("users", "org_units", "agents", "products", "bank_partners", "bank_branches", "referrers")},
}


class AuditPageArgs(ListArgs):
    entity_type = ma.fields.String(validate=ma.validate.OneOf(list(ENTITY_TYPES)))
    entity_id = ma.fields.Integer(validate=ma.validate.Range(min=1, max=2**31 - 1))
    actor = ma.fields.String(validate=ma.validate.Length(max=120),
                             metadata={"description": "A username, or a system actor's label such as cli:demo."})
    action = ma.fields.String(validate=ma.validate.OneOf(audit.ACTIONS))
    date_from = ma.fields.Date()
    date_to = ma.fields.Date()

    @ma.validates_schema
    def _ordered_dates(self, data: dict, **_kwargs) -> None:
        if "date_from" in data and "date_to" in data and data["date_to"] < data["date_from"]:
            raise ma.ValidationError(_("The end date must not be before the start date."), "date_to")


@bp.get("/audit")
@admin_only
def audit():
    """The audit log, newest first, filtered; a filter that cannot be read is shown again with its message (422)."""
    try:
        filters = AuditPageArgs().load({key: value for key, value in request.args.items() if value.strip()})
    except ma.ValidationError as exc:
        return show(None, dict(request.args), flatten_messages(exc.normalized_messages()), 422)
    page = paginate_page(filtered(filters).order_by(AuditLog.occurred_at.desc(), AuditLog.id.desc()), PER_PAGE)
    return show(page, filters)


def filtered(filters: dict[str, Any]) -> Select:
    """The entries matching ``filters``; dates are whole days in the insurer's time zone, both included."""
    stmt = select(AuditLog)
    for key, column in (("entity_type", AuditLog.entity_type), ("entity_id", AuditLog.entity_id),
                        ("actor", AuditLog.actor_label), ("action", AuditLog.action)):
        if key in filters:
            stmt = stmt.where(column == filters[key])
    if "date_from" in filters:
        stmt = stmt.where(AuditLog.occurred_at >= _start_of(filters["date_from"]))
    if "date_to" in filters:
        stmt = stmt.where(AuditLog.occurred_at < _start_of(filters["date_to"] + timedelta(days=1)))
    return stmt


def _start_of(day) -> datetime:
    return datetime.combine(day, time(), tzinfo=clock.zone())


def show(page, filters: dict, errors: dict | None = None, status: int = 200):
    return render_template("admin/audit.html", page=page, filters=filters, errors=errors or {},
                           entity_types=ENTITY_TYPES, actions=ACTIONS, record_pages=RECORD_PAGES,
                           actor_display=actor_display, shown=shown), status


def shown(value: Any) -> str:
    """A value of the log as the page shows it: "—" for none, a list joined, anything long shortened."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    text = ", ".join(str(item) for item in value) if isinstance(value, list) else str(value)
    return text if len(text) <= SHOWN_LENGTH else text[:SHOWN_LENGTH - 1] + "…"
