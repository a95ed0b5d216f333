"""The churn early warning: each reason on a hand-built book (and its absence), the score and its cap, the job's
reruns, and the report inside each reader's scope (docs/metrics.md, "Churn early warning")."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select

from insurecrm.db import db
from insurecrm.models import Role
from insurecrm.pii import pseudonym
from policies.models import (
    Claim,
    ClaimStatus,
    Installment,
    InstallmentStatus,
    PolicyStatus,
    RenewalCase,
    RenewalStatus,
)
from policyholders.models import (
    Interaction,
    InteractionChannel,
    PolicyholderStatus,
    ServiceCategory,
    ServiceKind,
    ServiceRequest,
)
from reports.catalogue import REPORTS
from reports.churn import months_before
from reports.models import ChurnReason, ChurnScore
from reports.tables import cell
from reports.tasks import churn_scores

DAY = date(2026, 11, 20)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    """An instant at ``hour`` on ``day`` in the insurer's time zone (Asia/Shanghai, UTC+8)."""
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI).astimezone(UTC)


def reasons() -> dict[int, dict[str, int]]:
    """{policyholder: {code: record}} of the stored reasons."""
    found: dict[int, dict[str, int]] = {}
    for row in db.session.execute(select(ChurnReason)).scalars():
        found.setdefault(row.policyholder_id, {})[row.code] = row.record_id
    return found


def scores() -> dict[int, tuple[int, date]]:
    return {row.policyholder_id: (row.score, row.scored_on) for row in db.session.scalars(select(ChurnScore))}


def contact(make, holder, when: datetime) -> Interaction:
    return make._add(Interaction(policyholder_id=holder.id, channel=InteractionChannel.PHONE, occurred_at=when,
                                 summary="Call"))


def renewal_case(make, policy, *, due: date, opened: date, status=RenewalStatus.OPEN, quoted=None) -> RenewalCase:
    return make._add(RenewalCase(policy_id=policy.id, due_date=due, opened_on=opened, org_unit_id=policy.org_unit_id,
                                 assigned_agent_id=policy.servicing_agent_id, status=status, quoted_premium=quoted))


def installment(make, policy, due: date, *, paid_on: date | None = None) -> Installment:
    return make._add(Installment(
        policy_id=policy.id, sequence=due.toordinal(), due_date=due, amount=Decimal("100.00"),
        paid_amount=Decimal("100.00") if paid_on else Decimal("0"), paid_date=paid_on,
        status=InstallmentStatus.PAID if paid_on else InstallmentStatus.DUE))


def request(make, holder, opened: datetime, kind=ServiceKind.COMPLAINT) -> ServiceRequest:
    return make._add(ServiceRequest(policyholder_id=holder.id, kind=kind, category=ServiceCategory.OTHER,
                                    subject="Unhappy", opened_at=opened, due_at=opened + timedelta(days=3)))


def claim(make, policy, reported: date, status=ClaimStatus.REJECTED) -> Claim:
    return make._add(Claim(number=f"CL{policy.id}-{reported:%Y%m%d}-{status}", policy_id=policy.id,
                           loss_date=reported, report_date=reported, status=status))


# -- each reason, and its absence ------------------------------------------------------------------------------

def test_a_renewal_due_within_30_days_and_not_contacted_since_the_case_opened(make):
    opened = DAY - timedelta(days=40)
    silent, called, far, worked, before = (make.policyholder() for _ in range(5))
    case = renewal_case(make, make.policy(silent), due=DAY + timedelta(days=30), opened=opened)
    contact(make, silent, at(opened - timedelta(days=1), 23, 59))  # before the case opened: not a contact on it
    contact(make, silent, at(DAY + timedelta(days=1), 9))  # after the logical date: not known on it
    renewal_case(make, make.policy(called), due=DAY + timedelta(days=10), opened=opened)
    contact(make, called, at(opened, 0, 30))  # 00:30 in Shanghai is the day before in UTC: still since it opened
    renewal_case(make, make.policy(far), due=DAY + timedelta(days=31), opened=opened)
    renewal_case(make, make.policy(worked), due=DAY + timedelta(days=5), opened=opened, status=RenewalStatus.CONTACTED)
    renewal_case(make, make.policy(before), due=DAY - timedelta(days=1), opened=opened)

    churn_scores(DAY)

    assert reasons() == {silent.id: {"renewal_not_contacted": case.id}}
    assert scores()[silent.id] == (30, DAY)
    assert {scores()[h.id] for h in (called, far, worked, before)} == {(0, DAY)}


def test_premium_overdue_an_installment_missed_or_a_policy_in_grace(make):
    missed, grace, paid, due_today, lapsed = (make.policyholder() for _ in range(5))
    first, second = make.policy(missed), make.policy(missed)
    installment(make, first, DAY - timedelta(days=10), paid_on=DAY - timedelta(days=12))
    installment(make, second, DAY - timedelta(days=10))
    installment(make, second, DAY - timedelta(days=40), paid_on=DAY + timedelta(days=1))  # paid after the date
    in_grace = make.policy(grace, status=PolicyStatus.GRACE)
    installment(make, make.policy(paid), DAY - timedelta(days=10), paid_on=DAY - timedelta(days=3))
    installment(make, make.policy(due_today), DAY)
    installment(make, make.policy(lapsed, status=PolicyStatus.LAPSED), DAY - timedelta(days=100))

    churn_scores(DAY)

    assert reasons() == {missed.id: {"premium_overdue": second.id}, grace.id: {"premium_overdue": in_grace.id}}
    assert scores()[missed.id] == scores()[grace.id] == (25, DAY)


def test_a_complaint_in_the_last_90_days_and_a_claim_rejected_in_the_last_180(make):
    complained, old_complaint, serviced, rejected, old_rejection, approved = (make.policyholder() for _ in range(6))
    request(make, complained, at(DAY - timedelta(days=200)))
    latest = request(make, complained, at(DAY - timedelta(days=89), 0, 1))
    request(make, old_complaint, at(DAY - timedelta(days=90), 23, 59))
    request(make, serviced, at(DAY - timedelta(days=1)), kind=ServiceKind.SERVICE)
    request(make, complained, at(DAY + timedelta(days=1)))  # after the logical date
    policy = make.policy(rejected)
    claim(make, policy, DAY - timedelta(days=300))
    recent = claim(make, policy, DAY - timedelta(days=179))
    claim(make, make.policy(old_rejection), DAY - timedelta(days=180))
    claim(make, make.policy(approved), DAY - timedelta(days=5), status=ClaimStatus.APPROVED)

    churn_scores(DAY)

    assert reasons() == {complained.id: {"complaint": latest.id}, rejected.id: {"claim_rejected": recent.id}}
    assert scores()[complained.id] == scores()[rejected.id] == (20, DAY)


def test_contacts_falling_off_fewer_in_the_last_six_months_than_in_the_six_before(make):
    six = months_before(DAY, 6)  # 2026-05-20: the last day of the earlier half-year
    assert six == date(2026, 5, 20)
    falling, steady, few, old = (make.policyholder() for _ in range(4))
    for day in (six, six - timedelta(days=30), months_before(DAY, 12) + timedelta(days=1)):
        contact(make, falling, at(day, 23, 59))  # three in the six months before
    contact(make, falling, at(six + timedelta(days=1), 0, 0))  # one in the last six months
    for day in (six, six - timedelta(days=1), DAY, DAY - timedelta(days=1)):
        contact(make, steady, at(day))  # two and two
    contact(make, few, at(six))  # one before, none since: too few to fall off
    for _ in range(3):
        contact(make, old, at(months_before(DAY, 12)))  # more than a year ago

    churn_scores(DAY)

    assert reasons() == {falling.id: {"contacts_falling": falling.id}}
    assert scores()[falling.id] == (15, DAY)


def test_a_renewal_quoted_more_than_10_percent_above_the_premium(make):
    risen, exactly, closed, unquoted = (make.policyholder() for _ in range(4))
    far = DAY + timedelta(days=50)
    case = renewal_case(make, make.policy(risen, premium=Decimal("1200.00")), due=far, opened=DAY,
                        status=RenewalStatus.QUOTED, quoted=Decimal("1320.01"))
    renewal_case(make, make.policy(exactly, premium=Decimal("1200.00")), due=far, opened=DAY,
                 status=RenewalStatus.QUOTED, quoted=Decimal("1320.00"))
    renewal_case(make, make.policy(closed, premium=Decimal("100.00")), due=far, opened=DAY,
                 status=RenewalStatus.LOST, quoted=Decimal("500.00"))
    renewal_case(make, make.policy(unquoted), due=far, opened=DAY, status=RenewalStatus.CONTACTED)

    churn_scores(DAY)

    assert reasons() == {risen.id: {"premium_rise": case.id}}
    assert scores()[risen.id] == (15, DAY)


# -- the score -------------------------------------------------------------------------------------------------

def _every_reason(make, holder):
    """Every reason at once: 30 + 25 + 20 + 20 + 15 + 15 = 125."""
    policy = make.policy(holder, status=PolicyStatus.GRACE, premium=Decimal("1000.00"))
    renewal_case(make, policy, due=DAY + timedelta(days=7), opened=DAY - timedelta(days=53), quoted=Decimal("1200.00"))
    request(make, holder, at(DAY - timedelta(days=3)))
    claim(make, policy, DAY - timedelta(days=30))
    for day in (DAY - timedelta(days=300), DAY - timedelta(days=250)):
        contact(make, holder, at(day))


def test_the_score_is_the_sum_of_the_weights_capped_at_100(make):
    everything, two, none = make.policyholder(), make.policyholder(), make.policyholder()
    prospect = make.policyholder(status=PolicyholderStatus.PROSPECT)
    _every_reason(make, everything)
    _every_reason(make, prospect)
    renewal_case(make, make.policy(two, status=PolicyStatus.GRACE), due=DAY + timedelta(days=3),
                 opened=DAY - timedelta(days=57))
    two_policies = make.policy(two, status=PolicyStatus.GRACE)  # a second overdue policy: the reason counts once
    assert two_policies.id

    counts = churn_scores(DAY)

    assert set(reasons()[everything.id]) == {"renewal_not_contacted", "premium_overdue", "complaint",
                                              "claim_rejected", "contacts_falling", "premium_rise"}
    assert scores() == {everything.id: (100, DAY), two.id: (55, DAY), none.id: (0, DAY)}  # not the prospect
    assert counts == {"holders_scored": 3, "holders_at_risk": 2}


# -- reruns -----------------------------------------------------------------------------------------------------

def test_a_rerun_gives_the_same_rows_and_an_earlier_date_never_overwrites_newer_scores(make, session):
    holder, other = make.policyholder(), make.policyholder()
    _every_reason(make, holder)
    make.policy(other, status=PolicyStatus.GRACE)
    assert churn_scores(DAY) == {"holders_scored": 2, "holders_at_risk": 2}
    first = (scores(), reasons())

    # done for the date: the scores found are kept, and said so (the next run then scores everyone again)
    assert churn_scores(DAY) == {"holders_scored": 0, "holders_at_risk": 2, "holders_already_scored": 2}
    assert (scores(), reasons()) == first

    # a run that stopped half-way (the other's batch not committed) finishes with the same rows
    session.execute(delete(ChurnReason).where(ChurnReason.policyholder_id == other.id))
    session.execute(delete(ChurnScore).where(ChurnScore.policyholder_id == other.id))
    session.commit()
    assert churn_scores(DAY)["holders_scored"] == 1
    assert (scores(), reasons()) == first

    # a catch-up of an earlier date leaves the newer scores alone
    request(make, other, at(DAY - timedelta(days=2)))
    assert churn_scores(DAY - timedelta(days=1)) == {"holders_scored": 0, "holders_at_risk": 0,
                                                     "holders_already_scored": 2}
    assert (scores(), reasons()) == first

    # the next date scores again, with what changed
    churn_scores(DAY + timedelta(days=1))
    assert scores()[other.id] == (45, DAY + timedelta(days=1))
    assert set(reasons()[other.id]) == {"premium_overdue", "complaint"}


def test_former_policyholders_lose_their_scores(make, session):
    leaving, staying = make.policyholder(), make.policyholder()
    for holder in (leaving, staying):
        make.policy(holder, status=PolicyStatus.GRACE)
    churn_scores(DAY)
    leaving.status = PolicyholderStatus.FORMER
    session.commit()

    assert churn_scores(DAY + timedelta(days=1)) == {"holders_scored": 1, "holders_at_risk": 1,
                                                     "churn_scores_removed": 1}
    assert set(scores()) == {staying.id} and set(reasons()) == {staying.id}


# -- the report, in each reader's scope -----------------------------------------------------------------------

@pytest.fixture
def branches(make):
    """Two branches of one company, an agent in each with one policyholder at risk; a second agent in the first."""
    company = make.org_unit()
    north, south = make.org_unit(company, name="North"), make.org_unit(company, name="South")
    ann, bob, cy = make.agent(north, name="Ann Agent"), make.agent(north, name="Bob Agent"), make.agent(south)
    holders = {name: make.policyholder(agent, name=name) for name, agent in
               (("Wang Fang", ann), ("Li Lei", bob), ("Zhao Min", cy))}
    make.policy(holders["Wang Fang"], status=PolicyStatus.GRACE)
    _every_reason(make, holders["Li Lei"])
    request(make, holders["Zhao Min"], at(DAY - timedelta(days=1)))
    churn_scores(DAY)
    return SimpleNamespace(
        holders=holders, north=north, ann=ann,
        agent=make.user(Role.AGENT, agent_id=ann.id), manager=make.user(Role.BRANCH_MANAGER, org_unit_id=north.id),
        actuary=make.user(Role.ACTUARY), admin=make.user(Role.ADMIN))


def _rows(user, **args):
    report = REPORTS["churn"]
    result = report.build(user, report.args().load(args), DAY)
    # the ids of the records behind the reasons (record_<code>, the links of the page): tests/reports/test_drill.py
    return [{key: value for key, value in row.items() if not key.startswith("record_")}
            for row in result.table("scores").rows()], result


def test_the_report_lists_each_readers_scope_highest_score_first(branches):
    holders = branches.holders
    names = {user: [row["policyholder_name"] for row in _rows(getattr(branches, user))[0]]
             for user in ("agent", "manager", "admin")}
    assert names == {"agent": ["Wang Fang"], "manager": ["Li Lei", "Wang Fang"],
                     "admin": ["Li Lei", "Wang Fang", "Zhao Min"]}

    rows, result = _rows(branches.agent)
    assert rows == [{"policyholder": holders["Wang Fang"].id, "policyholder_name": "Wang Fang", "score": 25,
                     "reasons": "Premium overdue (installment missed or policy in grace)", "agent": branches.ann.id,
                     "agent_name": "Ann Agent", "scored_on": DAY}]
    everything = _rows(branches.admin)[0][0]
    assert everything["reasons"] == (
        "Renewal due within 30 days, not contacted; Premium overdue (installment missed or policy in grace); "
        "Complaint in the last 90 days; Claim rejected in the last 180 days; Fewer contacts than in the six "
        "months before; Renewal quoted more than 10% above the premium")
    assert [dict(row) for row in result.table("by_reason").rows()] == [
        {"reason": "Premium overdue (installment missed or policy in grace)", "reason_code": "premium_overdue",
         "weight": 25, "policyholders": 1}]


def test_the_reports_filters(branches):
    def names(**args):
        return [row["policyholder_name"] for row in _rows(branches.admin, **args)[0]]

    assert names(min_score=50) == ["Li Lei"]
    assert names(reason="complaint") == ["Li Lei", "Zhao Min"]
    assert names(reason="") == names() == ["Li Lei", "Wang Fang", "Zhao Min"]  # the page's "Any reason"
    assert names(org_unit_id=branches.north.id) == ["Li Lei", "Wang Fang"]
    assert names(min_score=0) == ["Li Lei", "Wang Fang", "Zhao Min"]
    assert names(channel="agency") == ["Li Lei", "Wang Fang"]  # Zhao Min has no policy
    assert names(channel="direct") == []


def test_the_actuary_sees_pseudonyms_and_no_name_outside_the_name_columns(branches):
    rows, result = _rows(branches.actuary)
    table = result.table("scores")
    shown = [{column.key: cell(column, row, pseudonymise=True) for column in table.columns} for row in rows]
    holder = branches.holders["Li Lei"]
    assert shown[0]["policyholder"] == pseudonym("policyholder", holder.id)
    assert shown[0]["agent"] == pseudonym("agent", holder.owner_agent_id)
    text = repr(shown)
    assert not any(name in text for name in ("Wang Fang", "Li Lei", "Zhao Min", "Ann Agent", "Bob Agent"))


def test_the_report_is_for_agents_managers_actuaries_and_admins(make):
    assert REPORTS["churn"].roles == {Role.AGENT, Role.BRANCH_MANAGER, Role.ACTUARY, Role.ADMIN}


def test_the_job_runs_after_the_date_has_its_renewal_cases_and_its_grace(app):
    from insurecrm import jobs

    order = [job.id for job in jobs.registered(["reports.churn_scores"], with_dependencies=True)]
    assert order == ["policies.open_renewal_cases", "policies.grace_and_lapse", "reports.churn_scores"]
