"""The demo book's policies look as if the application had run them: schedules, renewals, history, money."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from policies.models import (
    Claim,
    Commission,
    Installment,
    Payment,
    PaymentAllocation,
    Policy,
    PolicyStatusChange,
    Product,
    RenewalCase,
)
from policies.numbers import is_valid_number
from policies.schedule import schedule_dates
from policies.status import ALLOWED_TRANSITIONS, REASON_REQUIRED
from tests.demo.conftest import TODAY


def _by_policy(session, model, order):
    grouped = defaultdict(list)
    for row in session.scalars(select(model).order_by(order)):
        grouped[row.policy_id].append(row)
    return grouped


def test_policies_span_six_years_of_every_line_and_business_type(book, session):
    policies = session.scalars(select(Policy)).all()
    assert {p.product.line.value for p in policies} >= {"life", "health", "accident", "motor", "property", "annuity"}
    assert {p.business_type.value for p in policies} == {"new", "transfer_in", "renewal"}
    assert {p.channel.value for p in policies} == {"agency", "bancassurance", "direct", "telesales"}
    assert min(p.issue_date for p in policies) >= TODAY - relativedelta(years=6, days=7)
    assert max(p.issue_date for p in policies) <= TODAY
    assert all(is_valid_number(p.number) for p in policies)
    assert all(p.number[2:6] == str(p.issue_date.year) for p in policies)


def test_installments_are_the_schedule_at_the_modal_premium(book, session):
    installments = _by_policy(session, Installment, Installment.sequence)
    for policy in session.scalars(select(Policy)):
        rows = installments[policy.id]
        assert [i.due_date for i in rows] == schedule_dates(policy.effective_date, policy.expiry_date,
                                                            policy.frequency)
        assert [i.sequence for i in rows] == list(range(1, len(rows) + 1))
        assert all(i.amount == policy.premium for i in rows)


def test_renewals_chain_to_the_policy_they_renew(book, session):
    policies = {p.id: p for p in session.scalars(select(Policy))}
    renewals = [p for p in policies.values() if p.renews_policy_id is not None]
    assert renewals
    for renewal in renewals:
        old = policies[renewal.renews_policy_id]
        assert renewal.business_type.value == "renewal"
        assert old.status.value == "renewed" and old.product.renewable
        assert (renewal.policyholder_id, renewal.product_id) == (old.policyholder_id, old.product_id)
        assert renewal.effective_date == old.expiry_date == old.status_date
    renewed = [p for p in policies.values() if p.status.value == "renewed"]
    assert sorted(p.id for p in renewed) == sorted(r.renews_policy_id for r in renewals)


def test_every_status_agrees_with_its_history(book, session):
    history = _by_policy(session, PolicyStatusChange, PolicyStatusChange.id)
    for policy in session.scalars(select(Policy)):
        changes = history[policy.id]
        assert changes[0].from_status is None
        for before, after in zip(changes, changes[1:], strict=False):
            assert after.from_status == before.to_status
            assert after.to_status in ALLOWED_TRANSITIONS[before.to_status]
            assert after.effective_date >= before.effective_date
        assert all(c.reason for c in changes if c.to_status in REASON_REQUIRED)
        assert changes[-1].to_status == policy.status
        assert changes[-1].effective_date == policy.status_date <= TODAY


def test_book_shows_every_kind_of_policy_life(book, session):
    policies = session.scalars(select(Policy)).all()
    statuses = {p.status.value for p in policies}
    assert {"in_force", "renewed", "expired", "cancelled"} <= statuses
    transitions = {(c.from_status and c.from_status.value, c.to_status.value)
                   for c in session.scalars(select(PolicyStatusChange))}
    assert {("in_force", "grace"), ("grace", "in_force"), ("grace", "lapsed")} <= transitions
    cooling_off = [p for p in policies if p.cooling_off_cancellation]
    assert cooling_off and all(p.status.value == "cancelled" for p in cooling_off)
    assert all((p.status_date - p.issue_date).days <= p.product.cooling_off_days for p in cooling_off)
    others = [p for p in policies if p.status.value == "cancelled" and not p.cooling_off_cancellation]
    assert all((p.status_date - p.issue_date).days > p.product.cooling_off_days for p in others)
    assert all(p.cancellation_reason for p in cooling_off + others)


def test_paid_amounts_equal_allocations_and_payments_and_arrears_mean_grace_or_lapse(book, session):
    allocations = defaultdict(list)
    for allocation in session.scalars(select(PaymentAllocation)):
        allocations[allocation.installment_id].append(allocation)
    payments = {p.id: p for p in session.scalars(select(Payment))}
    for installment in session.scalars(select(Installment)):
        applied = allocations[installment.id]
        assert installment.paid_amount == sum((a.amount for a in applied), Decimal("0"))
        if installment.status.value == "paid":
            assert installment.paid_amount == installment.amount
            assert installment.paid_date == max(payments[a.payment_id].paid_on for a in applied) <= TODAY
        else:
            assert not applied and installment.paid_date is None
    by_payment = defaultdict(Decimal)
    for applied in allocations.values():
        for allocation in applied:
            by_payment[allocation.payment_id] += allocation.amount
    assert all(payment.amount == by_payment[payment.id] for payment in payments.values())
    overdue = {i.policy_id for i in session.scalars(select(Installment).where(Installment.status == "due",
                                                                              Installment.due_date < TODAY))}
    for policy in session.scalars(select(Policy)):
        if policy.status.value in ("in_force", "reinstated", "grace", "lapsed"):
            assert (policy.id in overdue) == (policy.status.value in ("grace", "lapsed")), policy.number



def test_commissions_follow_the_payment_rules(book, session):
    """The product's commission on each payment's premium of a kind, split with the bank partner by its commission
    rate (policies.payments.split_commission): the partner's part is base × its rate, the agent's the product's
    commission less the partner's, the two adding up to the product's commission to the cent."""
    from agents.models import BankPartner

    cent = Decimal("0.01")
    products = {p.id: p for p in session.scalars(select(Product))}
    policies = {p.id: p for p in session.scalars(select(Policy))}
    payments = {p.id: p for p in session.scalars(select(Payment))}
    partner_rates = dict(session.execute(select(BankPartner.id, BankPartner.commission_rate)).all())
    agent_base = defaultdict(Decimal)
    parts: dict[tuple[int, str], dict[str, object]] = defaultdict(dict)
    kinds = set()
    for commission in session.scalars(select(Commission)):
        policy = policies[commission.policy_id]
        assert commission.earned_on == payments[commission.payment_id].paid_on
        parts[commission.payment_id, commission.kind.value][commission.payee.value] = commission
        if commission.payee.value == "agent":
            assert commission.agent_id == policy.servicing_agent_id
            agent_base[commission.payment_id] += commission.base_amount
        else:
            assert policy.channel.value == "bancassurance"
            assert commission.bank_partner_id == policy.bank_partner_id
            assert commission.rate == partner_rates[policy.bank_partner_id]
            assert commission.amount == (commission.base_amount * commission.rate).quantize(cent, ROUND_HALF_UP)
        kinds.add((commission.payee.value, commission.kind.value))
    for (payment_id, kind), rows in parts.items():
        policy = policies[payments[payment_id].policy_id]
        product = products[policy.product_id]
        rate = product.first_year_commission_rate if kind == "first_year" else product.renewal_commission_rate
        agent, partner = rows.get("agent"), rows.get("bank_partner")
        base = (agent or partner).base_amount
        commission = (base * rate).quantize(cent, ROUND_HALF_UP)
        if partner is None:
            assert agent.amount == commission and agent.rate == rate
        elif agent is not None:
            assert agent.amount == max(commission - partner.amount, Decimal("0"))
            assert agent.rate == max(rate - partner.rate, Decimal("0"))
    assert kinds == {("agent", "first_year"), ("agent", "renewal"), ("bank_partner", "first_year"),
                     ("bank_partner", "renewal")}
    assert all(agent_base[p.id] == p.amount for p in payments.values())


def test_claims_paid_rejected_and_open(book, session):
    claims = session.scalars(select(Claim)).all()
    statuses = {c.status.value for c in claims}
    assert {"paid", "rejected"} <= statuses and statuses & {"reported", "under_review", "approved"}
    for claim in claims:
        assert is_valid_number(claim.number) and claim.number.startswith("CL")
        assert claim.policy_id and claim.loss_date <= claim.report_date < TODAY
        assert claim.paid_amount <= claim.incurred_amount
        assert (claim.rejection_reason is not None) == (claim.status.value == "rejected")
        if claim.status.value == "paid":
            assert claim.paid_amount == claim.incurred_amount > 0


def test_renewal_cases_follow_the_policies(book, session):
    policies = {p.id: p for p in session.scalars(select(Policy))}
    cases = session.scalars(select(RenewalCase)).all()
    assert {c.status.value for c in cases} >= {"renewed", "lost"}
    for case in cases:
        policy = policies[case.policy_id]
        assert policy.product.renewable and case.due_date == policy.expiry_date
        assert case.opened_on == case.due_date - timedelta(days=60) <= TODAY
        if case.status.value == "renewed":
            assert policies[case.renewing_policy_id].renews_policy_id == policy.id
        if case.status.value == "lost":
            assert policy.status.value == "expired" and case.lost_reason is not None
