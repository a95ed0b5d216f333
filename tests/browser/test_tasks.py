"""Tasks reach a person, in a real browser: an agent completes a call from My day and finds its follow-up; a branch
manager finds an escalation on their list and the overdue tasks on the dashboard.

The demo book gets its tasks from the daily jobs themselves (``insurecrm demo`` runs the task jobs for its last
days), so the tasks here are the ones the application made.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from tests.browser.conftest import login, shoot


def insurer_today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


#: an agent's login with an open task due today or before (the reminder call or callback the jobs planned)
AGENT_TASK = """
SELECT u.username, a.id AS task_id, a.reason
FROM activities a JOIN users u ON u.agent_id = a.agent_id AND u.role = 'agent' AND u.active
WHERE a.reason IN ('renewal_call', 'new_policy_callback') AND a.status = 'planned' AND a.due_date <= :today
  AND a.policyholder_id IS NOT NULL
ORDER BY a.due_date DESC, a.id
"""
#: a branch manager with an open escalation assigned to them, and the overdue tasks of their scope
MANAGER_ESCALATION = """
SELECT u.username, a.id AS task_id,
  (SELECT count(*) FROM activities t
   WHERE t.reason IS NOT NULL AND t.status = 'planned' AND t.due_date < :today
     AND (t.assignee_user_id = u.id OR t.org_unit_id IN (
          SELECT o.id FROM org_units o WHERE o.path LIKE (SELECT m.path FROM org_units m WHERE m.id = u.org_unit_id)
                                                          || '%'))) AS overdue
FROM activities a JOIN users u ON u.id = a.assignee_user_id AND u.role = 'branch_manager' AND u.active
WHERE a.reason = 'renewal_escalation' AND a.status = 'planned'
ORDER BY overdue DESC, a.id
"""


def test_agent_completes_a_task_from_my_day_and_the_follow_up_appears(page, live_server):
    today = insurer_today()
    found = live_server.query(AGENT_TASK, today=today.isoformat())
    assert found is not None, "the demo book's jobs should give an agent a call due today or overdue"
    login(page, found.username)
    expect(page).to_have_url(re.compile(r"/my-day$"))
    row = page.locator(f"#tasks tr[data-task='{found.task_id}']")
    reason = {"renewal_call": "Renewal reminder call (no reachable channel)",
              "new_policy_callback": "New-policy callback"}[found.reason]
    expect(row).to_contain_text(reason)
    shoot(page, "agent-my-day-tasks")

    call_back = today + timedelta(days=2)
    row.locator("summary").click()
    row.get_by_label("Outcome").select_option("no_answer")
    row.get_by_label("Call back on").fill(call_back.isoformat())
    row.get_by_role("button", name="Complete task").click()
    expect(page.get_by_text(f"A follow-up call is planned for {call_back.isoformat()}")).to_be_visible()
    expect(page.locator(f"#tasks tr[data-task='{found.task_id}']")).to_have_count(0)

    page.get_by_role("link", name="Tasks", exact=True).first.click()
    expect(page).to_have_url(re.compile(r"/tasks$"))
    follow_up = page.locator("tr[data-task]", has_text="(follow-up)")
    expect(follow_up.first).to_contain_text(reason)
    expect(follow_up.first).to_contain_text(call_back.strftime("%b %-d, %Y"))
    shoot(page, "agent-tasks-follow-up")


def test_a_manager_sees_an_escalation_on_their_list_and_overdue_tasks_on_the_dashboard(page, live_server):
    today = insurer_today()
    found = live_server.query(MANAGER_ESCALATION, today=today.isoformat())
    if found is None:  # a small book may have no case to escalate: run today's job with a wider window (never a
        # date ahead of today, which the jobs refuse)
        _run_job(live_server, "policies.escalate_renewals", today, INSURECRM_RENEWAL_ESCALATION_DAYS="28")
        found = live_server.query(MANAGER_ESCALATION, today=today.isoformat())
    assert found is not None, "the demo book should have a renewal case for the escalation job"
    login(page, found.username)
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.locator("#overdue-tasks strong")).to_have_text(str(found.overdue))
    shoot(page, "manager-dashboard-overdue-tasks")

    page.get_by_role("link", name="Tasks", exact=True).first.click()
    row = page.locator(f"tr[data-task='{found.task_id}']")
    expect(row).to_contain_text("Renewal escalation: not contacted")
    shoot(page, "manager-tasks")

    page.locator("#lang-switch").select_option("zh")
    page.wait_for_load_state("networkidle")
    expect(page.locator(f"tr[data-task='{found.task_id}']")).to_contain_text("续保升级：未联系")


def _run_job(live_server, job_id: str, day: date, **settings: str) -> None:
    env = {**os.environ, "INSURECRM_DATABASE_URL": live_server.database_url, "INSURECRM_SECRET_KEY": "browser-tests",
           **settings}
    subprocess.run([sys.executable, "-m", "insurecrm.cli", "jobs", "run", "--date", day.isoformat(), job_id],
                   env=env, check=True, capture_output=True, timeout=120)
