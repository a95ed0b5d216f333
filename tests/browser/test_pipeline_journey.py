"""The sales pipeline in a real browser: a bancassurance specialist records a referral for a bank's referrer,
converts it into an opportunity, makes the prospect a policyholder, records an influencer and a competitor, moves
the opportunity through the stages and wins it into a policy that carries the bank partner, branch and referrer.
"""

from __future__ import annotations

import random
import re

from playwright.sync_api import expect

from tests.browser.conftest import login, shoot

#: a specialist stationed at a partner with an active referrer, and a product sold with an annual premium
SPECIALIST = """
SELECT u.username, rf.id AS referrer_id, rf.name AS referrer_name, bp.name AS partner_name, bb.name AS branch_name
FROM users u
JOIN agent_bank_partners ap ON ap.agent_id = u.agent_id
JOIN bank_partners bp ON bp.id = ap.bank_partner_id
JOIN bank_branches bb ON bb.bank_partner_id = bp.id
JOIN referrers rf ON rf.bank_branch_id = bb.id AND rf.status = 'active'
WHERE u.role = 'bancassurance_specialist' AND u.active
ORDER BY u.id, rf.id
"""
STAGE = "SELECT id FROM pipeline_stages WHERE code = :code AND product_line IS NULL"
ANNUAL_PRODUCT = "SELECT id FROM products WHERE active AND CAST(frequencies AS TEXT) LIKE '%annual%' ORDER BY id"


def test_a_specialist_works_a_referral_into_a_policy_with_its_bank_attribution(page, live_server):
    found = live_server.query(SPECIALIST)
    assert found is not None, "the demo book has specialists stationed at bank partners"
    product = live_server.query(ANNUAL_PRODUCT)
    number = random.randint(10_000_000, 99_999_999)
    prospect, phone = f"Journey Prospect {number}", f"+86139{number}"
    login(page, found.username)

    # the referral, recorded for the bank's referrer, then converted into an opportunity
    page.goto("/referrals")
    page.locator("#referrer_id").select_option(str(found.referrer_id))
    page.locator("#prospect_name").fill(prospect)
    page.locator("#prospect_phone").fill(phone)
    page.locator("#product_id").select_option(str(product.id))
    page.get_by_role("button", name="Submit referral").click()
    expect(page.get_by_text(f"Referral of {prospect} submitted.")).to_be_visible()
    row = page.locator("tr[id^=referral-]", has_text=prospect)
    row.get_by_role("link", name="Convert to opportunity").click()
    expect(page.get_by_role("heading", name="New opportunity")).to_be_visible()
    expect(page.locator("#o-title")).to_have_value(f"Referral: {prospect}")
    page.locator("#o-expected_premium").fill("5000")
    page.get_by_role("button", name="Create the opportunity").click()
    expect(page.get_by_text("Opportunity created.")).to_be_visible()
    expect(page.locator("h1")).to_contain_text(prospect)
    opportunity_url = page.url
    expect(page.locator("dl.facts")).to_contain_text(found.partner_name)
    expect(page.locator("[data-warning=no_economic_buyer]")).to_be_visible()

    # the prospect becomes a policyholder of the specialist's book
    page.locator("#holder").get_by_role("button", name="Create the policyholder").click()
    expect(page.get_by_text("The prospect is a policyholder now.")).to_be_visible()

    # CUTE: the economic buyer, a supporter; then a competitor compared with us
    page.get_by_text("Add an influencer").click()
    page.locator("#inf-name").fill("Mr Economic Buyer")
    page.locator("#inf-role").select_option("economic_buyer")
    page.locator("#inf-attitude").select_option("supporter")
    page.get_by_role("button", name="Add influencer").click()
    expect(page.get_by_text("Influencer added.")).to_be_visible()
    expect(page.locator("[data-warning]")).to_have_count(0)
    page.get_by_text("Add a competitor").click()
    page.locator("#comp-name").fill("Rival Life")
    page.locator("#comp-strengths").fill("Known brand")
    page.locator("#comp-brand_score").select_option("2")
    page.locator("#comp-price_score").select_option("-1")
    page.get_by_role("button", name="Add competitor").click()
    expect(page.get_by_text("Competitor added.")).to_be_visible()
    expect(page.locator("#competitors table")).to_contain_text("Rival Life")
    expect(page.locator("#competitors td[data-score$='-brand_score']")).to_have_text("+2")
    shoot(page, "specialist-opportunity-detail")

    # through the stages, each move recorded
    for code, stage in (("needs_identified", "Needs identified"), ("verbal_yes", "Verbal yes")):
        stage_id = live_server.query(STAGE, code=code).id
        page.locator("#move-stage_id").select_option(str(stage_id))
        page.locator("#move").get_by_role("button", name="Move").click()
        expect(page.get_by_text(f"Moved to {stage}.")).to_be_visible()
    expect(page.locator("section[aria-labelledby=history-title] tbody tr")).to_have_count(3)

    # won into a policy that carries the bank attribution
    page.locator("#win-product_id").select_option(str(product.id))
    page.locator("#win-sum_insured").fill("200000")
    page.locator("#win-premium").fill("5000")
    page.locator("#win-frequency").select_option("annual")
    page.get_by_role("button", name="Win the opportunity").click()
    expect(page.get_by_text(re.compile(r"Won: policy \w+"))).to_be_visible()
    expect(page.locator("h1")).to_contain_text("Won")
    page.locator("dl.facts").get_by_role("link").last.click()
    expect(page).to_have_url(re.compile(r"/policies/\d+$"))
    details = page.locator("section[aria-labelledby=details-title]")
    expect(details).to_contain_text(found.partner_name)
    expect(details).to_contain_text(found.branch_name)
    expect(details).to_contain_text(found.referrer_name)
    expect(details).to_contain_text("Bancassurance")
    shoot(page, "specialist-won-policy")

    page.goto(opportunity_url)
    expect(page.locator("section[aria-labelledby=history-title] tbody tr")).to_have_count(4)
