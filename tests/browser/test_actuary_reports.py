"""The actuary's day in a real browser: through pages alone, from the navigation to persistency, an experience
study, loss ratio, contribution and channel figures, each downloaded as CSV, XLSX and PDF — and no personal data in
any page or file."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect
from pypdf import PdfReader

from tests.browser.conftest import login, shoot

REPORTS = [("persistency", "Persistency"), ("experience", "Experience study"), ("loss-ratio", "Loss ratio"),
           ("contribution", "Contribution"), ("channels", "Channel performance")]
#: names and contact data of the demo book that an actuary must never see
PERSONAL = "SELECT name, phone, email FROM policyholders WHERE phone IS NOT NULL ORDER BY id LIMIT 40"


def personal_data(live_server) -> list[str]:
    import sqlalchemy as sa

    engine = sa.create_engine(live_server.database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text(PERSONAL)).all()
    finally:
        engine.dispose()
    return [value for row in rows for value in row if value]


def downloaded_text(download) -> str:
    with open(download.path(), "rb") as file:
        data = file.read()
    name = download.suggested_filename
    if name.endswith(".pdf"):
        return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    if name.endswith(".xlsx"):
        workbook = load_workbook(io.BytesIO(data))
        return " ".join(str(c.value) for sheet in workbook for row in sheet.iter_rows() for c in row)
    return data.decode("utf-8-sig")


@pytest.mark.parametrize(("name", "title"), REPORTS)
def test_the_actuary_finds_each_report_and_downloads_it_without_personal_data(page, live_server, name, title):
    secrets = personal_data(live_server)
    assert len(secrets) > 20
    login(page, "actuary1")
    page.get_by_role("link", name="Reports", exact=True).first.click()
    expect(page).to_have_url(re.compile(r"/reports$"))
    page.get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.locator("table").first).to_be_visible()
    if page.locator("[data-chart]").count():
        expect(page.locator(".js-plotly-plot").first).to_be_visible()
    shoot(page, f"actuary-report-{name}")
    html = page.content()
    texts = {"page": html}
    links = page.locator(".downloads a")
    for index in range(links.count()):
        link = links.nth(index)
        with page.expect_download() as info:
            link.click()
        download = info.value
        texts[download.suggested_filename] = downloaded_text(download)
    assert any(key.endswith(".pdf") for key in texts) and any(key.endswith(".xlsx") for key in texts)
    assert any(key.endswith(".csv") for key in texts)
    leaks = [f"{where}: {value}" for where, text in texts.items() for value in secrets if value in text]
    assert not leaks, leaks[:5]


def test_a_bar_of_a_chart_opens_the_list_behind_it(page):
    login(page, "manager1")
    page.goto("/reports/segments")
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    # a person clicks where the bar is drawn (plotly's drag layer above the bars takes the click and finds the bar)
    bar = page.locator(".js-plotly-plot .point path").first
    bar.scroll_into_view_if_needed()
    box = bar.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)  # plotly finds the point under the pointer as it moves, then takes the click on it
    expect(page.locator(".js-plotly-plot .hoverlayer .hovertext").first).to_be_visible()
    page.mouse.click(x, y)
    expect(page).to_have_url(re.compile(r"/reports/segments\?.*quadrant=\w+"))
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("Segments"))
