"""The main navigation, by role. Pages register here; an entry shows only when its page exists."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l

from insurecrm.models import Role

R = Role


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object  # a lazy translated string
    roles: frozenset[Role]


NAVIGATION: tuple[NavItem, ...] = (
    NavItem("workspace.my_day", _l("My day"), frozenset({R.AGENT, R.BANCASSURANCE_SPECIALIST})),
    NavItem("dashboard.index", _l("Dashboard"), frozenset({R.BRANCH_MANAGER, R.ADMIN, R.ACTUARY})),
    NavItem("reports_web.index", _l("Reports"), frozenset({R.AGENT, R.BRANCH_MANAGER, R.ADMIN, R.ACTUARY})),
    NavItem("pipeline_web.opportunities", _l("Opportunities"),
            frozenset({R.AGENT, R.BANCASSURANCE_SPECIALIST, R.BRANCH_MANAGER, R.ADMIN})),
    NavItem("agenda_web.agenda", _l("Agenda"), frozenset({R.AGENT, R.BANCASSURANCE_SPECIALIST, R.BRANCH_MANAGER})),
    NavItem("scorecards_web.mine", _l("Scorecards"),
            frozenset({R.AGENT, R.BANCASSURANCE_SPECIALIST, R.BRANCH_MANAGER})),
    NavItem("tasks_web.index", _l("Tasks"), frozenset({R.AGENT, R.BANCASSURANCE_SPECIALIST, R.BRANCH_MANAGER})),
    NavItem("renewals_web.worklist", _l("Renewals"),
            frozenset({R.AGENT, R.BANCASSURANCE_SPECIALIST, R.BRANCH_MANAGER, R.ADMIN})),
    NavItem("renewals_web.board", _l("Renewal board"), frozenset({R.BRANCH_MANAGER, R.ADMIN})),
    NavItem("policyholders_web.index", _l("Policyholders"),
            frozenset({R.AGENT, R.BANCASSURANCE_SPECIALIST, R.BRANCH_MANAGER, R.ADMIN, R.ACTUARY})),
    NavItem("segments_web.index", _l("Segments"),
            frozenset({R.AGENT, R.BANCASSURANCE_SPECIALIST, R.BRANCH_MANAGER, R.ADMIN})),
    NavItem("campaigns_web.index", _l("Campaigns"), frozenset({R.BRANCH_MANAGER, R.ADMIN, R.ACTUARY})),
    NavItem("imports_web.index", _l("Imports"), frozenset({R.BRANCH_MANAGER, R.ADMIN})),
    NavItem("merging_web.queue", _l("Duplicates"), frozenset({R.BRANCH_MANAGER, R.ADMIN})),
    NavItem("messaging_web.unmatched", _l("Unmatched messages"), frozenset({R.BRANCH_MANAGER, R.ADMIN})),
    NavItem("service_web.index", _l("Service & complaints"),
            frozenset({R.AGENT, R.BANCASSURANCE_SPECIALIST, R.BRANCH_MANAGER, R.ADMIN})),
    NavItem("agents_web.referrals", _l("Referrals"), frozenset({R.BANK_REFERRER, R.BANCASSURANCE_SPECIALIST})),
    NavItem("admin.index", _l("Admin"), frozenset({R.ADMIN})),
    NavItem("ops.job_runs", _l("Operations"), frozenset({R.ADMIN})),
)


def items_for(role: Role) -> list[tuple[str, object, str]]:
    """(endpoint, label, url) of the entries this role sees, in order."""
    views = current_app.view_functions
    return [(item.endpoint, item.label, url_for(item.endpoint)) for item in NAVIGATION
            if role in item.roles and item.endpoint in views]


def home_url(role: Role) -> str | None:
    """The first page of the role's navigation: where the role lands after login."""
    entries = items_for(role)
    return entries[0][2] if entries else None


ROLE_LABELS = {
    R.ADMIN: _l("Administrator"),
    R.BRANCH_MANAGER: _l("Branch manager"),
    R.AGENT: _l("Agent"),
    R.BANCASSURANCE_SPECIALIST: _l("Bancassurance specialist"),
    R.BANK_REFERRER: _l("Bank referrer"),
    R.ACTUARY: _l("Actuary"),
}


def role_label(role: Role) -> str:
    return str(ROLE_LABELS[role])


def init_app(app) -> None:
    app.jinja_env.globals.update(nav_items=items_for, role_label=role_label)
