"""The admin page of the loyalty weights: the defaults until an admin saves, saved weights audited and read by the
report, bad weights refused next to their fields (422) with nothing saved, and only admins may open or post it."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from insurecrm.models import AuditLog, Role
from reports.filters import ReportArgs
from reports.loyalty import DEFAULT_WEIGHTS, loyalty
from reports.models import LoyaltyWeights
from tests.api_client import csrf_token
from tests.reports.test_earned import table_rows

URL = "/admin/loyalty-weights"
NEW = {"tenure": "40", "renewals": "10", "product_lines": "10", "on_time": "30", "referrals": "10",
       "complaints": "50"}


@pytest.fixture
def admin(make):
    return make.user(Role.ADMIN, username="chief")


def post(client, data: dict):
    return client.post(URL, data={"csrf_token": csrf_token(client), **data})


def audit_entries(session) -> list[AuditLog]:
    return list(session.scalars(select(AuditLog).where(AuditLog.entity_type == "loyalty_weights")
                                .order_by(AuditLog.id)))


def test_the_defaults_are_shown_until_an_admin_saves(web, admin):
    html = web(admin).get(URL).get_data(as_text=True)
    for part, weight in DEFAULT_WEIGHTS.items():
        assert f'name="{part}" type="number" value="{weight}"' in html
    assert 'href="/admin/loyalty-weights"' in web(admin).get("/admin").get_data(as_text=True)
    # the page explains the score by the report's entry on the help page
    assert "/help#report-loyalty" in html
    assert 'id="report-loyalty"' in web(admin).get("/help").get_data(as_text=True)


def test_saved_weights_are_audited_and_the_report_reads_them(web, admin, make, session):
    client = web(admin)
    response = post(client, NEW)
    assert response.status_code == 302
    saved = session.get(LoyaltyWeights, 1)
    assert {part: getattr(saved, part) for part in DEFAULT_WEIGHTS} == {k: int(v) for k, v in NEW.items()}
    [created] = audit_entries(session)
    assert (created.action, created.actor_user_id, created.entity_id) == ("create", admin.id, 1)
    assert created.changes["tenure"] == [None, 40]
    # a second save records only what changed, before and after
    assert post(client, {**NEW, "tenure": "30", "on_time": "40"}).status_code == 302
    updated = audit_entries(session)[-1]
    assert (updated.action, updated.changes) == ("update", {"tenure": [40, 30], "on_time": [30, 40]})
    # the same weights again: nothing written, and the page says so
    assert post(client, {**NEW, "tenure": "30", "on_time": "40"}).status_code == 302
    assert len(audit_entries(session)) == 2
    assert "No change" in client.get(URL).get_data(as_text=True)
    # the report: a policyholder of 2024-01-01 has 2 completed years on 2026-12-31: 30 × 2/10 = 6 tenure points
    holder = make.policyholder()
    make.policy(holder, effective_date=date(2024, 1, 1), expiry_date=date(2030, 1, 1))
    result = loyalty(admin, ReportArgs().load({"start": "2026-01-01", "end": "2026-12-31"}), date(2027, 1, 15))
    [row] = [r for r in table_rows(result, "policyholders") if r["policyholder"] == holder.name]
    assert row["tenure_points"] == 6


@pytest.mark.parametrize(("data", "field"), [
    ({**NEW, "tenure": "101", "renewals": "-1"}, "tenure"),
    ({**NEW, "complaints": "abc"}, "complaints"),
    ({**NEW, "referrals": "1.5"}, "referrals"),
    ({**NEW, "on_time": ""}, "on_time"),
    ({**NEW, "on_time": "99999999999999999999"}, "on_time"),
    ({key: value for key, value in NEW.items() if key != "renewals"}, "renewals"),
])
def test_bad_weights_are_refused_next_to_their_field_and_nothing_is_saved(web, admin, session, data, field):
    response = post(web(admin), data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="f-{field}-error"' in html
    assert session.scalar(select(func.count()).select_from(LoyaltyWeights)) == 0
    assert audit_entries(session) == []


def test_parts_that_do_not_add_up_to_100_are_refused(web, admin, session):
    response = post(web(admin), {**NEW, "tenure": "41"})
    assert response.status_code == 422
    assert "add up to 101; they must add up to 100" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(LoyaltyWeights)) == 0
    # the form keeps what was typed
    assert 'name="tenure" type="number" value="41"' in response.get_data(as_text=True)


@pytest.mark.parametrize("role", [Role.BRANCH_MANAGER, Role.AGENT, Role.ACTUARY, Role.BANCASSURANCE_SPECIALIST,
                                  Role.BANK_REFERRER])
def test_only_an_admin_may_open_or_post(web, make, session, role):
    client = web(make.user(role))
    assert client.get(URL).status_code == 403
    assert post(client, NEW).status_code == 403
    assert session.scalar(select(func.count()).select_from(LoyaltyWeights)) == 0
