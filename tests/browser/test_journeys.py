"""The journeys of issue 3, in a real browser: what an agent, a manager and an admin do every day."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import login, shoot

#: an in-force policy of agent1's own policyholder, with an installment still open, and a phone to search by
AGENT_CASE = """
SELECT ph.id AS holder_id, ph.phone, p.id AS policy_id, p.number
FROM policyholders ph
JOIN users u ON u.username = 'agent1' AND u.agent_id = ph.owner_agent_id
JOIN policies p ON p.policyholder_id = ph.id AND p.status = 'in_force'
WHERE ph.phone LIKE '+86%'
  AND EXISTS (SELECT 1 FROM installments i WHERE i.policy_id = p.id AND i.status IN ('due', 'partially_paid'))
ORDER BY ph.id, p.id
"""


def test_agent_finds_a_policyholder_by_phone_logs_a_contact_and_records_a_payment(page, live_server):
    case = live_server.query(AGENT_CASE)
    assert case is not None, "the demo book should give agent1 an in-force policy with an open installment"
    login(page, "agent1")
    expect(page).to_have_url(re.compile(r"/my-day$"))
    shoot(page, "agent-my-day")

    page.get_by_role("link", name="Policyholders").first.click()
    national = case.phone.removeprefix("+86")
    page.get_by_label("Name, phone, ID or policy number").fill(f"{national[:3]} {national[3:7]} {national[7:]}")
    page.get_by_role("button", name="Show").click()
    shoot(page, "agent-policyholders-search")
    page.locator(f"a[href='/policyholders/{case.holder_id}']").first.click()
    expect(page).to_have_url(re.compile(rf"/policyholders/{case.holder_id}$"))
    shoot(page, "agent-policyholder-360")

    page.locator("#log-contact summary").click()
    page.locator("#log-contact").get_by_label("Channel").select_option("phone")
    page.locator("#log-contact").get_by_label("Summary").fill("Browser test: called about the renewal quote")
    page.get_by_role("button", name="Log contact").click()
    expect(page.locator("#timeline")).to_contain_text("Browser test: called about the renewal quote")

    page.locator(f"a[href='/policies/{case.policy_id}']").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(case.number)
    shoot(page, "agent-policy")
    payment = page.locator("form:has(#amount)")  # the payment form (the claim form has an amount of its own)
    payment.get_by_label("Amount", exact=True).fill("1.00")
    payment.get_by_label("Reference").fill("BROWSER-1")
    page.get_by_role("button", name="Record payment").click()
    expect(page.get_by_text("BROWSER-1").first).to_be_visible()


def test_manager_opens_the_dashboard_and_drills_down_to_an_agent(page):
    login(page, "manager1")
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.locator(".js-plotly-plot").first).to_be_visible()  # plotly.js drew the charts
    shoot(page, "manager-dashboard")
    agent_link = page.locator("a[href^='/dashboard/agents/']").first
    agent_name = agent_link.inner_text()
    agent_link.click()
    expect(page).to_have_url(re.compile(r"/dashboard/agents/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(agent_name)
    shoot(page, "manager-agent-drilldown")


def test_admin_creates_a_product_and_a_user(page):
    login(page, "admin")
    page.goto("/admin/products/new")
    page.get_by_role("textbox", name="Code", exact=True).fill("BRW-HEALTH")
    page.get_by_role("textbox", name="Name", exact=True).fill("Browser health plan")
    page.get_by_role("combobox", name="Line").select_option("health")
    page.get_by_role("spinbutton", name="Term (months)").fill("12")
    page.get_by_label("Annual").check()
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_text("BRW-HEALTH").first).to_be_visible()
    shoot(page, "admin-products")

    page.goto("/admin/users/new")
    page.get_by_role("textbox", name="Username", exact=True).fill("browser.actuary")
    page.get_by_role("textbox", name="Display name", exact=True).fill("Browser Actuary")
    page.get_by_role("combobox", name="Role").select_option("actuary")
    page.get_by_label("Password (at least 10 characters)").fill("a long browser password")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_text("browser.actuary").first).to_be_visible()
    shoot(page, "admin-users")


def test_switching_to_chinese_shows_chinese_text(page):
    login(page, "agent1", language="en")
    expect(page.get_by_role("navigation").first).to_contain_text("Policyholders")
    page.locator("#lang-switch").select_option("zh")
    page.wait_for_load_state("networkidle")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("navigation").first).to_contain_text("保户")
    shoot(page, "agent-my-day-zh")
