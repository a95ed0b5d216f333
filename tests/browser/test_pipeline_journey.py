"""The sales pipeline in a real browser: a bancassurance specialist records a referral for a bank's referrer,
converts it into an opportunity, makes the prospect a policyholder, records an influencer and a competitor, plans
and completes an activity, quotes, moves the opportunity through the stages and wins it with the quote into a
policy that carries the bank partner, branch and referrer; their branch manager then finds the win in the funnel,
the day's sales report and the agent's scorecard.
"""

from __future__ import annotations

import random
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from tests.browser.conftest import login, shoot

#: a specialist stationed at a partner with an active referrer, and a product sold with an annual premium
SPECIALIST = """
SELECT u.username, u.agent_id, rf.id AS referrer_id, rf.name AS referrer_name, bp.name AS partner_name,
       bb.name AS branch_name
FROM users u
JOIN agent_bank_partners ap ON ap.agent_id = u.agent_id
JOIN bank_partners bp ON bp.id = ap.bank_partner_id
JOIN bank_branches bb ON bb.bank_partner_id = bp.id
JOIN referrers rf ON rf.bank_branch_id = bb.id AND rf.status = 'active'
WHERE u.role = 'bancassurance_specialist' AND u.active
ORDER BY u.id, rf.id
"""
#: a branch manager above the agent (their unit or one above it)
MANAGER = """
SELECT m.username FROM users m JOIN org_units mu ON mu.id = m.org_unit_id,
     agents a JOIN org_units au ON au.id = a.org_unit_id
WHERE m.role = 'branch_manager' AND m.active AND a.id = :agent_id AND au.path LIKE mu.path || '%'
ORDER BY length(mu.path) DESC, m.id
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
    page.locator("#o-expected_premium").fill("5037.15")  # an amount the demo book does not hold
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

    # an activity planned from the opportunity, then done with an evaluation
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    page.locator("#activities").get_by_role("link", name="Plan an activity").click()
    form = page.locator("#new-activity")
    form.get_by_label("Kind").select_option("meeting")
    form.get_by_label("Subject").fill("Needs meeting at the bank")
    form.get_by_label("Planned start").fill(f"{today.isoformat()}T09:00")
    form.get_by_role("button", name="Plan").click()
    expect(page.get_by_text("Activity planned.")).to_be_visible()
    done = page.locator("#complete-activity")
    done.get_by_label("Outcome").fill("Wants cover of 200,000")
    done.get_by_label("Evaluation").fill("The economic buyer came")
    done.get_by_role("button", name="Mark as done").click()
    expect(page.get_by_text("Activity done.")).to_be_visible()
    page.goto(opportunity_url)
    expect(page.locator("#activities tr[data-activity]", has_text="Needs meeting at the bank")).to_contain_text("Done")

    # a quote from the product's rate table, saved on the opportunity
    page.locator("#quotes").get_by_role("link", name="New quote").click()
    page.locator("#quote-product_id").select_option(str(product.id))
    page.locator("#quote-sum_insured").fill("200000")
    page.locator("#quote-frequency").select_option("annual")
    page.locator("#quote-age").fill("40")
    page.get_by_role("button", name="Compute and save the quote").click()
    expect(page.get_by_text(re.compile(r"Quote saved: .+ per installment\."))).to_be_visible()
    page.goto(opportunity_url)
    expect(page.locator("#quotes tbody tr[id^=quote-]")).to_have_count(1)

    # through the stages, each move recorded
    for code, stage in (("needs_identified", "Needs identified"), ("verbal_yes", "Verbal yes")):
        stage_id = live_server.query(STAGE, code=code).id
        page.locator("#move-stage_id").select_option(str(stage_id))
        page.locator("#move").get_by_role("button", name="Move").click()
        expect(page.get_by_text(f"Moved to {stage}.")).to_be_visible()
    expect(page.locator("section[aria-labelledby=history-title] tbody tr")).to_have_count(3)

    # won with the quote into a policy that carries the bank attribution
    page.locator("#quotes").get_by_role("link", name="Win with this quote").click()
    expect(page.locator("#win-sum_insured")).to_have_value(re.compile(r"^200000(\.0+)?$"))
    expect(page.locator("#win-frequency")).to_have_value("annual")
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

    # the branch manager above the specialist: the win in the funnel and the day's sales report, the agent's card
    manager = live_server.query(MANAGER, agent_id=found.agent_id)
    assert manager is not None, "the demo book has a branch manager above each specialist"
    page.context.clear_cookies()
    login(page, manager.username)
    day = today.isoformat()
    page.goto(f"/reports/funnel?start={day}&end={day}&group_by=agent")
    expect(page.locator("main")).to_contain_text("5,037.15")
    page.goto(f"/reports/sales?period=day&day={day}")
    expect(page.locator("main")).to_contain_text("5,037.15")
    page.goto(f"/scorecards/{found.agent_id}")
    expect(page.locator("h1")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Activities done")
    shoot(page, "manager-scorecard-after-a-win")
