"""The OpenAPI description: valid, truthful (bounds, money, nullability, error bodies as sent), and its browsable
docs, served without any CDN."""

from __future__ import annotations

import re

import jsonschema_rs  # comes with schemathesis
import pytest
import schemathesis

from insurecrm.api import INT_MAX
from insurecrm.models import Role


def test_openapi_describes_the_api(client, app):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["info"]["title"] == "InsureCRM API"
    assert "/api/v1/products" in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_docs_page_loads_only_local_assets(client):
    html = client.get("/api/v1/docs").get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources, html
    for source in sources:
        assert source.startswith(("/static/vendor/swagger-ui/", "/static/js/")), source
        response = client.get(source)
        assert response.status_code == 200
        response.close()


# -- a valid, truthful description (issue 7, point 2) ----------------------------------------------------------

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def spec(client):
    return client.get("/api/v1/openapi.json").json


def operations(spec):
    for path, item in spec["paths"].items():
        for method in METHODS & set(item):
            yield path, method, item[method], item.get("parameters", [])


def walk(node, where="#"):
    """Every schema-like dict in ``node``, with its location."""
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{where}/{index}")


def resolve(spec, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_the_description_is_valid_openapi(spec):
    schemathesis.openapi.from_dict(spec).validate()


def test_no_impossible_schemas_and_numeric_bounds_are_numbers(spec):
    for where, node in walk(spec):
        assert node.get("not") != {}, where
        for bound in ("minimum", "maximum"):
            if bound in node and isinstance(node.get(bound), (int, float, str)):
                assert isinstance(node[bound], int | float), f"{where}: {bound} {node[bound]!r}"


def test_money_and_rates_are_documented_as_the_strings_they_are(spec):
    schemas = spec["components"]["schemas"]
    for schema, field in (("Policy", "premium"), ("Policy", "sum_insured"), ("Payment", "amount"),
                          ("Product", "first_year_commission_rate"), ("BookSummary", "in_force_annualised_premium")):
        money = schemas[schema]["properties"][field]
        assert money["type"] == "string" and money["format"] == "decimal", (schema, field, money)
        assert "minimum" not in money and "maximum" not in money
    pattern = schemas["Policy"]["properties"]["premium"]["pattern"]
    assert re.fullmatch(pattern, "1200.00") and not re.fullmatch(pattern, "1200.005")
    assert not re.fullmatch(pattern, "-1.00")  # a premium is positive


def test_fields_that_can_be_null_are_marked_nullable(spec):
    schemas = spec["components"]["schemas"]
    for schema, field in (("Policy", "servicing_agent_id"), ("Policy", "cancellation_reason"),
                          ("Claim", "rejection_reason"), ("ServiceRequest", "resolved_at"), ("User", "last_login_at"),
                          ("Installment", "paid_date"), ("Interaction", "user_id")):
        assert schemas[schema]["properties"][field].get("nullable") is True, (schema, field)
    assert not schemas["Policy"]["properties"]["number"].get("nullable")


def test_every_input_is_bounded_in_the_description(spec):
    """What a client may send has a documented limit: strings a length (or a closed set or format), numbers a
    range, lists a length; path ids stop at the database's INTEGER."""
    failures = []
    for path, method, operation, path_params in operations(spec):
        inputs = [(f"{method} {path} ?{p['name']}", p["schema"]) for p in operation.get("parameters", []) + path_params]
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if body:
            inputs.append((f"{method} {path} body", body))
        for label, schema in inputs:
            failures += unbounded(spec, label, schema, set())
        for param in path_params:
            assert param["schema"]["maximum"] == INT_MAX, (path, param)
    assert not failures, "\n".join(sorted(set(failures)))


def unbounded(spec, label, schema, seen) -> list[str]:
    ref = schema.get("$ref")
    if ref in seen:
        return []
    seen = seen | {ref}
    schema = resolve(spec, schema)
    if schema.get("readOnly"):
        return []
    kind = schema.get("type")
    if "anyOf" in schema:
        return [f for option in schema["anyOf"] for f in unbounded(spec, label, option, seen)]
    if kind == "object" or "properties" in schema:
        return [f for name, prop in schema.get("properties", {}).items()
                for f in unbounded(spec, f"{label}.{name}", prop, seen)]
    if kind == "array":
        return ([] if "maxItems" in schema else [f"{label}: a list without maxItems"]) + \
            unbounded(spec, f"{label}[]", schema["items"], seen)
    if kind == "string" and not ({"maxLength", "enum"} & set(schema) or schema.get("format") in
                                 {"date", "date-time", "decimal"} or "pattern" in schema):
        return [f"{label}: a string without maxLength"]
    if kind == "integer" and not {"minimum", "maximum"} <= set(schema):
        return [f"{label}: an integer without minimum and maximum"]
    return []


def test_every_operation_documents_the_errors_it_sends(spec):
    for path, method, operation, path_params in operations(spec):
        documented = set(operation["responses"])
        assert "default" not in documented, (method, path)
        public = (path, method) in {("/api/v1/auth/token", "post"), ("/api/v1/openapi.json", "get")}
        assert ("401" in documented) != (path == "/api/v1/openapi.json"), (method, path)
        assert (operation.get("security") == []) == public, (method, path)
        if path_params:
            assert "404" in documented, (method, path)
        if method != "get" and not public:
            assert "409" in documented, (method, path)
        if operation.get("requestBody") or operation.get("parameters"):
            assert "422" in documented, (method, path)
    assert "429" in spec["paths"]["/api/v1/auth/token"]["post"]["responses"]


@pytest.mark.parametrize("case", ["401", "404", "422", "409"])
def test_error_bodies_are_as_documented(spec, api, make, case):
    error = dict(resolve(spec, {"$ref": "#/components/schemas/Error"}))
    validator = jsonschema_rs.validator_for(error)
    admin = api(make.user(Role.ADMIN))
    response = {
        "401": lambda: api(None).get("/api/v1/policies"),
        "404": lambda: admin.get(f"/api/v1/policies/{INT_MAX}"),
        "422": lambda: admin.post("/api/v1/products", json={"frequencies": ["annual", "weekly"]}),
        "409": lambda: admin.patch(f"/api/v1/policyholders/{make.policyholder().id}", json={"version": 0, "name": "X"}),
    }[case]()
    assert str(response.status_code) == case
    validator.validate(response.json)
    documented = {str(code) for _path, _method, operation, _params in operations(spec)
                  for code in operation["responses"]}
    assert case in documented
