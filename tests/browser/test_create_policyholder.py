"""Issue 7 in a real browser: an agent brings a new person into the book (warned of a likely duplicate), builds
their household, and a bancassurance specialist converts a referral by searching their book."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import login, shoot

#: a policyholder of agent1's own book with a phone, to be found as a household member
AGENT_HOLDER = """
SELECT ph.id, ph.name, ph.phone FROM policyholders ph
JOIN users u ON u.username = 'agent1' AND u.agent_id = ph.owner_agent_id
WHERE ph.phone LIKE '+86%' AND ph.kind = 'person'
ORDER BY ph.id
"""
#: specialist1's latest referral still to work, and a person of their own book to convert it into
SPECIALIST_REFERRAL = """
SELECT r.id, r.status FROM referrals r
JOIN users u ON u.username = 'specialist1' AND u.agent_id = r.specialist_agent_id
WHERE r.status IN ('submitted', 'accepted')
ORDER BY r.submitted_at DESC, r.id DESC
"""
SPECIALIST_HOLDER = """
SELECT ph.id, ph.name, ph.phone FROM policyholders ph
JOIN users u ON u.username = 'specialist1' AND u.agent_id = ph.owner_agent_id
WHERE ph.phone LIKE '+86%'
ORDER BY ph.id
"""


def unused_phone(live_server) -> str:
    for n in range(1000):
        phone = f"+861391234{n:04d}"
        if live_server.query("SELECT 1 FROM policyholders WHERE phone = :phone", phone=phone) is None:
            return phone
    raise AssertionError("no free phone number")


def test_agent_creates_a_prospect_is_warned_of_a_duplicate_and_builds_the_household(page, live_server):
    member = live_server.query(AGENT_HOLDER)
    assert member is not None, "the demo book should give agent1 a person with a phone"
    phone = unused_phone(live_server)
    national = phone.removeprefix("+86")
    login(page, "agent1")
    expect(page.locator("html")).to_have_attribute("lang", "en")  # the language switch has gone through

    page.get_by_role("link", name="Policyholders").first.click()
    page.get_by_role("link", name="New prospect or policyholder").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New prospect or policyholder")
    page.get_by_label("Name", exact=True).fill("Browser Prospect")
    page.get_by_label("Phone", exact=True).fill(f"{national[:3]} {national[3:7]} {national[7:]}")
    page.get_by_label("Gender").select_option("female")
    shoot(page, "agent-new-policyholder")
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Browser Prospect")
    expect(page.get_by_text("Browser Prospect is in the book.")).to_be_visible()
    first_url = page.url

    # the same phone again: the existing record is named, and opened instead of creating a second one
    page.goto("/policyholders/new")
    page.get_by_label("Name", exact=True).fill("Browser Prospect Again")
    page.get_by_label("Phone", exact=True).fill(phone)
    page.get_by_role("button", name="Create", exact=True).click()
    warning = page.locator(".duplicates")
    expect(warning).to_contain_text("This person may already be on file")
    expect(warning).to_contain_text("has the same phone")
    expect(page.get_by_role("button", name="Create anyway")).to_be_visible()
    shoot(page, "agent-duplicate-warning")
    warning.get_by_role("link", name="Browser Prospect").click()
    expect(page).to_have_url(first_url)

    # a household member found in the book as one types
    page.locator("#add-member summary").click()
    page.locator("#member-q").press_sequentially(member.phone.removeprefix("+86"), delay=20)
    choice = page.locator(f"#member-choice-{member.id}")
    expect(choice).to_be_visible()
    choice.check()
    page.locator("#member-kind").select_option("spouse")
    page.get_by_role("button", name="Add to the household", exact=True).click()
    expect(page.get_by_text("Household member added.")).to_be_visible()
    expect(page.locator("#household").get_by_role("link", name=member.name)).to_be_visible()

    # and a new person created in place
    page.locator("#add-member summary").click()
    page.locator("#member-new-name").fill("Browser Child")
    page.locator("#member-new-kind").select_option("parent")
    page.locator("#member-new-date_of_birth").fill("2016-05-04")
    page.get_by_role("button", name="Create and add to the household").click()
    household = page.locator("#household")
    expect(household.get_by_role("link", name="Browser Child")).to_be_visible()
    expect(household).to_contain_text("parent of")
    shoot(page, "agent-household")


def test_specialist_converts_a_referral_by_searching_their_book(page, live_server):
    referral = live_server.query(SPECIALIST_REFERRAL)
    holder = live_server.query(SPECIALIST_HOLDER)
    assert referral is not None and holder is not None, "the demo book should give specialist1 referrals and a book"
    login(page, "specialist1")
    expect(page.locator("html")).to_have_attribute("lang", "en")  # the language switch has gone through
    page.goto(f"/referrals?status={referral.status}")
    row = page.locator(f"#referral-{referral.id}")
    row.get_by_text("Convert: someone in your book").click()
    search = page.locator(f"#find-{referral.id}")
    search.fill("")
    search.press_sequentially(holder.phone.removeprefix("+86"), delay=20)
    choice = page.locator(f"#r{referral.id}-choice-{holder.id}")
    expect(choice).to_be_visible()
    expect(row).to_contain_text(holder.name)
    shoot(page, "specialist-convert-search")
    choice.check()
    row.get_by_role("button", name="Convert", exact=True).click()
    expect(page.get_by_text("The referral is now Converted.")).to_be_visible()
    converted = live_server.query("SELECT status, policyholder_id FROM referrals WHERE id = :id", id=referral.id)
    assert (converted.status, converted.policyholder_id) == ("converted", holder.id)


def test_the_new_policyholder_page_in_chinese(page):
    login(page, "agent2", language="zh")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.goto("/policyholders/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("新建准客户或保户")
    expect(page.get_by_role("button", name="创建", exact=True)).to_be_visible()
    shoot(page, "agent-new-policyholder-zh")
    expect(page).to_have_url(re.compile(r"/policyholders/new$"))
