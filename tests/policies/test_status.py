"""The policy status machine: every allowed move, refused moves, reasons, dates, cooling-off, history."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from insurecrm.actor import acting_as
from policies.models import PolicyStatus, PolicyStatusChange
from policies.status import ALLOWED_TRANSITIONS, FINAL_STATUSES, transition

S = PolicyStatus
ALLOWED = [(src, dst) for src, targets in ALLOWED_TRANSITIONS.items() for dst in sorted(targets)]
DISALLOWED = [(S.CANCELLED, S.IN_FORCE), (S.LAPSED, S.IN_FORCE), (S.QUOTED, S.GRACE), (S.EXPIRED, S.IN_FORCE),
              (S.MATURED, S.RENEWED), (S.RENEWED, S.EXPIRED), (S.TERMINATED_BY_CLAIM, S.REINSTATED),
              (S.IN_FORCE, S.LAPSED), (S.GRACE, S.EXPIRED), (S.IN_FORCE, S.QUOTED)]
START = date(2026, 1, 1)


def history(session, policy) -> list[PolicyStatusChange]:
    return list(session.scalars(select(PolicyStatusChange).where(PolicyStatusChange.policy_id == policy.id)))


def move(api, user, policy, to_status, effective_date="2026-02-01", reason="As agreed with the policyholder"):
    return api(user).post(f"/api/v1/policies/{policy.id}/transitions",
                          json={"to_status": to_status, "effective_date": effective_date, "reason": reason})


def test_the_table_has_every_status_and_the_final_ones_are_final():
    assert set(ALLOWED_TRANSITIONS) == set(PolicyStatus)
    assert {S.CANCELLED, S.RENEWED, S.MATURED, S.TERMINATED_BY_CLAIM} == FINAL_STATUSES


@pytest.mark.parametrize(("from_status", "to_status"), ALLOWED, ids=[f"{a}->{b}" for a, b in ALLOWED])
def test_every_allowed_transition_works_and_is_recorded(api, make, seller, session, from_status, to_status):
    policy = make.policy(policyholder=seller.holder, status=from_status, status_date=START)
    response = move(api, seller.user, policy, to_status)
    assert response.status_code == 200, response.json
    assert response.json["status"] == to_status
    assert response.json["status_date"] == "2026-02-01"
    [change] = history(session, policy)
    assert (change.from_status, change.to_status, change.effective_date) == (from_status, to_status, date(2026, 2, 1))
    assert change.reason == "As agreed with the policyholder"
    assert (change.actor_user_id, change.actor_label) == (seller.user.id, seller.user.username)


@pytest.mark.parametrize(("from_status", "to_status"), DISALLOWED, ids=[f"{a}->{b}" for a, b in DISALLOWED])
def test_a_disallowed_transition_is_422_on_to_status_and_writes_nothing(api, make, seller, session, from_status,
                                                                         to_status):
    policy = make.policy(policyholder=seller.holder, status=from_status, status_date=START)
    response = move(api, seller.user, policy, to_status)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"to_status"}
    for allowed in ALLOWED_TRANSITIONS[from_status]:
        assert allowed.value in response.json["errors"]["to_status"][0]
    session.refresh(policy)
    assert policy.status == from_status
    assert history(session, policy) == []


@pytest.mark.parametrize("to_status", [S.CANCELLED, S.LAPSED, S.TERMINATED_BY_CLAIM, S.REINSTATED])
def test_reason_is_required_for_some_statuses(api, make, seller, session, to_status):
    from_status = {S.LAPSED: S.GRACE, S.REINSTATED: S.LAPSED}.get(to_status, S.IN_FORCE)
    policy = make.policy(policyholder=seller.holder, status=from_status, status_date=START)
    response = move(api, seller.user, policy, to_status, reason="  ")
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"reason"}
    assert history(session, policy) == []


def test_effective_date_before_the_last_change_is_refused(api, make, seller, session):
    policy = make.policy(policyholder=seller.holder, status=S.IN_FORCE, status_date=date(2026, 3, 1))
    response = move(api, seller.user, policy, S.GRACE, effective_date="2026-02-28")
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"effective_date"}
    assert move(api, seller.user, policy, S.GRACE, effective_date="2026-03-01").status_code == 200


def test_cancellation_within_cooling_off_is_flagged(api, make, seller):
    product = make.product(cooling_off_days=15)
    early = make.policy(policyholder=seller.holder, product=product, issue_date=START, effective_date=START)
    late = make.policy(policyholder=seller.holder, product=product, issue_date=START, effective_date=START)
    response = move(api, seller.user, early, S.CANCELLED, effective_date="2026-01-16", reason="Changed mind")
    assert response.json["cooling_off_cancellation"] is True
    assert response.json["cancellation_reason"] == "Changed mind"
    response = move(api, seller.user, late, S.CANCELLED, effective_date="2026-01-17", reason="Moved abroad")
    assert response.json["cooling_off_cancellation"] is False


def test_a_system_actor_is_recorded_by_label(make, session):
    policy = make.policy(status=S.IN_FORCE, status_date=START)
    with acting_as("job:policies.grace"):
        transition(policy, S.GRACE, effective_date=date(2026, 2, 15))
    [change] = history(session, policy)
    assert (change.actor_user_id, change.actor_label) == (None, "job:policies.grace")


def test_history_is_listed_in_order_on_the_policy(api, make, seller, session):
    policy = make.policy(policyholder=seller.holder, status=S.IN_FORCE, status_date=START)
    move(api, seller.user, policy, S.GRACE, effective_date="2026-02-01")
    move(api, seller.user, policy, S.LAPSED, effective_date="2026-04-01", reason="Grace period over")
    move(api, seller.user, policy, S.REINSTATED, effective_date="2026-05-01", reason="Arrears paid")
    body = api(seller.user).get(f"/api/v1/policies/{policy.id}").json
    assert [(c["from_status"], c["to_status"]) for c in body["status_history"]] == [
        ("in_force", "grace"), ("grace", "lapsed"), ("lapsed", "reinstated")]
    assert session.scalar(select(func.count(PolicyStatusChange.id))) == 3
