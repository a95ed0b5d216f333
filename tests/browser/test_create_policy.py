"""Issue 7's policy journey in a real browser: an agent writes a policy for their policyholder, sees its schedule,
names an insured person and a beneficiary, reports a claim; their manager settles the claim."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import login, shoot

#: an agent inside manager1's branch, one of their own policyholders (a person), and an active product
CASE = """
SELECT u.username, ph.id AS holder_id, p.id AS product_id
FROM users u
JOIN agents a ON a.id = u.agent_id
JOIN org_units ou ON ou.id = a.org_unit_id
JOIN users m ON m.username = 'manager1'
JOIN org_units mu ON mu.id = m.org_unit_id
JOIN policyholders ph ON ph.owner_agent_id = a.id AND ph.kind = 'person'
JOIN products p ON p.active AND p.line = 'health'
WHERE u.role = 'agent' AND u.active AND ou.path LIKE mu.path || '%'
ORDER BY u.id, ph.id, p.code
"""


def test_an_agent_writes_a_policy_with_its_people_and_a_claim_that_the_manager_settles(page, live_server):
    case = live_server.query(CASE)
    assert case is not None, "the demo book should give manager1's branch an agent with a policyholder"
    login(page, case.username)
    expect(page).to_have_url(re.compile(r"/my-day$"))
    page.goto(f"/policyholders/{case.holder_id}")
    page.locator("#new-policy").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("New policy for")

    page.locator("#product_id").select_option(str(case.product_id))
    expect(page.locator("#frequency option").first).not_to_have_text("Choose a product first")
    page.locator("#frequency").select_option(index=0)
    page.locator("#premium").fill("321.50")
    page.locator("#sum_insured").fill("80000")
    shoot(page, "agent-new-policy")
    page.get_by_role("button", name="Write the policy").click()

    expect(page).to_have_url(re.compile(r"/policies/\d+$"))
    expect(page.get_by_text("its premium schedule follows")).to_be_visible()
    schedule = page.locator("#payments table").first
    expect(schedule.locator("tbody tr").first).to_contain_text("321.50")
    policy_url = page.url

    page.locator("#edit-insured summary").click()
    new_row = page.locator("#edit-insured fieldset").last
    new_row.get_by_label("Name").fill("Browser Insured Child")
    new_row.get_by_label("Relation to the policyholder").fill("child")
    page.get_by_role("button", name="Save insured persons").click()
    expect(page.get_by_text("Insured persons saved.")).to_be_visible()
    expect(page.locator("#people")).to_contain_text("Browser Insured Child")

    page.locator("#edit-beneficiaries summary").click()
    new_row = page.locator("#edit-beneficiaries fieldset").last
    new_row.get_by_label("Name").fill("Browser Beneficiary")
    new_row.get_by_label("Relation to the insured").fill("spouse")
    new_row.get_by_label("Share").fill("100")
    page.get_by_role("button", name="Save beneficiaries").click()
    expect(page.get_by_text("Beneficiaries saved.")).to_be_visible()
    expect(page.locator("#people")).to_contain_text("Browser Beneficiary")
    shoot(page, "agent-policy-with-people")

    page.locator("#report-claim summary").click()
    page.locator("#claim-loss_date").fill(page.locator("#claim-report_date").input_value())
    page.locator("#claim-incurred_amount").fill("1500.00")
    page.locator("#claim-description").fill("Browser test: outpatient treatment")
    page.get_by_role("button", name="Report the claim").click()
    expect(page).to_have_url(re.compile(r"/claims/\d+$"))
    expect(page.get_by_text("reported.")).to_be_visible()
    claim_url = page.url
    shoot(page, "agent-claim-reported")

    page.context.clear_cookies()
    login(page, "manager1")
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    page.goto(claim_url)
    page.locator("#status").select_option("paid")
    page.locator("#incurred_amount").fill("1400.00")
    page.locator("#paid_amount").fill("1400.00")
    page.get_by_role("button", name="Save the claim").click()
    expect(page.get_by_text("saved: Paid.")).to_be_visible()
    expect(page.locator("#claim-paid")).to_contain_text("1,400.00")
    shoot(page, "manager-claim-settled")
    page.goto(policy_url)
    expect(page.locator("#claims")).to_contain_text("1,400.00")
