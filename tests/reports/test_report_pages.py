"""The Reports section as a user meets it: the index by role, a report's page (filters, chart, paged table) in both
languages, bad filters answered with their messages, and the downloads (CSV, XLSX with typed cells, PDF with the
figures and the chart's labels as text) — the actuary seeing pseudonyms in every one of them."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import literal, select

from insurecrm.db import db
from insurecrm.models import Role
from insurecrm.pii import pseudonym
from policyholders.models import Gender, Policyholder
from reports.catalogue import REPORTS
from reports.exports import Heading, csv_chunks, pdf_bytes, xlsx_file
from reports.tables import Chart, Column, ReportResult, Table

pytestmark = pytest.mark.usefixtures("december")


@pytest.fixture
def book(make):
    branch = make.org_unit(name="Branch A")
    agent = make.agent(branch, name="Alice")
    for n, (born, premium) in enumerate([(date(1996, 6, 1), "1000.00"), (date(1970, 3, 3), "2400.00")]):
        holder = make.policyholder(owner=agent, date_of_birth=born, gender=Gender.FEMALE, region=f"Region {n}",
                                   name=f"Secret Name {n}")
        make.policy(holder, effective_date=date(2025, 1, 1), expiry_date=date(2027, 1, 1), premium=Decimal(premium))
    db.session.commit()
    return {"branch": branch, "agent": agent}


def test_the_index_lists_the_reports_of_the_role(web, make, book):
    html = web(make.user(Role.ACTUARY)).get("/reports").get_data(as_text=True)
    assert "Breakdowns of the book" in html and 'href="/reports/breakdowns"' in html
    assert "People are shown by pseudonym." in html
    assert web(make.user(Role.BANK_REFERRER)).get("/reports").status_code == 403


def test_the_navigation_and_the_dashboard_lead_to_the_reports(web, make, book):
    html = web(make.user(Role.BRANCH_MANAGER, org_unit_id=book["branch"].id)).get("/dashboard").get_data(as_text=True)
    assert 'href="/reports"' in html
    assert all(f'href="/reports/{report.name}"' in html
               for report in REPORTS.values() if Role.BRANCH_MANAGER in report.roles)


def test_a_report_page_has_its_filters_chart_and_table(web, make, book):
    html = web(make.user(Role.ADMIN)).get("/reports/breakdowns?by=age_band").get_data(as_text=True)
    assert "Period: <strong>2025-12-01 – 2026-11-30</strong>" in html
    assert '<option value="age_band" selected>' in html
    figure = json.loads(re.search(r'data-chart="chart-premium">(.*?)</script>', html, re.S).group(1))
    bars, rate = figure["data"]
    assert bars["x"] == ["25 to 34", "55 to 64"] and bars["y"] == [1000.0, 2400.0]
    assert rate["yaxis"] == "y2"
    assert "CN¥2,400.00" in html
    for download in ("/reports/breakdowns.xlsx?by=age_band", "/reports/breakdowns.pdf?by=age_band",
                     "/reports/breakdowns.csv?by=age_band&amp;table=breakdown"):
        assert download in html


def test_the_page_in_chinese(web, make, book):
    client = web(make.user(Role.ADMIN))
    with client.session_transaction() as session:
        session["lang"] = "zh"
    html = client.get("/reports/breakdowns").get_data(as_text=True)
    assert "年龄段" in html and "25至34岁" in html


def test_bad_filters_are_answered_with_their_messages(web, make, book):
    client = web(make.user(Role.ADMIN))
    response = client.get("/reports/breakdowns?by=shoe_size")
    assert response.status_code == 422 and "Must be one of: occupation, region" in response.get_data(as_text=True)
    response = client.get("/reports/breakdowns?start=2026-05-01&end=2026-01-01")
    assert response.status_code == 422 and "The period ends before it starts." in response.get_data(as_text=True)
    assert client.get("/reports/breakdowns.csv?start=1200-01-01").status_code == 422
    assert client.get("/reports/no-such-report").status_code == 404
    assert client.get("/reports/breakdowns.csv?table=nothing").status_code == 404


def test_csv_download(web, make, book):
    response = web(make.user(Role.ADMIN)).get("/reports/breakdowns.csv?by=age_band")
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[0][:3] == ["Age band", "Policyholders", "Policies in force"]
    assert rows[1][:4] == ["25 to 34", "1", "1", "1000.00"]


def test_xlsx_download_has_typed_cells(web, make, book):
    with web(make.user(Role.ADMIN)).get("/reports/breakdowns.xlsx") as response:
        workbook = load_workbook(io.BytesIO(response.get_data()))
    assert workbook.sheetnames == ["Report", "The book by Age band"]
    about = workbook["Report"]
    assert about["A1"].value == "Breakdowns of the book"
    sheet = workbook["The book by Age band"]
    assert [c.value for c in sheet[1]][:2] == ["Age band", "Policyholders"]
    premium = sheet.cell(row=3, column=4)
    assert premium.value == Decimal("2400.00") or premium.value == 2400
    assert premium.number_format == "#,##0.00"
    assert sheet.cell(row=3, column=8).number_format == "0.00%"


def test_pdf_download_holds_the_figures_and_the_chart_labels(web, make, book):
    response = web(make.user(Role.ADMIN)).get("/reports/breakdowns.pdf")
    assert response.mimetype == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.get_data())).pages)
    assert "Breakdowns of the book" in text and "Period" in text
    assert "CN¥2,400.00" in text
    # the chart's title and its category labels are text in the vector drawing
    assert "Annualised premium in force and lapse rate" in text
    assert text.count("55 to 64") >= 2


def people_report(session) -> ReportResult:
    """A report whose rows name policyholders, to check how every output shows a person."""
    statement = (select(Policyholder.id.label("holder"), Policyholder.name.label("holder_name"),
                        literal(Decimal("12.50")).label("amount")).order_by(Policyholder.id))
    table = Table("people", "People", [Column("holder", "Policyholder", "policyholder", name_key="holder_name"),
                                        Column("amount", "Amount", "money")], statement)
    return ReportResult([table], [Chart("people", "Amounts by policyholder", "people", "holder", ["amount"])])


def test_every_output_shows_the_actuary_pseudonyms(app, session, book):
    holders = session.scalars(select(Policyholder).order_by(Policyholder.id)).all()
    heading = Heading("People", [], date(2026, 12, 6), "Whole company")
    with app.test_request_context():
        names = [pseudonym("policyholder", holder.id) for holder in holders]
        text = b"".join(csv_chunks(people_report(session).tables[0], pseudonymise=True)).decode()
        with xlsx_file(people_report(session), heading, pseudonymise=True) as file:
            workbook = load_workbook(file)
        document = pdf_bytes(people_report(session), heading, pseudonymise=True)
    pdf_text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(document)).pages)
    sheet_text = " ".join(str(c.value) for row in workbook["People"].iter_rows() for c in row)
    for output in (text, sheet_text, pdf_text):
        assert "Secret Name" not in output
        assert all(name in output for name in names)


def test_every_report_is_offered_to_the_roles_it_names(web, make, book):
    for report in REPORTS.values():
        for role in Role:
            user = make.user(role)
            status = web(user).get(f"/reports/{report.name}").status_code
            assert (status == 200) == (role in report.roles), (report.name, role, status)


def test_the_api_serves_a_report_page_by_page(api, make, book):
    client = api(make.user(Role.ADMIN))
    body = client.get("/api/v1/reports/breakdowns?by=age_band&per_page=1").json
    assert body["report"] == "breakdowns" and body["tables"] == ["breakdown"] and body["table"] == "breakdown"
    assert body["meta"] == {"total": 2, "page": 1, "per_page": 1, "pages": 2}
    assert body["columns"][0] == {"key": "dim_0", "label": "Age band", "kind": "label:age_band"}
    assert body["rows"] == [{"dim_0": "25 to 34", "policyholders": 1, "in_force": 1, "premium": "1000.00",
                             "new_policies": 0, "contribution": "0.00", "lapses": 0, "lapse_rate": "0.000000"}]
    assert {"label": "Period", "value": "2025-12-01 – 2026-11-30"} in body["filters"]
    second = client.get("/api/v1/reports/breakdowns?by=age_band&per_page=1&page=2").json
    assert second["rows"][0]["premium"] == "2400.00"


def test_the_api_refuses_bad_filters_and_roles(api, make, book):
    admin = api(make.user(Role.ADMIN))
    response = admin.get("/api/v1/reports/breakdowns?by=shoe_size&per_page=501")
    assert response.status_code == 422 and {"by", "per_page"} <= set(response.json["errors"])
    response = admin.get("/api/v1/reports/breakdowns?table=nothing")
    assert response.status_code == 422
    assert response.json["errors"]["table"] == ["Not a table of this report: breakdown."]
    agent = api(make.user(Role.AGENT, agent_id=book["agent"].id))
    assert agent.get("/api/v1/reports/breakdowns").status_code == 403


def test_every_report_is_in_the_openapi_description(api, make):
    paths = api(make.user(Role.ADMIN)).get("/api/v1/openapi.json").json["paths"]
    for name in REPORTS:
        operation = paths[f"/api/v1/reports/{name}"]["get"]
        assert {"start", "end", "org_unit_id", "channel", "product_id", "page", "per_page", "table"} <= {
            parameter["name"] for parameter in operation["parameters"]}
