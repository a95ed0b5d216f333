"""An agent's day on a phone (390 × 844 CSS pixels): My day, the renewal worklist, a policyholder page.

On every page the top bar stays slim (at most a tenth of the screen, the menu folded behind one button), nothing
scrolls sideways, and what the agent acts on is on screen: the worklist shows each case's premium and status,
the policyholder page calls and writes with a tap and opens "Log a contact" at once. Screenshots of each page go
to test-artifacts/screenshots/phone-*.png.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DEMO_PASSWORD, shoot

WIDTH, HEIGHT = 390, 844


@pytest.fixture
def phone(chromium, live_server, request):
    """A browser page the size of a phone, with touch; a screenshot is kept if the test fails."""
    context = chromium.new_context(base_url=live_server.base, viewport={"width": WIDTH, "height": HEIGHT},
                                   is_mobile=True, has_touch=True)
    context.set_default_timeout(15000)
    page = context.new_page()
    yield page
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        shoot(page, f"FAILED-phone-{request.node.name}")
    context.close()


def open_menu(page) -> None:
    if not page.locator("#topmenu").is_visible():
        page.locator("label.menu-button").click()
    expect(page.locator("#topmenu")).to_be_visible()


def login(page, username: str, language: str = "en") -> None:
    page.goto("/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(DEMO_PASSWORD)
    with page.expect_navigation():  # the page after the login, not the login page still idle
        page.locator("form button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    expected = {"en": "en", "zh": "zh-CN"}[language]
    if page.locator("html").get_attribute("lang") != expected:
        open_menu(page)  # on a phone the language switch sits in the folded menu
        # the switch posts /language and comes back: wait for the page in the new language, or the test's next
        # tap lands on the page being left
        with page.expect_navigation(url=re.compile(r"/my-day$")):
            page.locator("#lang-switch").select_option(language)
        page.wait_for_function("lang => document.documentElement.lang === lang", arg=expected)
        page.wait_for_load_state("networkidle")


def assert_fits_a_phone(page) -> None:
    bar = page.locator("header.topbar").bounding_box()
    assert bar["height"] <= 0.10 * HEIGHT, f"the top bar takes {bar['height']:.0f} of {HEIGHT} px"
    assert_no_sideways_scrolling(page)


def assert_no_sideways_scrolling(page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls {overflow} px sideways"


def assert_on_screen(locator) -> None:
    box = locator.bounding_box()
    assert box is not None and box["width"] > 0, "not shown"
    assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, f"off screen: {box}"


def test_an_agents_day_on_a_phone(phone, live_server):
    page = phone
    login(page, "agent1")
    expect(page).to_have_url(re.compile(r"/my-day$"))
    expect(page.locator("#topmenu")).to_be_hidden()  # folded: one slim bar
    assert_fits_a_phone(page)
    shoot(page, "phone-my-day")

    open_menu(page)
    assert_no_sideways_scrolling(page)  # the open menu pushes the page down, never sideways
    shoot(page, "phone-menu")
    page.locator("#topmenu").get_by_role("link", name="Renewals").click()
    expect(page).to_have_url(re.compile(r"/renewals$"))
    assert_fits_a_phone(page)
    first_case = page.locator("table.stack tbody tr").first
    premium, status = first_case.locator("td[data-label='Premium']"), first_case.locator("td[data-label='Status']")
    expect(premium).to_contain_text("¥")
    expect(status).to_be_visible()
    assert_on_screen(premium)
    assert_on_screen(status)
    shoot(page, "phone-renewals")

    first_case.locator("td[data-label='Policyholder'] a").click()
    expect(page).to_have_url(re.compile(r"/policyholders/\d+$"))
    assert_fits_a_phone(page)
    phone_link = page.locator("#profile a[href^='tel:']").first
    expect(phone_link).to_be_visible()
    assert_on_screen(phone_link)
    shoot(page, "phone-policyholder")

    page.get_by_role("link", name="Log a contact").click()
    expect(page.locator("#log-contact")).to_have_attribute("open", "")  # the form is open at once
    channel = page.locator("#log-contact").get_by_label("Channel")
    expect(channel).to_be_visible()
    assert_on_screen(channel)
    assert_fits_a_phone(page)
    shoot(page, "phone-log-contact")


def test_the_policyholder_list_and_chinese_on_a_phone(phone, live_server):
    page = phone
    login(page, "agent1", language="zh")
    open_menu(page)
    page.locator("#topmenu").get_by_role("link", name="保户").click()
    expect(page).to_have_url(re.compile(r"/policyholders$"))
    expect(page.locator("#topmenu")).to_be_hidden()
    assert_fits_a_phone(page)
    assert_on_screen(page.locator("table.stack tbody tr").first.locator("td[data-label]").first)
    shoot(page, "phone-policyholders-zh")
