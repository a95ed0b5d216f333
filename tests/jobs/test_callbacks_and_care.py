"""New-policy callbacks, birthday greetings and key-customer service calls: the right rows on the right day, once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from agents.models import Activity, ActivityKind, ActivityStatus, AgentStatus, TaskReason
from insurecrm import clock, jobs
from insurecrm.models import Outbox, OutboxChannel
from policies.models import BusinessType, PolicyStatus, PremiumFrequency
from policies.tasks import new_policy_callbacks
from policyholders.models import ContactChannel, PartyKind
from policyholders.tasks import birthday_greetings, birthday_month_days, key_customer_callbacks
from tests.helpers import saved

DAY = date(2026, 11, 22)
#: 09:00 in Asia/Shanghai (the default time zone) the next day
NEXT_MORNING = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def on_the_day():
    """The jobs run on their logical date (a late run has rules of its own: tests/jobs/test_late_work.py)."""
    with clock.frozen(datetime(2026, 11, 22, 1, 0, tzinfo=UTC)):  # 09:00 in Asia/Shanghai
        yield


def run(job_id: str, day: date = DAY):
    return jobs.run_job(jobs.registered([job_id])[0], day)


def activities(session, kind) -> list[Activity]:
    return list(session.scalars(select(Activity).where(Activity.kind == kind).order_by(Activity.id)))


# -- new-policy callbacks ----------------------------------------------------------------------------------

def test_a_new_policy_of_a_product_requiring_it_gets_one_callback_inside_cooling_off(make, session):
    product = make.product(callback_required=True, cooling_off_days=15)
    new = make.policy(product=product, effective_date=DAY)
    make.policy(product=product, effective_date=DAY, business_type=BusinessType.RENEWAL)
    make.policy(product=make.product(callback_required=False), effective_date=DAY)
    make.policy(product=product, effective_date=DAY + timedelta(days=1))  # not issued yet
    make.policy(product=product, effective_date=DAY - timedelta(days=15))  # its cooling-off is over
    make.policy(product=product, effective_date=DAY - timedelta(days=2), status=PolicyStatus.CANCELLED)

    assert run("policies.new_policy_callbacks").counts == {"callbacks_planned": 1}
    [callback] = activities(session, ActivityKind.CALLBACK)
    assert (callback.policy_id, callback.policyholder_id, callback.agent_id, callback.org_unit_id) == (
        new.id, new.policyholder_id, new.servicing_agent_id, new.org_unit_id)
    assert (callback.status, callback.planned_start) == (ActivityStatus.PLANNED, NEXT_MORNING)
    assert new.number in callback.subject and callback.contact_name == new.policyholder.name
    assert (callback.reason, callback.due_date, callback.source_key) == (
        TaskReason.NEW_POLICY_CALLBACK, DAY + timedelta(days=1), f"new_policy_callback:policy={new.id}")

    assert run("policies.new_policy_callbacks") is None
    assert new_policy_callbacks(DAY) == {"callbacks_planned": 0}
    assert new_policy_callbacks(DAY + timedelta(days=1)) == {"callbacks_planned": 1}  # the one issued the next day
    assert len(activities(session, ActivityKind.CALLBACK)) == 2


def test_a_callback_planned_by_hand_or_for_an_inactive_agent(make, session):
    product = make.product(callback_required=True)
    by_hand = make.policy(product=product, effective_date=DAY - timedelta(days=1))
    saved(make, Activity(agent_id=by_hand.servicing_agent_id, org_unit_id=by_hand.org_unit_id,
                         kind=ActivityKind.CALLBACK, subject="Called already", planned_start=NEXT_MORNING,
                         policy_id=by_hand.id))
    orphan = make.policy(make.policyholder(owner=make.agent(status=AgentStatus.INACTIVE)), product,
                         effective_date=DAY)
    assert new_policy_callbacks(DAY) == {"callbacks_planned": 1}
    [planned] = [a for a in activities(session, ActivityKind.CALLBACK) if a.policy_id == orphan.id]
    assert planned.agent_id is None and planned.org_unit_id == orphan.org_unit_id


# -- birthday greetings --------------------------------------------------------------------------------------

def greeted(session) -> list[Outbox]:
    return list(session.scalars(select(Outbox).where(Outbox.kind == "birthday").order_by(Outbox.id)))


def test_birthday_greetings_go_only_to_consenting_reachable_people_born_today(make, session):
    born = date(1980, 11, 22)
    email = make.policyholder(date_of_birth=born, consent_marketing=True, consent_email=True,
                              preferred_language="en")
    sms = make.policyholder(date_of_birth=born, consent_marketing=True, consent_email=True, consent_sms=True,
                            preferred_channel=ContactChannel.PHONE)
    make.policyholder(date_of_birth=born, consent_email=True, consent_sms=True)  # no marketing consent
    make.policyholder(date_of_birth=born, consent_marketing=True)  # no channel consent
    make.policyholder(date_of_birth=born, consent_marketing=True, consent_email=True, email=None)
    make.policyholder(date_of_birth=date(1980, 12, 22), consent_marketing=True, consent_email=True)
    make.policyholder(date_of_birth=date(1980, 11, 21), consent_marketing=True, consent_email=True)
    make.policyholder(date_of_birth=born, consent_marketing=True, consent_email=True, kind=PartyKind.ORGANISATION)

    assert run("policyholders.birthday_greetings").counts == {"greetings_queued": 2}
    first, second = greeted(session)
    assert (first.policyholder_id, first.channel, first.recipient, first.language) == (
        email.id, OutboxChannel.EMAIL, email.email, "en")
    assert (second.policyholder_id, second.channel, second.recipient, second.language) == (
        sms.id, OutboxChannel.SMS, sms.phone, "zh")
    assert first.idempotency_key == f"birthday:holder={email.id}:year=2026"
    assert first.payload == {"policyholder_name": email.name, "agent_name": email.owner_agent.name}
    assert first.agent_id == email.owner_agent_id and first.policy_id is None

    assert run("policyholders.birthday_greetings") is None
    assert birthday_greetings(DAY) == {"greetings_queued": 0}
    assert birthday_greetings(DAY + timedelta(days=1)) == {"greetings_queued": 0}
    assert birthday_greetings(date(2027, 11, 22)) == {"greetings_queued": 2}  # next year's


def test_a_leap_day_birthday_is_greeted_on_feb_28_in_other_years(make, session):
    leap = make.policyholder(date_of_birth=date(1992, 2, 29), consent_marketing=True, consent_email=True)
    feb_28 = make.policyholder(date_of_birth=date(1990, 2, 28), consent_marketing=True, consent_sms=True)
    assert birthday_month_days(date(2027, 2, 28)) == [(2, 28), (2, 29)]
    assert birthday_month_days(date(2028, 2, 28)) == [(2, 28)]
    assert birthday_month_days(date(2100, 2, 28)) == [(2, 28), (2, 29)]  # 2100 is not a leap year

    assert birthday_greetings(date(2027, 2, 28)) == {"greetings_queued": 2}
    assert birthday_greetings(date(2027, 3, 1)) == {"greetings_queued": 0}
    assert birthday_greetings(date(2028, 2, 28)) == {"greetings_queued": 1}
    assert birthday_greetings(date(2028, 2, 29)) == {"greetings_queued": 1}
    keys = [row.idempotency_key for row in greeted(session)]
    assert keys.count(f"birthday:holder={leap.id}:year=2027") == 1 and f"birthday:holder={leap.id}:year=2028" in keys
    assert f"birthday:holder={feb_28.id}:year=2028" in keys


# -- key-customer service calls -----------------------------------------------------------------------------

def key_customer(make, owner=None, monthly=Decimal("4200.00")):
    """A policyholder paying 12 × ``monthly`` a year (50,400 by default: a key customer)."""
    holder = make.policyholder(owner=owner) if owner is not None else make.policyholder()
    make.policy(holder, premium=monthly, frequency=PremiumFrequency.MONTHLY)
    return holder


def call(make, holder, status, at: datetime, kind=ActivityKind.CALL) -> Activity:
    return saved(make, Activity(agent_id=holder.owner_agent_id, org_unit_id=holder.org_unit_id, kind=kind,
                                subject="Service call", planned_start=at, status=status, policyholder_id=holder.id))


def test_key_customers_get_a_service_call_when_none_was_done_or_planned_lately(make, session):
    due = key_customer(make)
    two_policies = make.policyholder()
    make.policy(two_policies, premium=Decimal("30000.00"))
    make.policy(two_policies, premium=Decimal("20000.00"))
    small = key_customer(make, monthly=Decimal("4000.00"))  # 48,000 a year
    lapsed_book = make.policyholder()
    make.policy(lapsed_book, premium=Decimal("90000.00"), status=PolicyStatus.LAPSED)
    called_lately = key_customer(make)
    call(make, called_lately, ActivityStatus.DONE, datetime(2026, 9, 1, tzinfo=UTC))
    called_long_ago = key_customer(make)
    call(make, called_long_ago, ActivityStatus.DONE, datetime(2026, 8, 1, tzinfo=UTC))
    visit_planned = key_customer(make)
    call(make, visit_planned, ActivityStatus.PLANNED, datetime(2026, 12, 5, tzinfo=UTC), kind=ActivityKind.VISIT)
    cancelled_only = key_customer(make)
    call(make, cancelled_only, ActivityStatus.CANCELLED, datetime(2026, 11, 1, tzinfo=UTC))
    pooled = key_customer(make, owner=make.agent(status=AgentStatus.INACTIVE))

    assert run("policyholders.key_customer_callbacks").counts == {"key_customer_calls": 5}
    planned = [a for a in activities(session, ActivityKind.CALL) if a.status == ActivityStatus.PLANNED]
    assert {a.policyholder_id for a in planned} == {due.id, two_policies.id, called_long_ago.id, cancelled_only.id,
                                                    pooled.id}
    mine = next(a for a in planned if a.policyholder_id == due.id)
    assert (mine.agent_id, mine.org_unit_id, mine.planned_start) == (due.owner_agent_id, due.org_unit_id, NEXT_MORNING)
    assert (mine.reason, mine.due_date, mine.source_key) == (
        TaskReason.KEY_CUSTOMER_CALL, DAY + timedelta(days=1), f"key_customer_call:holder={due.id}:after=never")
    assert next(a for a in planned if a.policyholder_id == pooled.id).agent_id is None

    assert run("policyholders.key_customer_callbacks") is None
    assert key_customer_callbacks(DAY) == {"key_customer_calls": 0}
    # a month on, the calls planned today still count; only the call done on 1 September is now 90 days old
    assert key_customer_callbacks(DAY + timedelta(days=30)) == {"key_customer_calls": 1}
    assert called_lately.id in {a.policyholder_id for a in activities(session, ActivityKind.CALL)
                                if a.status == ActivityStatus.PLANNED}
    assert small.id not in {a.policyholder_id for a in planned} and lapsed_book.id not in {a.policyholder_id
                                                                                            for a in planned}


def test_the_key_customer_rule_is_configurable(make, session, app, monkeypatch):
    monkeypatch.setitem(app.config, "KEY_CUSTOMER_PREMIUM", Decimal("10000"))
    monkeypatch.setitem(app.config, "KEY_CUSTOMER_CALLBACK_DAYS", 30)
    holder = key_customer(make, monthly=Decimal("1000.00"))
    call(make, holder, ActivityStatus.DONE, datetime(2026, 10, 1, tzinfo=UTC))  # 52 days before
    assert key_customer_callbacks(DAY) == {"key_customer_calls": 1}
    assert session.scalar(select(func.count(Activity.id)).where(Activity.policyholder_id == holder.id)) == 2
