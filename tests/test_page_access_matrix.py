"""Page access as a matrix, like the API's: every page × every role × an own and a foreign record.

Uses the same two-sided world as tests/test_access_matrix.py. A page the app serves that is not stated here
fails the test, so no page can ship without its access rules.
"""

from __future__ import annotations

import re

import pytest

from insurecrm.models import Role
from tests.access.world import build_world
from tests.api_client import csrf_token
from tests.test_access_matrix import (
    ACT,
    AG,
    BOOK,
    FORBIDDEN,
    HIDDEN,
    IMPORTS,
    OK,
    A,
    M,
    R,
    S,
    row_counts,
    status_class,
)

ALL = tuple(Role)
ADMIN_ONLY = {A: (OK, OK)} | {role: (FORBIDDEN, FORBIDDEN) for role in ALL if role != A}
WRITER_BOOK = BOOK | {ACT: (FORBIDDEN, FORBIDDEN)}
ACTIVITY_PAGE = WRITER_BOOK | {S: (HIDDEN, HIDDEN)}
#: the merge page without the other record of the pair (?other=) has nothing to show: 404 for the roles that merge
SEGMENT_PAGE = WRITER_BOOK | {S: (HIDDEN, HIDDEN)}
MERGE_PAGE = {A: (HIDDEN, HIDDEN), M: (HIDDEN, HIDDEN)} | {role: (FORBIDDEN, FORBIDDEN) for role in (ACT, AG, S, R)}
#: campaigns: admins and actuaries all, managers their branch's; their keepers (no actuary) edit them and see members
CAMPAIGN_PAGE = {A: (OK, OK), ACT: (OK, OK), M: (OK, HIDDEN)} | {role: (FORBIDDEN, FORBIDDEN) for role in (AG, S, R)}
CAMPAIGN_KEEPERS = CAMPAIGN_PAGE | {ACT: (FORBIDDEN, FORBIDDEN)}

#: pages with a record in the path: (own, foreign) expected per role
RECORD_PAGES = {
    "/policyholders/<int:policyholder_id>": ("policyholder", BOOK),
    "/policyholders/<int:policyholder_id>/edit": ("policyholder", WRITER_BOOK),
    # the pair's pages, with ?other=: tests/policyholders/test_merge_pages.py
    "/policyholders/<int:policyholder_id>/merge": ("policyholder", MERGE_PAGE),
    "/policies/<int:policy_id>": ("policy", BOOK),
    "/claims/<int:claim_id>": ("claim", BOOK),
    "/service-requests/<int:request_id>": ("service_request", WRITER_BOOK),
    # quotes: with their opportunity or policyholder; actuaries and referrers have no business with them
    "/quotes/<int:quote_id>": ("quote", WRITER_BOOK),
    "/quotes/<int:quote_id>.pdf": ("quote", WRITER_BOOK),
    # a product's rate table and its forms (admins)
    "/admin/rate-tables/<int:product_id>": ("product", ADMIN_ONLY),
    "/admin/rate-tables/<int:product_id>/rows": ("product", ADMIN_ONLY),
    "/admin/rate-tables/<int:product_id>/rows/<int:row_id>": ("product", ADMIN_ONLY),
    "/admin/rate-tables/<int:product_id>/rows/<int:row_id>/delete": ("product", ADMIN_ONLY),
    "/admin/rate-tables/<int:product_id>/flat-premium": ("product", ADMIN_ONLY),
    "/admin/rate-tables/<int:product_id>/loadings": ("product", ADMIN_ONLY),
    "/opportunities/<int:opportunity_id>": ("opportunity", WRITER_BOOK),
    "/opportunities/<int:opportunity_id>/edit": ("opportunity", WRITER_BOOK),
    # an agent's scorecard with the targets form: managers their branch's agents, admins every agent
    "/scorecards/<int:agent_id>": ("agent", {A: (OK, OK), ACT: (FORBIDDEN, FORBIDDEN), M: (OK, HIDDEN),
                                             AG: (FORBIDDEN, FORBIDDEN), S: (FORBIDDEN, FORBIDDEN),
                                             R: (FORBIDDEN, FORBIDDEN)}),
    "/dashboard/agents/<int:agent_id>": ("agent", {A: (OK, OK), ACT: (OK, OK), M: (OK, HIDDEN),
                                                     AG: (FORBIDDEN, FORBIDDEN), S: (FORBIDDEN, FORBIDDEN),
                                                     R: (FORBIDDEN, FORBIDDEN)}),
    # the own activity is agent A1's (not the specialist's); admins read, actuaries and referrers have no agenda
    "/activities/<int:activity_id>": ("activity", ACTIVITY_PAGE),
    "/activities/<int:activity_id>.ics": ("activity", ACTIVITY_PAGE),
    "/activities/<int:activity_id>/edit": ("activity", ACTIVITY_PAGE | {A: (FORBIDDEN, FORBIDDEN)}),
    # an import's page and its report: admins every run, managers their own
    "/imports/<int:run_id>": ("import_run", IMPORTS),
    "/imports/<int:run_id>/report.csv": ("import_run", IMPORTS),
    "/imports/<int:run_id>/report.xlsx": ("import_run", IMPORTS),
    # a segment's members, builder and exports: as its API (the own one is agent A1's, not the specialist's)
    "/segments/<int:segment_id>": ("segment", SEGMENT_PAGE),
    "/segments/<int:segment_id>/edit": ("segment", SEGMENT_PAGE),
    "/segments/<int:segment_id>/export.csv": ("segment", SEGMENT_PAGE),
    "/segments/<int:segment_id>/export.xlsx": ("segment", SEGMENT_PAGE),
    "/campaigns/<int:campaign_id>": ("campaign", CAMPAIGN_PAGE),
    "/campaigns/<int:campaign_id>/edit": ("campaign", CAMPAIGN_KEEPERS),
    "/campaigns/<int:campaign_id>/effect": ("campaign", CAMPAIGN_PAGE),
    "/campaigns/<int:campaign_id>/effect.csv": ("campaign", CAMPAIGN_PAGE),
    "/campaigns/<int:campaign_id>/effect.pdf": ("campaign", CAMPAIGN_PAGE),
    "/campaigns/<int:campaign_id>/effect.xlsx": ("campaign", CAMPAIGN_PAGE),
    "/campaigns/runs/<int:run_id>": ("campaign_run", CAMPAIGN_KEEPERS),
}
ADMIN_RESOURCES = {"agents": "agent", "bank-branches": "bank_branch", "bank-partners": "bank_partner",
                   "org-units": "org_unit", "products": "product", "referrers": "referrer", "users": "user",
                   "pipeline-stages": "pipeline_stage"}
#: pages without a record: the roles that may open them (others 403)
LIST_PAGES = {
    "/my-day": {AG, S},
    "/policyholders": {A, ACT, M, AG, S},
    "/policyholders/export.csv": {A, ACT, M, AG, S},
    "/policyholders/new": {A, M, AG, S},
    "/policyholders/lookup": {A, M, AG, S},
    "/service-requests": {A, M, AG, S},
    "/referrals": {R, S},
    "/dashboard": {A, ACT, M},
    "/renewals": {A, M, AG, S},
    "/renewals/board": {A, M},
    "/renewals/board.csv": {A, M},
    "/policies/new": {A, M, AG, S},
    "/policies/new/frequencies": {A, M, AG, S},
    "/account": {A, ACT, M, AG, S, R},
    "/tasks": {M, AG, S},
    "/help": {A, ACT, M, AG, S},
    "/reports": {A, ACT, M, AG, S},
    "/admin/loyalty-weights": {A},
    "/scorecard": {A, M, AG, S},
    "/scorecards": {A, M},
    "/quotes/new": {A, M, AG, S},
    "/admin/rate-tables": {A},
    "/opportunities": {A, M, AG, S},
    "/opportunities/board": {A, M, AG, S},
    "/opportunities/new": {A, M, AG, S},
    "/opportunities/export.csv": {A, M, AG, S},
    "/opportunities/export.xlsx": {A, M, AG, S},
    "/admin/loss-reasons": {A},
    "/agenda": {M, AG, S},
    "/agenda/team": {A, M},
    "/agenda.ics": {M, AG, S},
    "/activities/new": {M, AG, S},
    "/admin/pipeline-stages": {A},
    # the holiday calendar (its forms: tests/campaigns/test_holidays.py)
    "/admin/holidays": {A},
    "/policyholders/duplicates": {A, M},
    "/policyholders/merges": {A},
    "/imports": {A, M},
    "/imports/template.csv": {A, M},
    "/imports/template.xlsx": {A, M},
    # inbound SMS and emails that reached no policyholder (tests/inbound/test_pages.py)
    "/inbound/unmatched": {A, M},
    "/segments": {A, M, AG, S},
    "/segments/new": {A, M, AG, S},
    "/segments/count": {A, M, AG, S},
    "/campaigns": {A, ACT, M},
    "/campaigns/new": {A, M},
    "/campaigns/effect": {A, ACT, M},
    "/campaigns/effect.csv": {A, ACT, M},
    "/campaigns/effect.pdf": {A, ACT, M},
    "/campaigns/effect.xlsx": {A, ACT, M},
}
#: each report's page and downloads: by the roles the catalogue names, in tests/reports/test_report_access.py
REPORT_PAGES = re.compile(r"/reports/<name>(\.\w+)?")
#: the unsubscribe page of a message's link: no login, its signed token is the right to use it (tests/inbound)
PUBLIC = {"/", "/login", "/logout", "/language", "/vendor/plotly.min.js", "/unsubscribe/<token>"}


def web_rules(app):
    for rule in app.url_map.iter_rules():
        if (not rule.rule.startswith(("/api/", "/static/")) and rule.rule not in PUBLIC
                and not REPORT_PAGES.fullmatch(rule.rule)):
            yield rule


def record_page(rule):
    if rule.rule in RECORD_PAGES:
        return RECORD_PAGES[rule.rule]
    match = re.fullmatch(r"/admin/([a-z-]+)/<int:record_id>(?:/\w+)?", rule.rule)
    if match:
        return ADMIN_RESOURCES[match.group(1)], ADMIN_ONLY
    return None


def list_roles(rule):
    if rule.rule in LIST_PAGES:
        return LIST_PAGES[rule.rule]
    if rule.rule.startswith("/admin"):
        return {A}
    return None


@pytest.fixture
def world(make, session):
    return build_world(make, session)


def test_every_page_has_stated_access_rules(app):
    unstated = [rule.rule for rule in web_rules(app)
                if "<" in rule.rule and "GET" in rule.methods and record_page(rule) is None
                or "<" not in rule.rule and "GET" in rule.methods and list_roles(rule) is None]
    assert not unstated, f"state the access rules of: {unstated}"


def test_record_pages_by_role_own_and_foreign(app, web, world):
    failures = []
    for rule in web_rules(app):
        if "GET" not in rule.methods or record_page(rule) is None:
            continue
        resource, expected = record_page(rule)
        for role, user in world.users.items():
            client = web(user)
            own, foreign = expected[role]
            for side, ids, want in (("own", world.own, own), ("foreign", world.foreign, foreign)):
                url = re.sub(r"<int:\w+>", str(ids[resource]), rule.rule)
                got = status_class(client.get(url).status_code)
                if got != want:
                    failures.append(f"GET {url} ({side}) as {role.value}: expected {want}, got {got}")
    assert not failures, "\n".join(failures)


def test_list_pages_by_role_and_never_showing_foreign_records(app, web, world, session):
    from policyholders.models import Policyholder

    foreign_name = session.get(Policyholder, world.foreign["policyholder"]).name
    failures = []
    for rule in web_rules(app):
        roles = list_roles(rule)
        if "GET" not in rule.methods or "<" in rule.rule or roles is None:
            continue
        for role, user in world.users.items():
            response = web(user).get(rule.rule)
            # read streamed bodies (the CSV export) to the end; a binary download (XLSX) is not text
            text = response.get_data().decode("utf-8", "replace")
            want = OK if role in roles else FORBIDDEN
            if status_class(response.status_code) != want:
                failures.append(f"GET {rule.rule} as {role.value}: expected {want}, got {response.status_code}")
            elif want == OK and role in (M, AG, S, R) and foreign_name in text:
                failures.append(f"GET {rule.rule} as {role.value} shows the foreign policyholder")
    assert not failures, "\n".join(failures)


def test_posts_on_foreign_records_are_refused_and_change_nothing(app, web, world, session):
    before = row_counts(session)
    failures = []
    for rule in web_rules(app):
        if "POST" not in rule.methods or "<" not in rule.rule:
            continue
        resource = record_page(rule)[0] if record_page(rule) else _post_resource(rule)
        url = re.sub(r"<int:\w+>", str(world.foreign[resource]), rule.rule)
        for role, user in world.users.items():
            if role == A:
                continue
            client = web(user)
            response = client.post(url, data={"csrf_token": csrf_token(client)})
            if response.status_code not in (403, 404):
                failures.append(f"POST {url} as {role.value}: got {response.status_code}")
    assert not failures, "\n".join(failures)
    assert row_counts(session) == before


def _post_resource(rule) -> str:
    segment = rule.rule.split("/")[1]
    return {"policyholders": "policyholder", "policies": "policy", "service-requests": "service_request",
            "referrals": "referral", "renewals": "renewal_case", "renewal-approvals": "renewal_approval",
            "imports": "import_run", "segments": "segment", "campaigns": "campaign",
            "claims": "claim", "tasks": "task", "activities": "activity",
            "opportunities": "opportunity"}[segment]
