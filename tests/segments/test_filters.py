"""Each condition of a segment's filter, on the book of conftest.py, counted by hand: agent A's book is h1 to h4,
z1 is agent Z's and never shows for A, whatever the filter."""

from __future__ import annotations

from datetime import date

import pytest
from marshmallow import ValidationError
from sqlalchemy import select

from insurecrm.db import db
from policyholders.segments import services
from reports.segments import segments as segments_report
from tests.segments.conftest import ON

#: filter → the holders of A's book it holds
CASES = {
    "no condition": ({}, {"h1", "h2", "h3", "h4"}),
    "kind": ({"kind": ["organisation"]}, {"h3"}),
    "gender any of": ({"gender": ["female", "male"]}, {"h1", "h2", "h4"}),
    "status": ({"status": ["prospect"]}, {"h3"}),
    "region": ({"region": ["Shanghai"]}, {"h1", "h3"}),
    "occupation": ({"occupation": ["teacher", "engineer"]}, {"h1", "h2"}),
    "income band": ({"income_band": ["low", "middle"]}, {"h2", "h4"}),
    "marital status": ({"marital_status": ["married"]}, {"h1"}),
    "preferred channel": ({"preferred_channel": ["email"]}, {"h1"}),
    "acquisition channel": ({"acquisition_channel": ["bancassurance"]}, {"h2"}),
    "tags any": ({"tags_any": ["golf"]}, {"h1", "h4"}),
    "tags all": ({"tags_all": ["vip", "golf"]}, {"h1"}),
    "tags all, one": ({"tags_all": ["vip"]}, {"h1", "h2"}),
    # ages on 2026-11-22: h1 46, h2 31, h4 25 (h3 has no date of birth: in no age band)
    "age from": ({"age_min": 31}, {"h1", "h2"}),
    "age to": ({"age_max": 31}, {"h2", "h4"}),
    "age band": ({"age_min": 25, "age_max": 30}, {"h4"}),
    "age on a date": ({"age_max": 24, "age_on": "2025-12-30"}, {"h4"}),
    "age the day before a birthday": ({"age_min": 26, "age_on": "2026-12-30"}, {"h1", "h2"}),
    "age on the birthday": ({"age_min": 26, "age_on": "2026-12-31"}, {"h1", "h2", "h4"}),
    "birthday month": ({"birthday_month": [3, 12]}, {"h1", "h4"}),
    "consent": ({"consent_marketing": True}, {"h1"}),
    "no consent": ({"consent_sms": False}, {"h1", "h3", "h4"}),
    "consents together": ({"consent_email": True, "consent_sms": True}, set()),
    "products held in force": ({"product_id": ["health"]}, {"h1"}),
    "lines held in force": ({"product_line": ["life", "health"]}, {"h1", "h2"}),
    "policy status": ({"policy_status": ["lapsed"]}, {"h4"}),
    # h2's policy expires 2026-12-10 (18 days); h4's lapsed policy has an open case due 2026-12-01 (9 days)
    "renewal due in 30 days": ({"renewal_due_days": 30}, {"h2", "h4"}),
    "renewal due in 10 days": ({"renewal_due_days": 10}, {"h4"}),
    "renewal due today": ({"renewal_due_days": 0}, set()),
    "churn from": ({"churn_min": 50}, {"h1"}),
    "churn band": ({"churn_min": 10, "churn_max": 30}, {"h2"}),
    "churn to (unscored in no band)": ({"churn_max": 100}, {"h1", "h2"}),
    "bank partner": ({"bank_partner_id": ["partner"]}, {"h2"}),
    "owner agent": ({"owner_agent_id": ["agent"]}, {"h1", "h2", "h3", "h4"}),
    "unit": ({"org_unit_id": "team"}, {"h1", "h2", "h3", "h4"}),
    "another unit": ({"org_unit_id": "sibling"}, set()),
    "together": ({"region": ["Shanghai"], "tags_any": ["vip"], "age_min": 40}, {"h1"}),
}
#: the fields naming records, given in CASES by the book's attribute
REFERENCES = ("product_id", "bank_partner_id", "owner_agent_id", "org_unit_id")


def _resolve(book, criteria: dict) -> dict:
    """Names of the book's records in a filter → their ids."""
    def resolved(key, value):
        return getattr(book, value).id if key in REFERENCES else value

    return {key: [resolved(key, v) for v in value] if isinstance(value, list) else resolved(key, value)
            for key, value in criteria.items()}


def _names(book, ids) -> set[str]:
    by_id = {getattr(book, name).id: name for name in ("h1", "h2", "h3", "h4", "z1")}
    return {by_id[i] for i in ids}


def members(book, criteria: dict, user=None, on: date = ON) -> set[str]:
    ids = db.session.scalars(services.segment_query(_resolve(book, criteria), user or book.agent_user, on=on))
    return _names(book, ids)


@pytest.mark.parametrize("name", list(CASES))
def test_each_condition_counted_by_hand(book, name):
    criteria, expected = CASES[name]
    assert members(book, criteria) == expected
    assert services.count(_resolve(book, criteria), book.agent_user, on=ON) == len(expected)


def test_the_other_agents_book_answers_the_same_filter_with_their_own(book):
    assert members(book, {"region": ["Shanghai"], "tags_all": ["vip", "golf"]}, book.other_user) == {"z1"}
    assert members(book, {"region": ["Shanghai"], "tags_all": ["vip", "golf"]}, book.admin) == {"h1", "z1"}
    assert members(book, {}, book.manager) == {"h1", "h2", "h3", "h4"}
    assert members(book, {}, book.sibling_manager) == {"z1"}


def test_in_force_is_judged_on_the_date(book):
    # before h1's health policy took effect (2026-01-01) it held none in force
    assert members(book, {"product_line": ["health"]}, on=date(2025, 12, 31)) == set()
    assert members(book, {"product_line": ["life"]}, on=date(2025, 12, 31)) == {"h2"}


def test_members_as_of_a_date(book, session):
    from policyholders.segments.models import Segment

    segment = Segment(name="Due", criteria={"renewal_due_days": 30}, owner_user_id=book.agent_user.id)
    session.add(segment)
    session.commit()
    rows = session.scalars(services.members_as_of(segment, book.agent_user, date(2026, 11, 5))).all()
    assert [row.name for row in rows] == ["Holder Four"]  # h2's expiry (2026-12-10) is 35 days away


def test_quadrants_are_the_segments_reports(book):
    report = segments_report(book.admin, {}, ON)
    placed = db.session.execute(select(report.table("policyholders").statement.subquery())).mappings().all()
    by_quadrant: dict[str, set] = {}
    for row in placed:
        by_quadrant.setdefault(row["quadrant_code"], set()).add(row["policyholder"])
    assert placed  # the holders with a policy are placed
    for quadrant in ("keep", "cross_sell", "secure", "serve_cheaper"):
        found = set(db.session.scalars(services.segment_query({"quadrant": [quadrant]}, book.admin, on=ON)))
        assert found == by_quadrant.get(quadrant, set()), quadrant


@pytest.mark.parametrize("criteria", [
    {"colour": ["red"]}, {"gender": ["unknown"]}, {"age_min": 200}, {"age_min": 40, "age_max": 30},
    {"churn_min": 90, "churn_max": 10}, {"birthday_month": [13]}, {"region": ["x" * 65]}, {"tags_any": [""]},
    {"renewal_due_days": 367}, {"region": "Shanghai"}, {"age_min": "40"}, {"product_id": [0]},
    {"tags_any": ["t"] * 21}, {"age_on": "1900-01-01"},
])
def test_a_filter_out_of_bounds_is_refused(book, criteria):
    with pytest.raises(ValidationError) as refused:
        services.segment_query(criteria, book.agent_user)
    assert "filter" in refused.value.messages
