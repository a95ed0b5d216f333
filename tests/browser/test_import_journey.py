"""Issue 11 in a real browser: a branch manager brings a spreadsheet of policyholders in — a GBK file with Chinese
headers —, reads the dry run's problem by row, checks the corrected file, imports it, finds the new policyholders
in the book, and sees that importing it again changes nothing."""

from __future__ import annotations

import csv
import io
import random

from playwright.sync_api import expect
from stdnum.cn import ric

from tests.browser.conftest import login, shoot

#: an agent of manager1's branch (their unit or one below it), to own the imported policyholders
BRANCH_AGENT = """
SELECT a.code FROM agents a
JOIN org_units unit ON unit.id = a.org_unit_id
JOIN users u ON u.username = 'manager1'
JOIN org_units branch ON branch.id = u.org_unit_id
WHERE a.status = 'active' AND (unit.id = branch.id OR unit.path LIKE branch.path || '%')
ORDER BY a.id
"""


def resident_id(rng: random.Random) -> str:
    body = f"110105{rng.randint(1960, 1999)}0{rng.randint(1, 9)}1{rng.randint(0, 9)}{rng.randint(100, 999)}"
    return body + ric.calc_check_digit(body + "0")


def gbk_file(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("gbk")


def upload(page, content: bytes, name: str) -> None:
    page.get_by_role("link", name="Imports").first.click()
    page.get_by_label("What the file holds").select_option("policyholders")
    page.get_by_label("File (.csv or .xlsx)").set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": content}])
    page.get_by_role("button", name="Check the file").click()


def test_a_manager_checks_corrects_and_imports_a_file_of_policyholders(page, live_server):
    agent = live_server.query(BRANCH_AGENT)
    assert agent is not None, "the demo book should give manager1's branch an agent"
    rng = random.Random(live_server.base)
    numbers = [resident_id(rng) for _ in range(3)]
    while live_server.query("SELECT 1 FROM policyholders WHERE id_number IN (:a, :b, :c)",
                            a=numbers[0], b=numbers[1], c=numbers[2]) is not None:
        numbers = [resident_id(rng) for _ in range(3)]
    header = ["证件号码", "姓名", "手机", "所属代理人工号"]
    rows = [header, [numbers[0], "导入甲", "13700001111", agent.code], [numbers[1], "导入乙", "12345", agent.code],
            [numbers[2], "导入丙", "", agent.code]]
    login(page, "manager1")

    upload(page, gbk_file(rows), "branch-book.csv")
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "refused")
    problem = page.locator('tr[data-row="3"]')
    expect(problem).to_contain_text("手机")
    expect(problem).to_contain_text("Not a valid phone number")
    expect(page.locator('[data-count="created"]')).to_have_text("2")
    shoot(page, "import-refused")
    assert live_server.query("SELECT 1 FROM policyholders WHERE name LIKE '导入%'") is None  # nothing written

    rows[2][2] = "13700002222"
    upload(page, gbk_file(rows), "branch-book-corrected.csv")
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "checked")
    expect(page.locator('[data-count="created"]')).to_have_text("3")
    page.get_by_role("button", name="Import the file").click()
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "imported")
    shoot(page, "import-imported")

    page.get_by_role("link", name="Policyholders").first.click()
    page.get_by_label("Name, phone, ID or policy number").fill("导入乙")
    page.get_by_label("Name, phone, ID or policy number").press("Enter")
    expect(page.get_by_role("link", name="导入乙")).to_be_visible()

    upload(page, gbk_file(rows), "branch-book-again.csv")
    page.get_by_role("button", name="Import the file").click()
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "imported")
    expect(page.locator('[data-count="unchanged"]')).to_have_text("3")
    expect(page.locator('[data-count="created"]')).to_have_text("0")
