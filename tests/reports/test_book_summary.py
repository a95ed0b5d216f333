"""The book summary counts only what the user may see, and sums premium as Decimal."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from insurecrm.models import Role
from policies.models import PolicyStatus, PremiumFrequency, SalesChannel


def test_summary_is_scoped_and_annualised(api, make):
    company = make.org_unit()
    mine, theirs = make.agent(make.org_unit(company)), make.agent(make.org_unit(company))
    holder = make.policyholder(owner=mine)
    make.policy(holder, premium=Decimal("100.10"), frequency=PremiumFrequency.MONTHLY)
    make.policy(holder, premium=Decimal("1000.00"), channel=SalesChannel.BANCASSURANCE)
    make.policy(holder, status=PolicyStatus.LAPSED)
    make.policy(make.policyholder(owner=theirs), premium=Decimal("999.99"))

    body = api(make.user(Role.AGENT, agent_id=mine.id)).get("/api/v1/reports/book-summary?as_of=2026-06-01").json
    assert body["in_force_policies"] == 2
    assert body["in_force_annualised_premium"] == "2201.20"  # 100.10 × 12 + 1000.00
    assert body["policies_by_status"] == {"in_force": 2, "lapsed": 1}
    assert {c["channel"]: c["annualised_premium"] for c in body["in_force_by_channel"]} == {
        "agency": "1201.20", "bancassurance": "1000.00"}

    everything = api(make.user(Role.ADMIN)).get("/api/v1/reports/book-summary?as_of=2026-06-01").json
    assert everything["in_force_policies"] == 3


def test_expired_cover_is_not_in_force(api, make):
    make.policy(effective_date=date(2025, 1, 1), expiry_date=date(2026, 1, 1))
    body = api(make.user(Role.ADMIN)).get("/api/v1/reports/book-summary?as_of=2026-06-01").json
    assert body["in_force_policies"] == 0


def test_referrer_may_not_read_reports(api, make):
    assert api(make.user(Role.BANK_REFERRER)).get("/api/v1/reports/book-summary").status_code == 403


def test_bad_date_is_422(api, make):
    response = api(make.user(Role.ADMIN)).get("/api/v1/reports/book-summary?as_of=yesterday")
    assert response.status_code == 422
    assert "as_of" in response.json["errors"]
