"""A small book for the campaigns tests: the policyholders tests' organisation (``org``), and ``book``: ten
policyholders of the branch's agent in Shanghai, each with SMS, email and marketing consent unless said, and one of
the sibling branch's agent in Shanghai too (out of the branch manager's scope)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest

from policyholders.campaigns.models import Campaign, CampaignChannel, CampaignKind, CampaignMessage, CampaignStatus
from policyholders.segments.models import Segment
from tests.policyholders.conftest import org  # noqa: F401 - the fixture, shared

ON = date(2026, 11, 22)


@pytest.fixture
def book(org, make, session):  # noqa: F811 - the shared fixture
    consenting = dict(consent_marketing=True, consent_sms=True, consent_email=True, region="Shanghai")
    holders = [make.policyholder(org.agent, name=f"客户{n}", preferred_language="zh" if n % 2 else "en", **consenting)
               for n in range(10)]
    no_sms = make.policyholder(org.agent, name="No SMS", **{**consenting, "consent_sms": False})
    no_marketing = make.policyholder(org.agent, name="No marketing", **{**consenting, "consent_marketing": False})
    no_phone = make.policyholder(org.agent, name="No phone", phone=None, **consenting)
    outside = make.policyholder(org.other_agent, name="Outside", **consenting)
    segment = Segment(name="Shanghai", criteria={"region": ["Shanghai"]}, owner_user_id=org.manager.id,
                      org_unit_id=org.branch.id)
    session.add(segment)
    session.commit()
    return SimpleNamespace(holders=holders, no_sms=no_sms, no_marketing=no_marketing, no_phone=no_phone,
                           outside=outside, segment=segment)


@pytest.fixture
def campaign_of(org, book, session):  # noqa: F811 - the shared fixture
    """``campaign_of(**fields)``: an active SMS cross-sell campaign of the branch manager over the Shanghai segment,
    with its message in English and Chinese."""
    def make_campaign(**fields) -> Campaign:
        campaign = Campaign(**{"name": "Cross-sell", "kind": CampaignKind.CROSS_SELL, "channel": CampaignChannel.SMS,
                               "status": CampaignStatus.ACTIVE, "segment_id": book.segment.id,
                               "owner_user_id": org.manager.id, "org_unit_id": org.branch.id, "start_date": ON,
                               "cost_per_message": Decimal("0.10"), **fields})
        campaign.messages = [CampaignMessage(language="en", subject="Hello", body="Dear {{ policyholder_name }}, "
                                                                                 "ask us about health cover."),
                             CampaignMessage(language="zh", subject="您好", body="{{ policyholder_name }}您好"
                                                                                 "，欢迎咨询健康险。")]
        session.add(campaign)
        session.commit()
        return campaign
    return make_campaign
