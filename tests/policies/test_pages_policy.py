"""The policy page (/policies/<id>): details, people, premium, payments, history, renewal chain, status moves."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from agents.models import AgentChannel
from insurecrm import clock
from insurecrm.models import Role
from policies.models import (
    Beneficiary,
    Installment,
    InsuredPerson,
    Payment,
    PolicyStatus,
    PolicyStatusChange,
    PremiumFrequency,
    SalesChannel,
)
from policies.payments import apply_payment
from policies.status import transition
from tests.api_client import csrf_token
from tests.helpers import counted_queries
from tests.policies.conftest import months_ago


def paid_on() -> str:
    """Yesterday in the insurer's time zone: a payment date in the past whatever the server's zone."""
    return (clock.today() - timedelta(days=1)).isoformat()


def rows(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def monthly(scheduled_policy, seller, make, session):
    """The seller's monthly policy (100.00 a month, effective six months ago) with people on it."""
    policy = scheduled_policy(policyholder=seller.holder, frequency=PremiumFrequency.MONTHLY, number="HE-MONTHLY",
                              effective_date=months_ago(6), expiry_date=months_ago(6) + timedelta(days=365))
    session.add_all([
        InsuredPerson(policy_id=policy.id, name="Insured Li Na", relation_to_holder="spouse"),
        Beneficiary(policy_id=policy.id, name="Beneficiary Li Xiaoming", relation_to_insured="child",
                    share_percent=Decimal("100")),
    ])
    session.commit()
    return policy


def page(client, policy):
    return client.get(f"/policies/{policy.id}")


def test_the_page_shows_the_policy_its_people_and_its_premium(web, seller, monthly, make, session):
    apply_payment(monthly, Decimal("100.00"), months_ago(6), reference="BANK-REF-77")
    transition(monthly, PolicyStatus.GRACE, effective_date=months_ago(1), reason="Premium overdue")
    session.commit()
    response = page(web(seller.user), monthly)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for text in ("HE-MONTHLY", monthly.product.name, seller.holder.name, seller.agent.name, "Agency", "New business",
                 "Insured Li Na", "Beneficiary Li Xiaoming", "Monthly", "Grace period", "Premium overdue",
                 "BANK-REF-77", "Paid", "Record a payment", "Change status"):
        assert text in html, text
    assert f'href="/policyholders/{seller.holder.id}"' in html
    assert "¥1,200.00" in html  # the annualised premium: 12 × 100.00
    # a person may only cancel a policy in grace: back in force, lapse and termination are the system's moves
    assert "<summary>Cancelled</summary>" in html
    for target in ("In force", "Lapsed", "Terminated by claim", "Expired"):
        assert f"<summary>{target}</summary>" not in html


def test_a_bancassurance_policy_names_its_bank_and_referrer(web, make, seller):
    branch = make.bank_branch(name="Lujiazui Branch")
    referrer = make.referrer(branch, name="Teller Zhou")
    policy = make.policy(policyholder=seller.holder, channel=SalesChannel.BANCASSURANCE,
                         bank_partner_id=branch.bank_partner_id, bank_branch_id=branch.id, referrer_id=referrer.id)
    html = page(web(seller.user), policy).get_data(as_text=True)
    assert "Bancassurance" in html and "Lujiazui Branch" in html and "Teller Zhou" in html


def test_the_renewal_chain_links_both_ways(web, make, seller):
    first = make.policy(policyholder=seller.holder, number="P-FIRST", status=PolicyStatus.RENEWED)
    second = make.policy(policyholder=seller.holder, number="P-SECOND", renews_policy_id=first.id)
    third = make.policy(policyholder=seller.holder, number="P-THIRD", renews_policy_id=second.id)
    html = page(web(seller.user), second).get_data(as_text=True)
    assert f'<a href="/policies/{first.id}">P-FIRST</a>' in html
    assert f'<a href="/policies/{third.id}">P-THIRD</a>' in html


def test_another_agents_policy_is_not_found(web, make, seller):
    theirs = make.policy()
    response = page(web(seller.user), theirs)
    assert response.status_code == 404
    assert theirs.number not in response.get_data(as_text=True)


def test_a_bank_referrer_may_not_open_a_policy(web, make, monthly):
    assert page(web(make.user(Role.BANK_REFERRER)), monthly).status_code == 403


def test_a_branch_manager_of_the_unit_may_work_the_policy(web, make, seller, monthly):
    manager = make.user(Role.BRANCH_MANAGER, org_unit_id=seller.agent.org_unit_id)
    html = page(web(manager), monthly).get_data(as_text=True)
    assert "Record a payment" in html and "Change status" in html


def test_the_actuary_reads_without_names_and_without_forms(web, make, seller, monthly, session):
    apply_payment(monthly, Decimal("50.00"), months_ago(6), reference="BANK-REF-77")
    session.commit()
    actuary = make.user(Role.ACTUARY)
    client = web(actuary)
    html = page(client, monthly).get_data(as_text=True)
    assert "HE-MONTHLY" in html and "¥50.00" in html
    for secret in (seller.holder.name, seller.agent.name, "Insured Li Na", "Beneficiary Li Xiaoming", "BANK-REF-77"):
        assert secret not in html, secret
    assert "Record a payment" not in html and "Change status" not in html
    token = csrf_token(client)
    assert client.post(f"/policies/{monthly.id}/payments", data={"csrf_token": token, "amount": "100"}).status_code \
        == 403
    assert client.post(f"/policies/{monthly.id}/transitions",
                       data={"csrf_token": token, "to_status": "grace"}).status_code == 403


def test_recording_a_payment_applies_it_and_comes_back_to_the_page(web, seller, monthly, session):
    client = web(seller.user)
    response = client.post(f"/policies/{monthly.id}/payments", data={
        "csrf_token": csrf_token(client), "amount": "150.00", "paid_on": paid_on(), "method": "cash",
        "reference": "R-1"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/policies/{monthly.id}#payments")
    payment = session.scalars(select(Payment).where(Payment.policy_id == monthly.id)).one()
    assert (payment.amount, payment.method, payment.reference) == (Decimal("150.00"), "cash", "R-1")
    statuses = session.scalars(select(Installment.status).where(Installment.policy_id == monthly.id)
                               .order_by(Installment.sequence).limit(2)).all()
    assert statuses == ["paid", "partially_paid"]
    assert "Payment of" in client.get(response.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize(("amount", "message"), [
    ("0", "Must be greater than zero."), ("abc", "Not a valid number."), ("99999", "Exceeds the"),
    ("1.005", "Use at most 2 decimal places."),
])
def test_a_bad_payment_shows_the_field_error_and_writes_nothing(web, seller, monthly, session, amount, message):
    client = web(seller.user)
    response = client.post(f"/policies/{monthly.id}/payments", data={
        "csrf_token": csrf_token(client), "amount": amount, "paid_on": paid_on()})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="amount-error"' in html and message in html
    assert f'value="{amount}"' in html  # the input is kept
    assert rows(session, Payment) == 0


def test_a_payment_dated_in_the_future_is_refused(web, seller, monthly, session):
    client = web(seller.user)
    future = (clock.today() + timedelta(days=3)).isoformat()
    response = client.post(f"/policies/{monthly.id}/payments", data={
        "csrf_token": csrf_token(client), "amount": "100", "paid_on": future})
    assert response.status_code == 422 and "Must not be in the future." in response.get_data(as_text=True)
    assert rows(session, Payment) == 0


def test_another_agents_policy_takes_no_payment(web, make, seller, session):
    theirs = make.policy()
    client = web(seller.user)
    response = client.post(f"/policies/{theirs.id}/payments", data={"csrf_token": csrf_token(client),
                                                                     "amount": "100"})
    assert response.status_code == 404
    assert rows(session, Payment) == 0


def test_a_status_change_is_recorded_with_its_reason(web, seller, monthly, session):
    client = web(seller.user)
    response = client.post(f"/policies/{monthly.id}/transitions", data={
        "csrf_token": csrf_token(client), "to_status": "cancelled", "reason": "Customer moved abroad",
        "effective_date": months_ago(1).isoformat()})
    assert response.status_code == 302
    session.refresh(monthly)
    assert (monthly.status, monthly.cancellation_reason) == (PolicyStatus.CANCELLED, "Customer moved abroad")
    change = session.scalars(select(PolicyStatusChange).where(PolicyStatusChange.policy_id == monthly.id)).one()
    assert (change.to_status, change.actor_user_id) == (PolicyStatus.CANCELLED, seller.user.id)
    html = client.get(f"/policies/{monthly.id}").get_data(as_text=True)
    assert "Customer moved abroad" in html and "This status is final." in html
    assert "takes no more payments" in html and "Record a payment" not in html


def test_an_ended_policy_refuses_a_payment_and_says_why(web, seller, monthly, session):
    transition(monthly, PolicyStatus.CANCELLED, effective_date=monthly.status_date, reason="Moved away")
    session.commit()
    client = web(seller.user)
    response = client.post(f"/policies/{monthly.id}/payments", data={"csrf_token": csrf_token(client),
                                                                      "amount": "100", "paid_on": paid_on()})
    assert response.status_code == 422
    assert 'id="_schema-error"' in response.get_data(as_text=True) and "takes no payments" in response.get_data(
        as_text=True)
    assert rows(session, Payment) == 0


@pytest.mark.parametrize(("form", "field", "message"), [
    ({"to_status": "cancelled"}, "cancelled-reason", "A reason is required"),
    ({"to_status": "quoted"}, "to_status", "cannot become quoted"),
    ({"to_status": "cancelled", "reason": "Moved", "effective_date": "2001-01-01"}, "cancelled-effective_date",
     "Must not be before"),
    ({"to_status": "cancelled", "effective_date": "someday"}, "cancelled-effective_date", "Not a valid date."),
    ({"to_status": "grace"}, "to_status", "becomes grace only through the daily job"),
    ({"to_status": "terminated_by_claim", "reason": "Died"}, "to_status", "only through settling a claim"),
])
def test_a_refused_status_change_shows_why_and_changes_nothing(web, seller, monthly, session, form, field, message):
    client = web(seller.user)
    response = client.post(f"/policies/{monthly.id}/transitions", data={"csrf_token": csrf_token(client), **form})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-error"' in html and message in html
    session.refresh(monthly)
    assert monthly.status == PolicyStatus.IN_FORCE
    assert rows(session, PolicyStatusChange) == 0


def test_the_page_runs_a_fixed_number_of_queries(web, make, seller, scheduled_policy, session):
    client = web(seller.user)
    small = scheduled_policy(policyholder=seller.holder, frequency=PremiumFrequency.ANNUAL,
                             effective_date=months_ago(2))
    large = scheduled_policy(policyholder=seller.holder, frequency=PremiumFrequency.MONTHLY,
                             effective_date=months_ago(30), expiry_date=months_ago(30) + timedelta(days=3650))
    apply_payment(small, Decimal("100.00"), months_ago(1))
    for n in range(20):
        apply_payment(large, Decimal("100.00"), months_ago(30 - n))
        session.add(InsuredPerson(policy_id=large.id, name=f"Insured {n}"))
        make.agent(channel=AgentChannel.AGENCY)
    session.commit()
    page(client, small)  # a first request, so that both counted ones start alike
    counted = []
    for policy in (small, large):
        session.commit()
        session.expunge_all()  # the request shares the test's session: start both from an empty identity map
        with counted_queries() as queries:
            assert page(client, policy).status_code == 200
        counted.append(len(queries))
    assert counted[0] == counted[1]


# -- reinstatement on the page ----------------------------------------------------------------------------

@pytest.fixture
def lapsed(monthly, session):
    """The monthly policy lapsed last week with nothing paid: six installments (600.00) overdue."""
    monthly.status, monthly.status_date = PolicyStatus.LAPSED, clock.today() - timedelta(days=7)
    session.commit()
    return monthly


def test_a_lapsed_policy_offers_only_reinstatement_with_the_arrears_owed(web, seller, lapsed):
    html = page(web(seller.user), lapsed).get_data(as_text=True)
    assert "<summary>Reinstated</summary>" in html
    assert "<summary>Expired</summary>" not in html and "<summary>In force</summary>" not in html
    assert "Arrears owed today: CN¥600.00" in html
    assert 'id="arrears_amount" name="arrears_amount" inputmode="decimal"\n             value="600.00"' in html


def test_a_reinstatement_with_arrears_unpaid_is_refused_with_the_amount(web, seller, lapsed, session):
    client = web(seller.user)
    response = client.post(f"/policies/{lapsed.id}/transitions", data={
        "csrf_token": csrf_token(client), "to_status": "reinstated", "reason": "Customer is back",
        "effective_date": clock.today().isoformat(), "arrears_amount": "100.00"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="arrears_payment-error"' in html and "Arrears of 500.00 are unpaid" in html
    session.refresh(lapsed)
    assert lapsed.status == PolicyStatus.LAPSED and rows(session, Payment) == 0


def test_a_reinstatement_paying_the_arrears_reinstates_the_policy(web, seller, lapsed, session):
    client = web(seller.user)
    response = client.post(f"/policies/{lapsed.id}/transitions", data={
        "csrf_token": csrf_token(client), "to_status": "reinstated", "reason": "Customer is back",
        "effective_date": clock.today().isoformat(), "arrears_amount": "600.00", "arrears_method": "cash",
        "arrears_reference": "REIN-9"})
    assert response.status_code == 302
    session.refresh(lapsed)
    assert lapsed.status == PolicyStatus.REINSTATED
    payment = session.scalars(select(Payment).where(Payment.policy_id == lapsed.id)).one()
    assert (payment.amount, payment.method, payment.reference) == (Decimal("600.00"), "cash", "REIN-9")
    html = client.get(f"/policies/{lapsed.id}").get_data(as_text=True)
    assert "The policy is now Reinstated." in html and "REIN-9" in html


def test_a_bad_arrears_amount_is_named_next_to_the_field(web, seller, lapsed, session):
    client = web(seller.user)
    response = client.post(f"/policies/{lapsed.id}/transitions", data={
        "csrf_token": csrf_token(client), "to_status": "reinstated", "reason": "Customer is back",
        "arrears_amount": "six hundred"})
    assert response.status_code == 422
    assert 'id="arrears_payment-error"' in response.get_data(as_text=True)
    assert rows(session, Payment) == 0
