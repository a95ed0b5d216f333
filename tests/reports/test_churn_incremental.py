"""The churn job rescores only the day's candidates, yet keeps exactly the scores a full rescore gives: a month
run day by day on a hand-built book whose records change on various days, or whose reasons change only because
a day passed, compared after every run with a full rescore of the same date (docs/metrics.md, "Churn early
warning"). Days not run, a late catch-up and a rerun are among them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from insurecrm import clock, jobs
from insurecrm.db import db
from policies.models import ClaimStatus, PolicyStatus, RenewalStatus
from policies.payments import apply_payment
from policyholders.models import Policyholder, PolicyholderStatus
from reports import churn
from reports.models import ChurnReason, ChurnScore
from reports.tasks import churn_scores
from tests.reports.test_churn import at, claim, contact, installment, renewal_case, request

START = date(2026, 8, 20)  # the month crosses 29–31 August, whose six months before all end on 28 February
DAYS = 31
#: days whose run does not happen (a gap: the next day scores everyone), and days run late, the day after
NOT_RUN, LATE = {START + timedelta(days=23)}, {START + timedelta(days=26)}


def day(n: int) -> date:
    return START + timedelta(days=n)


def stored() -> tuple[dict[int, int], dict[tuple[int, str], tuple[int, int]]]:
    """The stored scores {holder: score} and reasons {(holder, code): (weight, record)}."""
    scores = dict(db.session.execute(select(ChurnScore.policyholder_id, ChurnScore.score)).all())
    reasons = {(h, code): (weight, record) for h, code, weight, record in db.session.execute(
        select(ChurnReason.policyholder_id, ChurnReason.code, ChurnReason.weight, ChurnReason.record_id))}
    return scores, reasons


def full_rescore(on: date) -> tuple[dict[int, int], dict[tuple[int, str], tuple[int, int]]]:
    """What scoring every active policyholder as of ``on`` gives, now: the same shape as :func:`stored`."""
    active = select(Policyholder.id).where(Policyholder.status == PolicyholderStatus.ACTIVE)
    reasons = {(h, code): (weight, record)
               for h, code, weight, record in db.session.execute(churn.reason_rows(on, active))}
    scores = dict.fromkeys(db.session.scalars(active), 0)
    for (holder, _code), (weight, _record) in reasons.items():
        scores[holder] = min(scores[holder] + weight, churn.MAX_SCORE)
    return scores, reasons


def run(on: date, at_instant: datetime) -> dict:
    with clock.frozen(at_instant):
        record = jobs.run_job(jobs.registered([churn.CHURN_JOB])[0], on)
    return record.counts


@pytest.fixture
def book(make, session):
    """About twenty policyholders, each with what makes a reason come or go on some day of the month, and the
    changes people make on given days: {day: [change]}, each change run at 10:00 on its day (after that day's run).
    """
    changes: dict[date, list[Callable[[], None]]] = {}

    def on(n: int, change: Callable[[], None]) -> None:
        changes.setdefault(day(n), []).append(change)

    def holder(**kw):
        return make.policyholder(**kw)

    with clock.frozen(at(START - timedelta(days=1), 10)):
        # renewals: a case entering the 30 days on day 10, one leaving it on day 6, one contacted on day 8 by an
        # interaction logged ahead, one contacted on day 15, one quoted on day 17 above the premium (lowered on 22)
        entering, leaving, ahead, called, quoted = (holder() for _ in range(5))
        renewal_case(make, make.policy(entering), due=day(40), opened=day(-5))
        renewal_case(make, make.policy(leaving), due=day(5), opened=day(-25))
        renewal_case(make, make.policy(ahead), due=day(20), opened=day(-10))
        contact(make, ahead, at(day(8), 14))
        called_case = renewal_case(make, make.policy(called), due=day(25), opened=day(-5))
        on(15, lambda: contact(make, called, at(day(15), 9)))
        on(16, lambda: setattr(called_case, "status", RenewalStatus.CONTACTED))
        quoted_policy = make.policy(quoted, premium=Decimal("1000.00"))
        quoted_case = renewal_case(make, quoted_policy, due=day(60), opened=day(-30), status=RenewalStatus.CONTACTED)
        on(17, lambda: setattr(quoted_case, "quoted_premium", Decimal("1200.00")))
        on(22, lambda: setattr(quoted_policy, "premium", Decimal("1100.00")))

        # premiums: falling due unpaid on day 4 and paid on day 12 (for day 11); paid on day 7 having been overdue;
        # due on day 14 and paid on day 20; in grace from day 9 to day 18
        unpaid, paid_ahead, paid_after, grace = (holder() for _ in range(4))
        unpaid_policy = make.policy(unpaid)
        installment(make, unpaid_policy, day(3))
        on(12, lambda: apply_payment(unpaid_policy, Decimal("100.00"), day(11)))
        installment(make, make.policy(paid_ahead), day(-10), paid_on=day(7))
        installment(make, make.policy(paid_after), day(14), paid_on=day(20))
        grace_policy = make.policy(grace)
        on(9, lambda: setattr(grace_policy, "status", PolicyStatus.GRACE))
        on(18, lambda: setattr(grace_policy, "status", PolicyStatus.IN_FORCE))

        # complaints: one leaving the 90 days on day 5, one opened on day 11, one dated ahead to day 16
        old, new, dated = (holder() for _ in range(3))
        request(make, old, at(day(-85)))
        on(11, lambda: request(make, new, at(day(11), 10)))
        request(make, dated, at(day(16), 12))

        # claims: rejected ones leaving the 180 days on day 10 and reported ahead on day 13; one rejected on day 7
        leaving_claim, ahead_claim, rejected = (holder() for _ in range(3))
        claim(make, make.policy(leaving_claim), day(-170))
        claim(make, make.policy(ahead_claim), day(13))
        pending = claim(make, make.policy(rejected), day(-20), status=ClaimStatus.REPORTED)
        on(7, lambda: setattr(pending, "status", ClaimStatus.REJECTED))

        # contacts falling off: interactions every four days around both boundaries (six and twelve months
        # before), so that they cross them on many days of the month; one more logged on day 20
        falling, steady = holder(), holder()
        for n in range(0, 50, 4):
            contact(make, falling, at(date(2025, 8, 10) + timedelta(days=n), 23, 30))
            contact(make, falling, at(date(2026, 2, 10) + timedelta(days=n + 2), 0, 30))
            contact(make, steady, at(date(2025, 8, 12) + timedelta(days=n), 12))
        for n in range(0, 50, 3):
            contact(make, steady, at(date(2026, 2, 12) + timedelta(days=n), 12))
        on(20, lambda: contact(make, falling, at(day(20), 9)))
        fading = holder()  # two contacts in the six months before the last six, one since: until day 5, when
        for when in (date(2025, 8, 25), date(2025, 12, 1), date(2026, 4, 1)):  # the first one is a year old
            contact(make, fading, at(when))

        # policyholders: a prospect becoming active on day 6, one leaving on day 19, one at the cap, one at peace
        prospect = holder(status=PolicyholderStatus.PROSPECT)
        make.policy(prospect, status=PolicyStatus.GRACE)
        on(6, lambda: setattr(prospect, "status", PolicyholderStatus.ACTIVE))
        leaver = holder()
        make.policy(leaver, status=PolicyStatus.GRACE)
        on(19, lambda: setattr(leaver, "status", PolicyholderStatus.FORMER))
        capped = holder()
        capped_policy = make.policy(capped, status=PolicyStatus.GRACE, premium=Decimal("1000.00"))
        renewal_case(make, capped_policy, due=day(20), opened=day(-10), quoted=Decimal("1200.00"))
        request(make, capped, at(day(-3)))
        claim(make, capped_policy, day(-30))
        holder()
    return changes


def test_a_month_day_by_day_keeps_the_scores_of_a_full_rescore(book, session):
    history, scored = [], {}
    for n in range(DAYS):
        today = day(n)
        runs = [d for d in (today - timedelta(days=1),) if d in LATE] + ([today] if today not in LATE | NOT_RUN else [])
        for late, on in enumerate(runs):
            counts = run(on, at(today, 1, 5 * late))
            assert stored() == full_rescore(on), on
            assert set(session.scalars(select(churn.stands_for()).distinct())) == {on}
            active = session.scalar(select(func.count()).where(Policyholder.status == PolicyholderStatus.ACTIVE))
            scored[on] = (counts["holders_scored"], active)
            history.append(stored())
        if today == day(14):  # a rerun of the date (by hand, or after a crash) gives the same rows
            with clock.frozen(at(today, 3)):
                churn_scores(today)
            assert stored() == full_rescore(today)
        with clock.frozen(at(today, 10)):
            for change in book.get(today, []):
                change()
                session.commit()

    # everyone on the first run and after the day not run; only the day's candidates on the others
    everyone = {day(0), max(NOT_RUN) + timedelta(days=1)}
    assert {on for on, (holders, active) in scored.items() if holders == active} == everyone
    assert max(holders for on, (holders, _active) in scored.items() if on not in everyone) <= 8, scored
    changed_days = sum(before != after for before, after in zip(history, history[1:], strict=False))
    print(changed_days, sorted((on.day, holders) for on, (holders, _a) in scored.items()))
    assert changed_days >= 15  # the reasons changed on most days


def test_after_a_run_that_kept_the_scores_of_an_interrupted_one_the_next_day_scores_everyone(make, session):
    calm, upset = make.policyholder(), make.policyholder()
    make.policy(calm, status=PolicyStatus.GRACE)
    run(day(0), at(day(0), 1))
    # day 1 is not run; day 2's first attempt writes every score, then dies before its record (SIGKILL)
    with clock.frozen(at(day(2), 1)):
        churn_scores(day(2))
    with clock.frozen(at(day(2), 1, 10)):
        request(make, upset, at(day(2), 1, 10))
    # its rerun hours later keeps what the attempt wrote (it cannot tell when that was computed) and says so
    assert run(day(2), at(day(2), 3)) == {"holders_scored": 0, "holders_at_risk": 1, "holders_already_scored": 2}
    # so the next day looks at everyone, not only at the day's candidates
    assert run(day(3), at(day(3), 1))["holders_scored"] == 2
    assert stored() == full_rescore(day(3))
    assert stored()[0][upset.id] == churn.WEIGHTS["complaint"]


def test_after_a_later_date_an_earlier_one_changes_nothing(make, session):
    holder = make.policyholder()
    make.policy(holder, status=PolicyStatus.GRACE)
    run(day(0), at(day(0), 1))
    run(day(2), at(day(2), 1))  # day 1 not run: day 2 scores everyone
    before = stored()
    with clock.frozen(at(day(2), 2)):
        request(make, holder, at(day(2), 2))
    assert run(day(1), at(day(2), 3)) == {"holders_scored": 0}  # a hand run of the day missed
    assert stored() == before
    assert set(session.scalars(select(churn.stands_for()))) == {day(2)}
