"""Every report of the catalogue, as a matrix like the pages' and the API's: every output (page, CSV of each table,
XLSX, PDF, API) × every role of the two-sided world (tests/access/world.py). A role the report does not name gets
403 everywhere; the others get their figures, never naming a record of the other side (an agent or a manager), and
the actuary never sees a name, a phone, an email, an address or a summary — in any output."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from insurecrm.models import Role
from reports import modules  # noqa: F401 - every report registered before the matrix is drawn
from reports.catalogue import REPORTS
from tests.access.world import build_world
from tests.test_access_matrix import pii_values

#: the roles whose scope is a part of the company: the other side's people must not appear
PARTIAL_SCOPE = (Role.AGENT, Role.BRANCH_MANAGER)


@pytest.fixture
def world(make, session):
    return build_world(make, session)


def outputs(web, api, user, name: str) -> dict[str, tuple[int, str]]:
    """(status, text) of each output of the report ``name`` for ``user``."""
    client = web(user)
    found = {}
    page = client.get(f"/reports/{name}")
    found["page"] = (page.status_code, page.get_data(as_text=True))
    body = api(user).get(f"/api/v1/reports/{name}?per_page=500")
    found["api"] = (body.status_code, body.get_data(as_text=True))
    tables = body.json.get("tables", []) if body.status_code == 200 else [None]
    for table in tables:
        csv = client.get(f"/reports/{name}.csv" + (f"?table={table}" if table else ""))
        found[f"csv {table}"] = (csv.status_code, csv.get_data(as_text=True))
    with client.get(f"/reports/{name}.xlsx") as xlsx:
        text = ""
        if xlsx.status_code == 200:
            workbook = load_workbook(io.BytesIO(xlsx.get_data()))
            text = " ".join(str(c.value) for sheet in workbook for row in sheet.iter_rows() for c in row)
        found["xlsx"] = (xlsx.status_code, text)
    pdf = client.get(f"/reports/{name}.pdf")
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.get_data())).pages) \
        if pdf.status_code == 200 else ""
    found["pdf"] = (pdf.status_code, text)
    return found


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_every_output_by_role(app, web, api, world, session, name):
    from agents.models import Agent
    from policyholders.models import Policyholder

    report = REPORTS[name]
    foreign_names = [session.get(Policyholder, world.foreign["policyholder"]).name,
                     session.get(Agent, world.foreign["agent"]).name]
    secrets = pii_values(world, session)
    failures = []
    for role, user in world.users.items():
        for output, (status, text) in outputs(web, api, user, name).items():
            want = 200 if role in report.roles else 403
            if status != want:
                failures.append(f"{name} {output} as {role.value}: expected {want}, got {status}")
            elif status == 200 and role in PARTIAL_SCOPE:
                failures += [f"{name} {output} as {role.value} names {value!r}" for value in foreign_names
                             if value in text]
            elif status == 200 and role == Role.ACTUARY:
                failures += [f"{name} {output} as actuary shows {value!r}" for value in secrets if value in text]
    assert not failures, "\n".join(failures)
