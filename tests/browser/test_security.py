"""Issue 7, point 3 in a real browser: the Content-Security-Policy blocks nothing the pages need (charts, the
language switch, Swagger UI), plotly speaks the page's language, and logging out ends a copied session."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DEMO_PASSWORD, login, shoot


@pytest.fixture
def csp_violations(page) -> list[str]:
    """What the browser refused or failed to run on the page (CSP violations are console errors)."""
    problems: list[str] = []

    def console(message) -> None:
        # the browser asks for /favicon.ico on its own (there is none): not a page's doing
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            problems.append(f"{message.text} ({message.location.get('url')})")

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def test_the_dashboard_draws_its_charts_under_the_policy_in_both_languages(page, csp_violations):
    login(page, "manager1")
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.locator("#chart-trend .main-svg").first).to_be_visible()
    expect(page.locator("#chart-agents .main-svg").first).to_be_visible()
    expect(page.locator("#chart-trend .modebar-btn[data-title='Download plot as a PNG']")).to_have_count(1)

    page.locator("#lang-switch").select_option("zh")  # the switch submits from static/js/app.js
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("#chart-trend .main-svg").first).to_be_visible()
    expect(page.locator("#chart-trend .modebar-btn[data-title='下载图表为PNG格式']")).to_have_count(1)
    shoot(page, "manager-dashboard-zh-csp")
    page.locator("#lang-switch").select_option("en")  # manager1's saved preference back as it was, for the others
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert csp_violations == []


def test_the_renewal_board_draws_its_charts(page, csp_violations):
    login(page, "manager1")
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")  # any language switch of login() has finished
    page.goto("/renewals/board")
    expect(page.locator("#chart-months .main-svg").first).to_be_visible()
    expect(page.locator("#chart-agents .main-svg").first).to_be_visible()
    assert csp_violations == []


def test_swagger_ui_runs_from_static_files(page, csp_violations):
    page.goto("/api/v1/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("InsureCRM API")
    expect(page.locator(".opblock").first).to_be_visible()
    shoot(page, "api-docs")
    assert csp_violations == []


def test_logging_out_ends_the_session_in_another_browser_with_a_copied_cookie(page, chromium, live_server):
    login(page, "agent2")
    expect(page).to_have_url(re.compile(r"/my-day$"))
    thief = chromium.new_context(base_url=live_server.base)
    try:
        thief.add_cookies(page.context.cookies())
        stolen = thief.new_page()
        stolen.goto("/my-day")
        expect(stolen).to_have_url(re.compile(r"/my-day$"))

        page.get_by_role("button", name="Log out").click()
        expect(page).to_have_url(re.compile(r"/login"))

        stolen.goto("/my-day")
        expect(stolen).to_have_url(re.compile(r"/login\?next="))
    finally:
        thief.close()


def test_changing_my_password_in_the_browser(page, chromium, live_server):
    login(page, "agent3")
    other = chromium.new_context(base_url=live_server.base)
    try:
        elsewhere = other.new_page()
        login(elsewhere, "agent3")
        page.get_by_role("link", name=re.compile("agent", re.I)).filter(has_text="·").click()
        expect(page.get_by_role("heading", name="My account")).to_be_visible()
        page.get_by_label("Current password").fill(DEMO_PASSWORD)
        page.get_by_label("New password (at least 10 characters)").fill("browser-new-password")
        page.get_by_label("New password again").fill("browser-new-password")
        page.get_by_role("button", name="Change password").click()
        expect(page.get_by_role("alert")).to_contain_text("Your password is changed")
        shoot(page, "my-account")

        elsewhere.goto("/my-day")
        expect(elsewhere).to_have_url(re.compile(r"/login\?next="))
        page.goto("/my-day")
        expect(page).to_have_url(re.compile(r"/my-day$"))
    finally:
        other.close()
