"""The bank referrer's portal shows each referral's progress (agents/pipeline/referral_progress.py): submitted →
accepted → in progress (the opportunity's stage, no premium) → policy issued (its date) or not taken; never a
premium, a policy number or anything about the customer they did not submit; another referrer's referrals are
absent (404 by id)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from agents.models import Opportunity, OpportunitySource, OpportunityStatus, ReferralStatus
from insurecrm.models import Role
from policies.models import SalesChannel
from tests.api_client import csrf_token
from tests.helpers import counted_queries


@pytest.fixture
def portal(make, session):
    branch = make.bank_branch(name="Pudong Branch")
    mine, other = make.referrer(branch, name="Teller Wu"), make.referrer(branch, name="Teller Ma")
    agent = make.agent()
    open_stage = make.stage(code="needs", name="Needs identified", name_zh="导出需求", probability=Decimal("40"))
    won_stage = make.stage(code="signed", name="Signed", probability=Decimal("100"), is_won=True)
    lost_stage = make.stage(code="lost", name="Lost", probability=Decimal("0"), is_lost=True)
    secret_stage = make.stage(code="secret", name="Contract negotiation", probability=Decimal("90"))

    def opportunity(referral, stage, status, **kw):
        return make._add(Opportunity(
            title=f"Deal {referral.prospect_name}", prospect_name=referral.prospect_name, owner_agent_id=agent.id,
            org_unit_id=agent.org_unit_id, stage_id=stage.id, probability=stage.probability, status=status,
            expected_premium=Decimal("98765.43"), source=OpportunitySource.REFERRAL, referral_id=referral.id,
            bank_partner_id=branch.bank_partner_id, **kw))

    submitted = make.referral(mine, prospect_name="Prospect Submitted",
                              submitted_at=datetime(2026, 11, 1, 2, tzinfo=UTC))
    accepted = make.referral(mine, prospect_name="Prospect Accepted", status=ReferralStatus.ACCEPTED,
                             submitted_at=datetime(2026, 11, 2, 2, tzinfo=UTC))
    working = make.referral(mine, prospect_name="Prospect Working", status=ReferralStatus.ACCEPTED,
                            submitted_at=datetime(2026, 11, 3, 2, tzinfo=UTC))
    opportunity(working, open_stage, OpportunityStatus.OPEN)
    holder = make.policyholder(owner=agent, name="Holder Gao Full Name", email="gao.private@example.com")
    won = make.referral(mine, prospect_name="Prospect Won", status=ReferralStatus.CONVERTED,
                        policyholder_id=holder.id, submitted_at=datetime(2026, 11, 4, 2, tzinfo=UTC))
    policy = make.policy(holder, premium=Decimal("4321.09"), issue_date=date(2026, 11, 20),
                         effective_date=date(2026, 11, 21), channel=SalesChannel.BANCASSURANCE,
                         bank_partner_id=branch.bank_partner_id, bank_branch_id=branch.id, referrer_id=mine.id)
    opportunity(won, won_stage, OpportunityStatus.WON, policyholder_id=holder.id, policy_id=policy.id)
    lost = make.referral(mine, prospect_name="Prospect Lost", status=ReferralStatus.ACCEPTED,
                         submitted_at=datetime(2026, 11, 5, 2, tzinfo=UTC))
    opportunity(lost, lost_stage, OpportunityStatus.LOST)
    rejected = make.referral(mine, prospect_name="Prospect Rejected", status=ReferralStatus.REJECTED,
                             rejection_reason="Not reachable", submitted_at=datetime(2026, 11, 6, 2, tzinfo=UTC))
    # converted into a policyholder by hand, with a policy sold through the referrer but no opportunity
    holder_2 = make.policyholder(owner=agent, name="Holder Hand")
    by_hand = make.referral(mine, prospect_name="Prospect By Hand", status=ReferralStatus.CONVERTED,
                            policyholder_id=holder_2.id, submitted_at=datetime(2026, 11, 7, 2, tzinfo=UTC))
    make.policy(holder_2, issue_date=date(2026, 11, 25), effective_date=date(2026, 11, 25), referrer_id=mine.id,
                channel=SalesChannel.BANCASSURANCE, bank_partner_id=branch.bank_partner_id)
    foreign = make.referral(other, prospect_name="Prospect Of Teller Ma")
    opportunity(foreign, secret_stage, OpportunityStatus.OPEN)
    return SimpleNamespace(
        user=make.user(Role.BANK_REFERRER, referrer_id=mine.id), other_user=make.user(Role.BANK_REFERRER,
                                                                                       referrer_id=other.id),
        policy=policy, foreign=foreign, make=make, mine=mine,
        ids={"submitted": submitted.id, "accepted": accepted.id, "working": working.id, "won": won.id,
             "lost": lost.id, "rejected": rejected.id, "by_hand": by_hand.id})


def progress_cells(html: str) -> dict[int, str]:
    """Each referral row's progress cell, as text."""
    cells = {}
    for row_id, row in re.findall(r'<tr id="referral-(\d+)">(.*?)</tr>', html, re.S):
        cell = re.search(r'<td class="referral-progress">(.*?)</td>', row, re.S)
        cells[int(row_id)] = " ".join(re.sub(r"<[^>]+>", " ", cell.group(1)).split()) if cell else None
    return cells


def test_each_referral_shows_its_progress(web, portal):
    response = web(portal.user).get("/referrals")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    cells = progress_cells(html)
    ids = portal.ids
    assert cells == {
        ids["submitted"]: "Submitted",
        ids["accepted"]: "Accepted",
        ids["working"]: "In progress Needs identified",
        ids["won"]: "Policy issued Nov 20, 2026",
        ids["lost"]: "Not taken",
        ids["rejected"]: "Not taken",
        ids["by_hand"]: "Policy issued Nov 25, 2026",
    }
    # no premium (expected or written), no policy number, nothing of the customer the referrer did not submit
    for secret in ("98765", "98,765", "4321", "4,321", portal.policy.number, "Holder Gao Full Name",
                   "gao.private@example.com", "Holder Hand"):
        assert secret not in html, secret


def test_the_stage_is_named_in_the_readers_language(web, portal):
    client = web(portal.user)
    client.post("/language", data={"lang": "zh", "next": "/referrals", "csrf_token": csrf_token(client)})
    html = client.get("/referrals").get_data(as_text=True)
    assert "导出需求" in progress_cells(html)[portal.ids["working"]]


def test_another_referrers_referrals_are_absent(web, api, portal):
    html = web(portal.user).get("/referrals").get_data(as_text=True)
    assert "Prospect Of Teller Ma" not in html and "Contract negotiation" not in html
    assert portal.foreign.id not in progress_cells(html)
    assert api(portal.user).get(f"/api/v1/referrals/{portal.foreign.id}").status_code == 404
    assert api(portal.user).get(f"/api/v1/referrals/{portal.ids['working']}").status_code == 200
    # and the other referrer sees theirs, with its stage, and none of these
    other = progress_cells(web(portal.other_user).get("/referrals").get_data(as_text=True))
    assert other == {portal.foreign.id: "In progress Contract negotiation"}


def test_the_referrer_may_not_open_the_opportunity_or_the_policy(web, api, portal):
    assert web(portal.user).get(f"/policies/{portal.policy.id}").status_code == 403
    assert api(portal.user).get(f"/api/v1/policies/{portal.policy.id}").status_code == 403


def test_the_page_runs_a_fixed_number_of_queries(web, portal):
    client = web(portal.user)
    counted = []
    for _ in range(2):
        with counted_queries() as queries:
            assert client.get("/referrals").status_code == 200
        counted.append(len(queries))
        for n in range(5):  # more referrals, each with an opportunity
            referral = portal.make.referral(portal.mine, prospect_name=f"More {len(counted)}-{n}")
            portal.make._add(Opportunity(title="x", prospect_name="x", org_unit_id=portal.make.org_unit().id,
                                         stage_id=portal.make.stage().id, probability=Decimal("5"),
                                         referral_id=referral.id))
    assert counted[0] == counted[1]
