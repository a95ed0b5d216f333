"""Access as a matrix: every API route × every role × an own and a foreign object.

The world (tests/access/world.py) has an "own" side, visible to the limited roles (agent, specialist,
branch manager, referrer for referrals), and a "foreign" side visible to none of them. For every route the
app serves under /api/v1, the expected answer per role comes from EXPECT below; a route whose resource is not
in EXPECT fails the test, so a new endpoint cannot ship without its access rules being stated here.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from insurecrm.models import Role
from insurecrm.registry import metadata
from tests.access.world import build_world

OK, HIDDEN, FORBIDDEN = "ok", "404", "403"
A, S, M, AG, R, ACT = (Role.ADMIN, Role.BANCASSURANCE_SPECIALIST, Role.BRANCH_MANAGER, Role.AGENT,
                       Role.BANK_REFERRER, Role.ACTUARY)

#: (own, foreign) expected for a GET, per role
BOOK = {A: (OK, OK), ACT: (OK, OK), M: (OK, HIDDEN), AG: (OK, HIDDEN), S: (OK, HIDDEN), R: (FORBIDDEN, FORBIDDEN)}
REFERENCE = {role: (OK, OK) for role in (A, ACT, M, AG, S)} | {R: (FORBIDDEN, FORBIDDEN)}
IMPORTS = {A: (OK, OK), M: (OK, HIDDEN)} | {role: (FORBIDDEN, FORBIDDEN) for role in (ACT, AG, S, R)}
EXPECT = {
    "policyholder": BOOK,
    "policy": BOOK,
    "claim": BOOK,
    "interaction": BOOK,
    "service_request": BOOK,
    # opportunities (and their influencers and competitors) are worked by the selling side; actuaries have no use
    "opportunity": BOOK | {ACT: (FORBIDDEN, FORBIDDEN)},
    # the admins' list of loss reasons: reference data of whoever works opportunities
    "loss_reason": {role: (OK, OK) for role in (A, M, AG, S)} | {role: (FORBIDDEN, FORBIDDEN) for role in (ACT, R)},
    # quotes: with their opportunity or policyholder (and their maker); actuaries have no use of them
    "quote": BOOK | {ACT: (FORBIDDEN, FORBIDDEN)},
    "renewal_case": BOOK,
    # the own activity is agent A1's, not the specialist's; actuaries have no use of activities (pages and API)
    "activity": BOOK | {S: (HIDDEN, HIDDEN), ACT: (FORBIDDEN, FORBIDDEN)},
    "product": REFERENCE | {R: (OK, OK)},
    "org_unit": REFERENCE,
    "bank_partner": REFERENCE,
    "bank_branch": REFERENCE,
    "pipeline_stage": REFERENCE,
    "agent": BOOK,
    "referrer": BOOK | {AG: (FORBIDDEN, FORBIDDEN), R: (OK, HIDDEN)},
    "referral": BOOK | {AG: (HIDDEN, HIDDEN), R: (OK, HIDDEN)},
    "user": {A: (OK, OK)} | {role: (FORBIDDEN, FORBIDDEN) for role in (ACT, M, AG, S, R)},
    "renewal_approval": BOOK,
    # tasks are worked by agents, specialists and managers; the own task is agent A1's, not the specialist's
    "task": {M: (OK, HIDDEN), AG: (OK, HIDDEN), S: (HIDDEN, HIDDEN)}
    | {role: (FORBIDDEN, FORBIDDEN) for role in (A, ACT, R)},
    # undoing a merge (the merge itself is a POST on its policyholder): admins only
    "policyholder_merge": {A: (OK, OK)} | {role: (FORBIDDEN, FORBIDDEN) for role in (ACT, M, AG, S, R)},
    # imports: admins see every run, managers their own (the foreign run is an admin's); others have no imports
    "import_run": IMPORTS,
    # segments: their owner, the manager above the owner's unit, admins; the own one is agent A1's (not the
    # specialist's); actuaries (no personal data) and referrers have none
    "segment": BOOK | {S: (HIDDEN, HIDDEN), ACT: (FORBIDDEN, FORBIDDEN)},
    # campaigns: admins and actuaries all, managers their branch's (the own one is made in B1); no agent has any
    "campaign": {A: (OK, OK), ACT: (OK, OK), M: (OK, HIDDEN)} | {role: (FORBIDDEN, FORBIDDEN) for role in (AG, S, R)},
}
SEGMENTS = {
    "policyholders": "policyholder", "policies": "policy", "claims": "claim", "interactions": "interaction",
    "service-requests": "service_request", "opportunities": "opportunity", "renewals": "renewal_case",
    "activities": "activity", "products": "product", "org-units": "org_unit", "bank-partners": "bank_partner",
    "bank-branches": "bank_branch", "pipeline-stages": "pipeline_stage", "agents": "agent",
    "referrers": "referrer", "referrals": "referral", "users": "user", "renewal-approvals": "renewal_approval",
    "tasks": "task", "loss-reasons": "loss_reason", "quotes": "quote", "policyholder-merges": "policyholder_merge",
    "imports": "import_run", "segments": "segment", "campaigns": "campaign",
}
#: second path parameters of nested routes → the world's record of that kind
NESTED_PARAMS = {"relationship_id": "relationship", "rel_id": "relationship", "payment_id": "payment",
                 "claim_id": "claim", "installment_id": "installment", "influencer_id": "influencer",
                 "competitor_id": "competitor", "run_id": "campaign_run"}
#: routes whose access differs from their resource's: what a campaign's keepers see of it (the message worded for a
#: member, the members of a run) is personal data, which the actuary, who reads campaigns, may not see
KEEPERS_ONLY = {A: (OK, OK), M: (OK, HIDDEN)} | {role: (FORBIDDEN, FORBIDDEN) for role in (ACT, AG, S, R)}
ROUTE_EXPECT = {"/api/v1/campaigns/<int:campaign_id>/preview": KEEPERS_ONLY,
                "/api/v1/campaigns/<int:campaign_id>/runs/<int:run_id>/members": KEEPERS_ONLY}
#: routes outside the per-object matrix (tested in their own modules)
UNSCOPED = {"/api/v1/auth/token", "/api/v1/audit", "/api/v1/openapi.json", "/api/v1/docs",
            "/api/v1/reports/book-summary",
            # the gateways' webhooks: signed with a shared secret, no user (tests/inbound/test_webhooks.py)
            "/api/v1/inbound/sms", "/api/v1/inbound/email"}


def api_rules(app):
    for rule in app.url_map.iter_rules():
        # the reports of the catalogue have a matrix of their own: tests/reports/test_report_access.py
        if rule.rule.startswith("/api/v1") and rule.rule not in UNSCOPED and not is_report(rule):
            yield rule


def is_report(rule) -> bool:
    from reports.catalogue import REPORTS

    return rule.rule.removeprefix("/api/v1/reports/") in REPORTS


def resource_of(rule) -> str:
    segment = rule.rule.removeprefix("/api/v1/").split("/")[0]
    assert segment in SEGMENTS, f"{rule.rule}: add its resource to SEGMENTS and EXPECT in this test"
    return SEGMENTS[segment]


def fill(rule, ids: dict[str, int]) -> str | None:
    """The URL of ``rule`` for the records in ``ids``; None when the world has no record for a parameter."""
    path = rule.rule
    params = re.findall(r"<(?:int:)?(\w+)>", path)
    for index, param in enumerate(params):
        key = resource_of(rule) if index == 0 else NESTED_PARAMS.get(param)
        if key is None or key not in ids:
            return None
        path = re.sub(rf"<(?:int:)?{param}>", str(ids[key]), path)
    return path


def status_class(code: int) -> str:
    return OK if code < 300 else str(code)


@pytest.fixture
def world(make, session):
    return build_world(make, session)


def test_every_api_route_has_stated_access_rules(app):
    for rule in api_rules(app):
        assert resource_of(rule) in EXPECT


def test_get_routes_by_role_own_and_foreign(app, api, world):
    failures = []
    for rule in api_rules(app):
        if "GET" not in rule.methods or "<" not in rule.rule:
            continue
        expected_by_role = ROUTE_EXPECT.get(rule.rule, EXPECT[resource_of(rule)])
        for role, user in world.users.items():
            client = api(user)
            for side, ids, expected in (("own", world.own, expected_by_role[role][0]),
                                        ("foreign", world.foreign, expected_by_role[role][1])):
                url = fill(rule, ids)
                if url is None:
                    continue
                got = status_class(client.get(url).status_code)
                if got != expected:
                    failures.append(f"GET {url} ({side}) as {role.value}: expected {expected}, got {got}")
    assert not failures, "\n".join(failures)


def test_lists_show_own_and_never_foreign(app, api, world):
    failures = []
    for rule in api_rules(app):
        if "GET" not in rule.methods or "<" in rule.rule:
            continue
        resource = resource_of(rule)
        for role, user in world.users.items():
            own_expected, foreign_expected = EXPECT[resource][role]
            response = api(user).get(rule.rule + "?per_page=500")
            if own_expected == FORBIDDEN:
                if response.status_code != 403:
                    failures.append(f"GET {rule.rule} as {role.value}: expected 403, got {response.status_code}")
                continue
            listed = {item["id"] for item in response.json["items"]}
            if (own_expected == OK) != (world.own[resource] in listed):
                failures.append(f"GET {rule.rule} as {role.value}: own record listed={world.own[resource] in listed}")
            if (foreign_expected == OK) != (world.foreign[resource] in listed):
                failures.append(f"GET {rule.rule} as {role.value}: foreign listed={world.foreign[resource] in listed}")
    assert not failures, "\n".join(failures)


def row_counts(session) -> dict[str, int]:
    return {name: session.scalar(select(func.count()).select_from(table)) for name, table in metadata.tables.items()
            if name not in {"audit_log", "api_tokens"}}


def test_writes_on_foreign_objects_are_404_or_403_and_change_nothing(app, api, world, session):
    admin = api(world.users[A])
    before = row_counts(session)
    failures = []
    for rule in api_rules(app):
        for method in sorted(rule.methods & {"PATCH", "PUT", "DELETE", "POST"}):
            if "<" not in rule.rule:
                continue
            url = fill(rule, world.foreign)
            if url is None:
                continue
            current = admin.get(url.rsplit("/", 1)[0] if method == "POST" else url)
            version = current.json.get("version") if current.status_code == 200 and current.is_json else None
            body = {"version": version} if version is not None else {}
            for role, user in world.users.items():
                if role in (A,):
                    continue
                response = api(user)._call(method, url, json=None if method == "DELETE" else body)
                allowed = {403, 404} if role != ACT else {403}
                if method == "POST":
                    allowed = allowed | {422} if role != ACT else allowed
                if response.status_code not in allowed:
                    failures.append(f"{method} {url} as {role.value}: got {response.status_code}")
    assert not failures, "\n".join(failures)
    assert row_counts(session) == before


def pii_values(world, session) -> list[str]:
    from agents.models import Agent, Referral, Referrer
    from policyholders.models import Interaction, Policyholder

    values = []
    for model, columns in ((Policyholder, ("name", "phone", "email", "address")), (Agent, ("name",)),
                           (Referrer, ("name",)), (Referral, ("prospect_name",)), (Interaction, ("summary",))):
        for row in session.scalars(select(model)):
            values += [getattr(row, column) for column in columns if getattr(row, column)]
    return values


def test_actuary_responses_contain_no_personal_data(app, api, world, session):
    actuary = api(world.users[ACT])
    secrets = pii_values(world, session)
    assert len(secrets) > 10
    leaks = []
    for rule in api_rules(app):
        if "GET" not in rule.methods:
            continue
        for ids in (world.own, world.foreign):
            url = rule.rule + "?per_page=500" if "<" not in rule.rule else fill(rule, ids)
            if url is None:
                continue
            response = actuary.get(url)
            if response.status_code != 200:
                continue
            text = response.get_data(as_text=True)
            leaks += [f"{url}: {value!r}" for value in secrets if value in text]
    assert not leaks, "\n".join(sorted(set(leaks)))
