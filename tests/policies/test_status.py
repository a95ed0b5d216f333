"""The policy status machine: the system's moves, what a person may ask for, reinstatement, reasons, dates,
cooling-off and history."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from insurecrm.actor import acting_as
from policies.models import Installment, InstallmentStatus, Payment, PolicyStatus, PolicyStatusChange, PremiumFrequency
from policies.payments import apply_payment
from policies.status import ALLOWED_TRANSITIONS, FINAL_STATUSES, REQUESTABLE_TRANSITIONS, transition
from tests.policies.conftest import TODAY, months_ago

S = PolicyStatus
ALLOWED = [(src, dst) for src, targets in ALLOWED_TRANSITIONS.items() for dst in sorted(targets)]
REQUESTABLE = [(src, dst) for src, targets in REQUESTABLE_TRANSITIONS.items() for dst in sorted(targets)]
SYSTEM_ONLY = [move for move in ALLOWED if move not in REQUESTABLE]
DISALLOWED = [(S.CANCELLED, S.IN_FORCE), (S.LAPSED, S.IN_FORCE), (S.QUOTED, S.GRACE), (S.EXPIRED, S.IN_FORCE),
              (S.MATURED, S.RENEWED), (S.RENEWED, S.EXPIRED), (S.TERMINATED_BY_CLAIM, S.REINSTATED),
              (S.IN_FORCE, S.LAPSED), (S.GRACE, S.EXPIRED), (S.IN_FORCE, S.QUOTED), (S.EXPIRED, S.REINSTATED)]
START = date(2026, 1, 1)


def history(session, policy) -> list[PolicyStatusChange]:
    return list(session.scalars(select(PolicyStatusChange).where(PolicyStatusChange.policy_id == policy.id)))


def move(api, user, policy, to_status, effective_date="2026-02-01", reason="As agreed with the policyholder", **body):
    return api(user).post(f"/api/v1/policies/{policy.id}/transitions",
                          json={"to_status": to_status, "effective_date": effective_date, "reason": reason, **body})


def test_the_table_has_every_status_and_the_final_ones_are_final():
    assert set(ALLOWED_TRANSITIONS) == set(PolicyStatus) == set(REQUESTABLE_TRANSITIONS)
    assert {S.CANCELLED, S.RENEWED, S.MATURED, S.TERMINATED_BY_CLAIM} == FINAL_STATUSES
    for status, targets in REQUESTABLE_TRANSITIONS.items():
        assert targets <= ALLOWED_TRANSITIONS[status], status  # a person never asks for more than the book allows


def test_what_a_person_may_ask_for():
    assert REQUESTABLE == [(S.QUOTED, S.CANCELLED), (S.QUOTED, S.IN_FORCE), (S.IN_FORCE, S.CANCELLED),
                           (S.GRACE, S.CANCELLED), (S.LAPSED, S.REINSTATED), (S.REINSTATED, S.CANCELLED)]


@pytest.mark.parametrize(("from_status", "to_status"), ALLOWED, ids=[f"{a}->{b}" for a, b in ALLOWED])
def test_every_move_of_the_table_works_on_the_system_path_and_is_recorded(make, seller, session, from_status,
                                                                          to_status):
    policy = make.policy(policyholder=seller.holder, status=from_status, status_date=START)
    with acting_as("job:test"):
        transition(policy, to_status, effective_date=date(2026, 2, 1), reason="Established by the system")
    session.commit()
    assert (policy.status, policy.status_date) == (to_status, date(2026, 2, 1))
    [change] = history(session, policy)
    assert (change.from_status, change.to_status, change.effective_date) == (from_status, to_status, date(2026, 2, 1))
    assert (change.actor_user_id, change.actor_label) == (None, "job:test")


@pytest.mark.parametrize(("from_status", "to_status"), REQUESTABLE, ids=[f"{a}->{b}" for a, b in REQUESTABLE])
def test_every_requestable_move_works_through_the_api_and_is_recorded(api, make, seller, session, from_status,
                                                                      to_status):
    policy = make.policy(policyholder=seller.holder, status=from_status, status_date=START)
    response = move(api, seller.user, policy, to_status)
    assert response.status_code == 200, response.json
    assert (response.json["status"], response.json["status_date"]) == (to_status, "2026-02-01")
    [change] = history(session, policy)
    assert (change.from_status, change.to_status, change.effective_date) == (from_status, to_status, date(2026, 2, 1))
    assert change.reason == "As agreed with the policyholder"
    assert (change.actor_user_id, change.actor_label) == (seller.user.id, seller.user.username)


@pytest.mark.parametrize(("from_status", "to_status"), SYSTEM_ONLY, ids=[f"{a}->{b}" for a, b in SYSTEM_ONLY])
def test_a_move_only_the_system_makes_is_refused_to_a_person_with_what_makes_it(api, make, seller, session,
                                                                                from_status, to_status):
    policy = make.policy(policyholder=seller.holder, status=from_status, status_date=START)
    response = move(api, seller.user, policy, to_status)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"to_status"}
    [message] = response.json["errors"]["to_status"]
    assert f"becomes {to_status} only through" in message and "not by hand" in message
    for allowed in REQUESTABLE_TRANSITIONS[from_status]:
        assert allowed.value in message
    session.refresh(policy)
    assert policy.status == from_status
    assert history(session, policy) == []


@pytest.mark.parametrize(("from_status", "to_status"), DISALLOWED, ids=[f"{a}->{b}" for a, b in DISALLOWED])
def test_a_move_outside_the_table_is_422_on_to_status_and_writes_nothing(api, make, seller, session, from_status,
                                                                         to_status):
    policy = make.policy(policyholder=seller.holder, status=from_status, status_date=START)
    response = move(api, seller.user, policy, to_status)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"to_status"}
    for allowed in REQUESTABLE_TRANSITIONS[from_status]:
        assert allowed.value in response.json["errors"]["to_status"][0]
    session.refresh(policy)
    assert policy.status == from_status
    assert history(session, policy) == []
    with pytest.raises(Exception, match="cannot become"):
        transition(policy, to_status, effective_date=date(2026, 2, 1), reason="x")  # nor on the system path


def test_an_expired_policy_is_never_reinstated(api, make, seller):
    policy = make.policy(policyholder=seller.holder, status=S.EXPIRED, status_date=START)
    response = move(api, seller.user, policy, S.REINSTATED)
    assert response.status_code == 422
    assert "An expired policy cannot be reinstated" in response.json["errors"]["to_status"][0]


@pytest.mark.parametrize("to_status", [S.CANCELLED, S.REINSTATED])
def test_reason_is_required_for_a_cancellation_and_a_reinstatement(api, make, seller, session, to_status):
    from_status = {S.REINSTATED: S.LAPSED}.get(to_status, S.IN_FORCE)
    policy = make.policy(policyholder=seller.holder, status=from_status, status_date=START)
    response = move(api, seller.user, policy, to_status, reason="  ")
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"reason"}
    assert history(session, policy) == []


def test_effective_date_before_the_last_change_is_refused(api, make, seller):
    policy = make.policy(policyholder=seller.holder, status=S.IN_FORCE, status_date=date(2026, 3, 1))
    response = move(api, seller.user, policy, S.CANCELLED, effective_date="2026-02-28")
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"effective_date"}
    assert move(api, seller.user, policy, S.CANCELLED, effective_date="2026-03-01").status_code == 200


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
    with acting_as("job:policies.grace_and_lapse"):
        transition(policy, S.GRACE, effective_date=date(2026, 2, 1))
        transition(policy, S.LAPSED, effective_date=date(2026, 4, 1), reason="Grace period over")
    session.commit()
    assert move(api, seller.user, policy, S.REINSTATED, effective_date="2026-05-01",
                reason="Arrears paid").status_code == 200
    body = api(seller.user).get(f"/api/v1/policies/{policy.id}").json
    assert [(c["from_status"], c["to_status"], c["actor_label"]) for c in body["status_history"]] == [
        ("in_force", "grace", "job:policies.grace_and_lapse"), ("grace", "lapsed", "job:policies.grace_and_lapse"),
        ("lapsed", "reinstated", seller.user.username)]
    assert session.scalar(select(func.count(PolicyStatusChange.id))) == 3


# -- reinstatement ----------------------------------------------------------------------------------------

@pytest.fixture
def lapsed(scheduled_policy, seller, session):
    """The seller's quarterly policy of 100.00 an installment, effective ten months ago, lapsed last month with
    only its first installment paid: three installments (300.00) are due and unpaid."""
    policy = scheduled_policy(policyholder=seller.holder, frequency=PremiumFrequency.QUARTERLY,
                              effective_date=months_ago(10), expiry_date=months_ago(10) + timedelta(days=730),
                              status=S.LAPSED, status_date=months_ago(1))
    apply_payment(policy, Decimal("100.00"), months_ago(10))
    session.commit()
    return policy


def reinstate(api, user, policy, **body):
    return move(api, user, policy, S.REINSTATED, effective_date=TODAY.isoformat(), reason="Arrears settled", **body)


def test_a_reinstatement_with_unpaid_arrears_is_refused_with_the_amount_owed(api, seller, session, lapsed):
    response = reinstate(api, seller.user, lapsed)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"arrears_payment"}
    assert "Arrears of 300.00 are unpaid" in response.json["errors"]["arrears_payment"][0]
    session.refresh(lapsed)
    assert lapsed.status == S.LAPSED and history(session, lapsed) == []


def test_arrears_paid_with_the_reinstatement_reinstate_the_policy(api, seller, session, lapsed):
    payment = {"amount": "300.00", "paid_on": TODAY.isoformat(), "method": "cash", "reference": "REIN-1"}
    response = reinstate(api, seller.user, lapsed, arrears_payment=payment)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "reinstated"
    paid = session.scalars(select(Payment).where(Payment.policy_id == lapsed.id).order_by(Payment.id.desc())).first()
    assert (paid.amount, paid.reference) == (Decimal("300.00"), "REIN-1")
    unpaid_before_today = session.scalar(select(func.count()).select_from(Installment).where(
        Installment.policy_id == lapsed.id, Installment.status != InstallmentStatus.PAID,
        Installment.due_date < TODAY))
    assert unpaid_before_today == 0


def test_arrears_paid_beforehand_are_enough(api, seller, lapsed):
    assert api(seller.user).post(f"/api/v1/policies/{lapsed.id}/payments", json={"amount": "300.00"}).status_code \
        == 201
    assert reinstate(api, seller.user, lapsed).status_code == 200


def test_too_small_a_payment_with_the_reinstatement_is_refused_and_not_recorded(api, seller, session, lapsed):
    payment = {"amount": "299.99", "paid_on": TODAY.isoformat()}
    response = reinstate(api, seller.user, lapsed, arrears_payment=payment)
    assert response.status_code == 422
    assert "Arrears of 0.01 are unpaid" in response.json["errors"]["arrears_payment"][0]
    assert session.scalar(select(func.count(Payment.id))) == 1  # only the first installment's
    session.refresh(lapsed)
    assert lapsed.status == S.LAPSED


def test_a_payment_the_book_refuses_is_named_on_arrears_payment(api, seller, session, lapsed):
    payment = {"amount": "0", "paid_on": TODAY.isoformat()}
    response = reinstate(api, seller.user, lapsed, arrears_payment=payment)
    assert response.status_code == 422
    assert response.json["errors"] == {"arrears_payment": ["Must be greater than zero."]}


def test_only_a_reinstatement_takes_a_payment(api, make, seller, session):
    policy = make.policy(policyholder=seller.holder, status=S.IN_FORCE, status_date=START)
    response = move(api, seller.user, policy, S.CANCELLED, arrears_payment={"amount": "10.00"})
    assert response.status_code == 422 and set(response.json["errors"]) == {"arrears_payment"}
    assert session.scalar(select(func.count(Payment.id))) == 0


def test_a_lapsed_policy_whose_term_has_ended_is_not_reinstated(api, make, seller):
    policy = make.policy(policyholder=seller.holder, status=S.LAPSED, status_date=months_ago(14),
                         effective_date=months_ago(20), expiry_date=months_ago(8))
    response = move(api, seller.user, policy, S.REINSTATED, effective_date=TODAY.isoformat())
    assert response.status_code == 422
    assert "cannot be reinstated, only renewed" in response.json["errors"]["effective_date"][0]


def test_a_lapse_older_than_two_years_is_not_reinstated(api, make, seller):
    policy = make.policy(policyholder=seller.holder, status=S.LAPSED, status_date=months_ago(25),
                         effective_date=months_ago(30), expiry_date=months_ago(30) + timedelta(days=3650))
    response = move(api, seller.user, policy, S.REINSTATED, effective_date=TODAY.isoformat())
    assert response.status_code == 422
    assert "within two years" in response.json["errors"]["effective_date"][0]
    policy_in_time = make.policy(policyholder=seller.holder, status=S.LAPSED, status_date=months_ago(23),
                                 effective_date=months_ago(30), expiry_date=months_ago(30) + timedelta(days=3650))
    assert move(api, seller.user, policy_in_time, S.REINSTATED, effective_date=TODAY.isoformat()).status_code == 200


# -- the system's paths still make the moves a person may not ----------------------------------------------

def test_the_system_paths_make_the_moves_refused_to_a_person(api, make, seller, session):
    """Grace and lapse by the daily job, back in force by a payment, expiry and maturity by the job, a late
    renewal by writing the renewal: each a move the transitions endpoint refuses to a person."""
    from policies.tasks import grace_and_lapse

    day = TODAY
    unpaid = make.policy(policyholder=seller.holder, effective_date=day - timedelta(days=40),
                         expiry_date=day + timedelta(days=300))
    session.add(Installment(policy_id=unpaid.id, sequence=1, due_date=day - timedelta(days=40), amount=unpaid.premium,
                            paid_amount=Decimal("0"), status=InstallmentStatus.DUE))
    renewable = make.policy(policyholder=seller.holder, effective_date=day - timedelta(days=365),
                            expiry_date=day, product=make.product(renewable=True))
    term_life = make.policy(policyholder=seller.holder, effective_date=day - timedelta(days=365),
                            expiry_date=day, product=make.product(renewable=False, line="life"))
    session.commit()
    counts = grace_and_lapse(day)
    session.commit()
    assert (counts["to_grace"], counts["expired"], counts["matured"]) == (1, 1, 1)
    for policy, status in ((unpaid, S.GRACE), (renewable, S.EXPIRED), (term_life, S.MATURED)):
        session.refresh(policy)
        assert policy.status == status

    paid = api(seller.user).post(f"/api/v1/policies/{unpaid.id}/payments", json={"amount": str(unpaid.premium)})
    assert paid.status_code == 201
    session.refresh(unpaid)
    assert unpaid.status == S.IN_FORCE  # the payment cleared the arrears

    renewal = api(seller.user).post("/api/v1/policies", json={
        "policyholder_id": seller.holder.id, "product_id": renewable.product_id, "renews_policy_id": renewable.id,
        "effective_date": day.isoformat(), "sum_insured": "100000", "premium": "1200", "frequency": "annual"})
    assert renewal.status_code == 201, renewal.json
    session.refresh(renewable)
    assert renewable.status == S.RENEWED  # a late renewal, written
