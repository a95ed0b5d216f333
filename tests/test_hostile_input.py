"""Hostile input: whatever a client sends, the answer is a 4xx with a JSON error (or a readable page), and
nothing is written.

One test per kind of input that once answered 500 or was silently coerced (issue 7, point 1): a bearer-less
logout, integers beyond the database's range (path, body, query, web forms), NUL bytes, deeply nested JSON,
lone surrogates, an invalid item in a list, dates at the ends of the calendar, fractional ids and versions,
bodiless or non-JSON PATCHes, and unbounded strings. The fuzz (tests/test_api_fuzz.py) explores the rest.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from marshmallow import fields

from insurecrm.api import TEXT, Schema
from insurecrm.models import Role
from tests.access.world import build_world
from tests.api_client import csrf_token
from tests.test_access_matrix import row_counts

INT4_OVER = 2**31  # one past PostgreSQL's INTEGER
INT8_OVER = 2**63  # one past SQLite's and PostgreSQL's BIGINT


@pytest.fixture
def world(make, session):
    return build_world(make, session)


@pytest.fixture
def admin(api, world):
    return api(world.users[Role.ADMIN])


@pytest.fixture
def unchanged(session, world):
    """Asserts, after the test's requests, that no table gained, lost or changed a row count."""
    before = row_counts(session)
    yield
    assert row_counts(session) == before


def refused(response, status: int = 422, *fields: str) -> dict:
    """The JSON error body of ``response``, after checking its status and that it names ``fields``."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.is_json, response.get_data(as_text=True)[:500]
    body = response.json
    assert body["error"]
    for field in fields:
        assert field in body["errors"], body
    return body


def raw(client, method: str, url: str, text: str, content_type: str = "application/json"):
    """A request whose body is sent exactly as written (``json=`` would escape what we want to send)."""
    return client._call(method, url, data=text.encode("utf-8", "surrogatepass"), content_type=content_type)


def interaction(world, **overrides) -> dict:
    return {"policyholder_id": world.own["policyholder"], "channel": "phone", "summary": "Called", **overrides}


def policy(world, **overrides) -> dict:
    return {"policyholder_id": world.own["policyholder"], "product_id": world.own["product"],
            "effective_date": "2026-12-01", "sum_insured": "100000.00", "premium": "1200.00",
            "frequency": "annual", **overrides}


# -- logout without a token ---------------------------------------------------------------------------------

def test_logout_without_a_token_is_401(api, unchanged):
    body = refused(api(None).delete("/api/v1/auth/token"), 401)
    assert "token" in body["message"]


def test_logout_with_an_unknown_token_is_401(client, unchanged):
    response = client.delete("/api/v1/auth/token", headers={"Authorization": "Bearer not-a-token"})
    refused(response, 401)


# -- integers beyond the database's range ---------------------------------------------------------------------

@pytest.mark.parametrize("number", [INT4_OVER, INT8_OVER, 10**30])
def test_path_ids_beyond_the_database_are_404(admin, number, unchanged):
    for url in (f"/api/v1/policyholders/{number}", f"/api/v1/policies/{number}/payments"):
        assert refused(admin.get(url), 404)["message"]
    patched = admin.patch(f"/api/v1/policyholders/{number}", json={"version": 1, "name": "X"})
    refused(patched, 404)


@pytest.mark.parametrize("number", [INT4_OVER, INT8_OVER])
def test_body_ids_beyond_the_database_are_422(admin, world, number, unchanged):
    refused(admin.post("/api/v1/interactions", json=interaction(world, policy_id=number)), 422, "policy_id")
    refused(admin.post("/api/v1/policies", json=policy(world, product_id=number)), 422, "product_id")
    holder = admin.get(f"/api/v1/policyholders/{world.own['policyholder']}").json
    refused(admin.patch(f"/api/v1/policyholders/{holder['id']}", json={"version": number, "name": "X"}),
            422, "version")


@pytest.mark.parametrize("query", [f"page={INT8_OVER}", f"page={INT4_OVER}",
                                   f"owner_agent_id={INT8_OVER}", f"org_unit_id={INT4_OVER}"])
def test_query_integers_beyond_the_database_are_422(admin, query, unchanged):
    name = query.split("=")[0]
    refused(admin.get(f"/api/v1/policyholders?{query}"), 422, name)


@pytest.mark.parametrize(("url", "status"), [
    (f"/policyholders?page={INT8_OVER}", 422), (f"/service-requests?page={INT8_OVER}", 422),
    (f"/renewals?page={INT8_OVER}", 422), (f"/renewals?assigned_agent_id={INT8_OVER}", 422),
    (f"/admin/ops/templates/edit?id={INT8_OVER}", 404),
    (f"/service-requests?assigned_agent_id={INT8_OVER}", 200),  # an invalid filter is ignored there
])
def test_web_query_integers_beyond_range_are_readable_pages(web, world, url, status):
    response = web(world.users[Role.ADMIN]).get(url)
    assert response.status_code == status, url
    assert "text/html" in response.content_type


def test_web_form_integers_beyond_the_database_show_the_form_again(web, world, unchanged):
    client = web(world.users[Role.ADMIN])
    holder = world.own["policyholder"]
    for number in (INT4_OVER, INT8_OVER):
        response = client.post(f"/policyholders/{holder}/interactions", data={
            "csrf_token": csrf_token(client), "channel": "phone", "summary": "Called", "policy_id": str(number)})
        assert response.status_code == 422
        assert "text/html" in response.content_type


# -- NUL bytes -----------------------------------------------------------------------------------------------

def test_nul_in_a_query_is_422(admin, unchanged):
    refused(admin.get("/api/v1/policyholders?q=%00"), 422, "q")
    refused(admin.get("/api/v1/products?q=a%00b"), 422, "q")


def test_nul_in_a_web_search_is_a_readable_page(web, world):
    response = web(world.users[Role.ADMIN]).get("/policyholders?q=%00")
    assert response.status_code == 422
    assert "text/html" in response.content_type


def test_nul_in_a_body_string_is_422(admin, world, unchanged):
    refused(admin.post("/api/v1/interactions", json=interaction(world, summary="Called\u0000 back")), 422, "summary")


def test_nul_in_a_web_form_is_refused(web, world, unchanged):
    client = web(world.users[Role.ADMIN])
    response = client.post(f"/policyholders/{world.own['policyholder']}/interactions", data={
        "csrf_token": csrf_token(client), "channel": "phone", "summary": "Called\x00"})
    assert response.status_code == 422
    assert "text/html" in response.content_type


# -- deep nesting, lone surrogates ---------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/api/v1/auth/token", "/api/v1/interactions"])
def test_deeply_nested_json_is_422_even_before_login(api, admin, url, unchanged):
    deep = "[" * 100_000 + "]" * 100_000
    client = api(None) if url.endswith("token") else admin
    body = refused(raw(client, "POST", url, deep), 422)
    assert body["errors"]


def test_a_lone_surrogate_is_422_even_before_login(api, admin, world, unchanged):
    body = '{"username": "\\ud800", "password": "secret"}'
    refused(raw(api(None), "POST", "/api/v1/auth/token", body), 422, "username")
    summary = json.dumps(interaction(world)).replace('"Called"', '"Called \\udfff"')
    refused(raw(admin, "POST", "/api/v1/interactions", summary), 422, "summary")


# -- an invalid item next to valid ones -----------------------------------------------------------------------

@pytest.mark.parametrize(("frequencies", "bad"), [(["annual", "weekly", "monthly"], "1"),
                                                  (["annual", "annual", "weekly"], "2")])
def test_an_invalid_frequency_next_to_valid_ones_is_422_with_the_item(admin, world, frequencies, bad, unchanged):
    product = {"code": "PX1", "name": "P", "line": "life", "term_months": 12, "frequencies": frequencies}
    body = refused(admin.post("/api/v1/products", json=product), 422, "frequencies")
    assert bad in body["errors"]["frequencies"], body
    patched = admin.patch(f"/api/v1/products/{world.own['product']}", json={"frequencies": frequencies})
    assert bad in refused(patched, 422, "frequencies")["errors"]["frequencies"]


# -- dates at the ends of the calendar -------------------------------------------------------------------------

@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_calendar_end_dates_are_422(admin, world, day, unchanged):
    instant = f"{day}T12:00:00Z"
    refused(admin.post("/api/v1/policies", json=policy(world, effective_date=day)), 422, "effective_date")
    refused(admin.post("/api/v1/policies", json=policy(world, expiry_date=day)), 422, "expiry_date")
    refused(admin.post("/api/v1/interactions", json=interaction(world, occurred_at=instant)), 422, "occurred_at")
    refused(admin.post("/api/v1/service-requests", json={
        "policyholder_id": world.own["policyholder"], "kind": "complaint", "category": "claim", "subject": "S",
        "due_at": instant}), 422, "due_at")
    refused(admin.post(f"/api/v1/policies/{world.own['policy']}/payments",
                       json={"amount": "10.00", "paid_on": day}), 422, "paid_on")
    refused(admin.post(f"/api/v1/policies/{world.own['policy']}/claims", json={"loss_date": day}), 422, "loss_date")
    refused(admin.get(f"/api/v1/reports/book-summary?as_of={day}"), 422, "as_of")


def test_a_birth_date_is_within_the_past_130_years(admin, world, unchanged):
    today = date.today()
    too_old = today.replace(year=today.year - 131).isoformat()
    holder = admin.get(f"/api/v1/policyholders/{world.own['policyholder']}").json
    refused(admin.patch(f"/api/v1/policyholders/{holder['id']}",
                        json={"version": holder["version"], "date_of_birth": too_old}), 422, "date_of_birth")
    refused(admin.post("/api/v1/policyholders", json={"name": "Old", "date_of_birth": "0001-01-01"}),
            422, "date_of_birth")


# -- what used to be silently coerced ---------------------------------------------------------------------------

def test_fractional_ids_and_versions_are_422(admin, world, unchanged):
    fractional = interaction(world, policyholder_id=world.own["policyholder"] + 0.5)
    refused(admin.post("/api/v1/interactions", json=fractional), 422, "policyholder_id")
    holder = admin.get(f"/api/v1/policyholders/{world.own['policyholder']}").json
    refused(admin.patch(f"/api/v1/policyholders/{holder['id']}", json={"version": holder["version"] + 0.5,
                                                                         "name": "Coerced"}), 422, "version")
    refused(admin.get("/api/v1/policyholders?page=1.5"), 422, "page")


@pytest.mark.parametrize("url_of", [lambda w: f"/api/v1/policyholders/{w.own['policyholder']}",
                                    lambda w: f"/api/v1/products/{w.own['product']}",
                                    lambda w: f"/api/v1/claims/{w.own['claim']}"])
def test_a_patch_without_a_json_body_is_422(admin, world, url_of, unchanged):
    url = url_of(world)
    refused(admin._call("PATCH", url), 422)
    refused(raw(admin, "PATCH", url, '{"name": "Plain"}', content_type="text/plain"), 422)
    refused(raw(admin, "PATCH", url, "name=Form", content_type="application/x-www-form-urlencoded"), 422)


def test_unbounded_strings_are_422(admin, world, unchanged):
    long = "x" * 100_001
    refused(admin.post("/api/v1/products", json={"code": "PX2", "name": "P", "line": "life", "term_months": 12,
                                                 "frequencies": ["annual"], "description": long}), 422, "description")
    refused(admin.post(f"/api/v1/policies/{world.own['policy']}/claims",
                       json={"loss_date": "2026-11-01", "description": long}), 422, "description")
    refused(admin.get(f"/api/v1/products?q={'x' * 1000}"), 422, "q")
    refused(admin.post("/api/v1/bank-partners", json={"code": "BPX", "name": "B", "commission_terms": long}),
            422, "commission_terms")


# -- the rules hold for every input schema -----------------------------------------------------------------------

def input_schemas(app):
    for blueprint in app.blueprints.values():
        for endpoint in getattr(blueprint, "_docs", {}).values():
            for operation in endpoint.values():
                if isinstance(operation, dict):
                    for parameter in operation.get("arguments", {}).get("parameters", []):
                        yield parameter["schema"]


def test_every_input_schema_has_the_base_rules(app):
    """Every schema the API parses derives from :class:`insurecrm.api.Schema`: unknown fields refused, every
    string checked for NUL and lone surrogates (``ArgsSchema`` for query strings)."""
    schemas = list(input_schemas(app))
    assert len(schemas) > 50
    for schema in schemas:
        instance = schema() if isinstance(schema, type) else schema
        assert isinstance(instance, Schema), schema
        for name, field in instance.load_fields.items():
            inner = getattr(field, "inner", field)
            if isinstance(inner, fields.String):
                assert TEXT in inner.validators, (schema, name)
