"""Products API: the reference resource (list, get, create, update, delete, validation, roles)."""

from __future__ import annotations

from sqlalchemy import func, select

from insurecrm.models import Role
from policies.models import Product

VALID = {"code": "HLT-1", "name": "Family health", "line": "health", "term_months": 12, "renewable": True,
         "frequencies": ["annual", "monthly"], "first_year_commission_rate": "0.2000", "grace_period_days": 30}


def count_products(session) -> int:
    return session.scalar(select(func.count(Product.id)))


def test_admin_creates_product_and_everyone_internal_reads_it(api, make, session):
    admin = make.user(Role.ADMIN)
    response = api(admin).post("/api/v1/products", json=VALID)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["frequencies"] == ["annual", "monthly"]
    assert body["first_year_commission_rate"] == "0.2000"
    agent_user = make.user(Role.AGENT, agent_id=make.agent().id)
    listed = api(agent_user).get("/api/v1/products?line=health").json
    assert [p["code"] for p in listed["items"]] == ["HLT-1"]
    assert listed["meta"]["total"] == 1


def test_bad_product_is_refused_field_by_field_and_nothing_is_written(api, make, session):
    admin = make.user(Role.ADMIN)
    bad = {**VALID, "code": "lower case", "line": "spaceship", "term_months": 0, "first_year_commission_rate": "1.5"}
    response = api(admin).post("/api/v1/products", json=bad)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"code", "line", "term_months", "first_year_commission_rate"}
    assert count_products(session) == 0


def test_duplicate_code_is_422(api, make, session):
    admin = make.user(Role.ADMIN)
    make.product(code="HLT-1")
    response = api(admin).post("/api/v1/products", json=VALID)
    assert response.status_code == 422
    assert "code" in response.json["errors"]
    assert count_products(session) == 1


def test_unknown_field_is_422(api, make):
    response = api(make.user(Role.ADMIN)).post("/api/v1/products", json={**VALID, "colour": "red"})
    assert response.status_code == 422
    assert "colour" in response.json["errors"]


def test_only_admin_writes_products(api, make, session):
    for role in (Role.AGENT, Role.BRANCH_MANAGER, Role.ACTUARY, Role.BANK_REFERRER, Role.BANCASSURANCE_SPECIALIST):
        assert api(make.user(role)).post("/api/v1/products", json=VALID).status_code == 403
    assert count_products(session) == 0


def test_patch_changes_only_given_fields(api, make):
    product = make.product(grace_period_days=60, name="Old")
    response = api(make.user(Role.ADMIN)).patch(f"/api/v1/products/{product.id}", json={"name": "New"})
    assert response.status_code == 200
    assert response.json["name"] == "New"
    assert response.json["grace_period_days"] == 60


def test_product_with_policies_cannot_be_deleted(api, make, session):
    admin = make.user(Role.ADMIN)
    used = make.product()
    make.policy(product=used)
    unused = make.product()
    assert api(admin).delete(f"/api/v1/products/{used.id}").status_code == 409
    assert api(admin).delete(f"/api/v1/products/{unused.id}").status_code == 204
    assert session.get(Product, used.id) is not None


def test_anonymous_gets_401(api):
    response = api(None).get("/api/v1/products")
    assert response.status_code == 401
    assert response.json["error"] == "Unauthorized"


def test_missing_product_is_404_json(api, make):
    response = api(make.user(Role.ADMIN)).get("/api/v1/products/999999")
    assert response.status_code == 404
    assert response.json["error"] == "Not Found"


def test_money_with_more_than_two_decimals_is_refused_not_rounded(api, make, session):
    from policies.models import Payment

    policy = make.policy()
    response = api(make.user(Role.ADMIN)).post(f"/api/v1/policies/{policy.id}/payments",
                                               json={"amount": "100.005", "paid_on": "2026-01-02"})
    assert response.status_code == 422
    assert response.json["errors"]["amount"] == ["Use at most 2 decimal places."]
    assert session.scalar(select(func.count(Payment.id))) == 0
