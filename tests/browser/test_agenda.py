"""Activities in a real browser: an agent plans a weekly activity, finds it in the week agenda (and its next
occurrence a week later), and completes one with an outcome and an evaluation."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from tests.browser.conftest import login, shoot

SUBJECT = "Weekly coffee with the Chen family"


def test_agent_plans_a_weekly_activity_sees_it_in_the_week_and_completes_one(page, live_server):
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    login(page, "agent1")
    page.get_by_role("link", name="Agenda", exact=True).first.click()
    expect(page).to_have_url(re.compile(r"/agenda$"))
    page.get_by_role("link", name="Plan an activity").click()

    form = page.locator("#new-activity")
    form.get_by_label("Kind").select_option("visit")
    form.get_by_label("Priority").select_option("high")
    form.get_by_label("Subject").fill(SUBJECT)
    form.get_by_label("Planned start").fill(f"{today.isoformat()}T09:00")
    form.get_by_label("Planned end").fill(f"{today.isoformat()}T10:00")
    form.get_by_label("Repeats", exact=True).select_option("weekly")
    form.get_by_label("Or times").fill("4")
    shoot(page, "agent-plan-weekly-activity")
    form.get_by_role("button", name="Plan").click()
    expect(page.get_by_text("4 occurrences planned.")).to_be_visible()
    expect(page.get_by_text("occurrence 1 of 4")).to_be_visible()
    first_url = page.url

    # the week agenda: the first occurrence today, the second in next week's agenda
    page.goto(f"/agenda?view=week&date={today.isoformat()}")
    row = page.locator(f"#day-{today.isoformat()} tr[data-activity]", has_text=SUBJECT)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Planned")
    page.get_by_role("link", name="Next", exact=True).click()
    next_week = today + timedelta(days=7)
    expect(page.locator(f"#day-{next_week.isoformat()} tr[data-activity]", has_text=SUBJECT)).to_have_count(1)
    shoot(page, "agent-week-agenda-next")

    # complete the first one with an outcome and an evaluation
    page.goto(first_url)
    done = page.locator("#complete-activity")
    done.get_by_label("Outcome").fill("Agreed to review their health cover")
    done.get_by_label("Evaluation").fill("Warm meeting; the daughter asked about education savings")
    done.get_by_role("button", name="Mark as done").click()
    expect(page.get_by_text("Activity done.")).to_be_visible()
    expect(page.locator("[data-evaluation]")).to_have_text("Warm meeting; the daughter asked about education savings")
    expect(page.locator("#complete-activity")).to_have_count(0)

    page.goto(f"/agenda?view=day&date={today.isoformat()}")
    expect(page.locator("tr[data-activity]", has_text=SUBJECT)).to_contain_text("Done")
    shoot(page, "agent-day-agenda-done")
