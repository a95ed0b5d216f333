"""The imports in the browser's pages (/imports), the API (/api/v1/imports) and the command line (insurecrm
import): upload, dry run, report, column map, confirm, history; the templates; who may do what."""

from __future__ import annotations

import io

import openpyxl
import pytest
from flask.cli import ScriptInfo
from sqlalchemy import func, select

from insurecrm.cli import main
from insurecrm.imports import routes
from insurecrm.imports.kinds import load_kinds
from insurecrm.imports.models import ImportRun
from policyholders.models import Policyholder
from tests.api_client import csrf_token
from tests.imports.conftest import csv_bytes, resident_id, xlsx_bytes

WEI, NA = resident_id("1990-03-07", 123), resident_id("1985-12-24", 2)


def good(agent_code: str) -> bytes:
    return csv_bytes([["证件号码", "姓名", "手机", "所属代理人工号"], [WEI, "张伟", "13800138000", agent_code],
                      [NA, "李娜", "13900139000", agent_code]], encoding="gbk")


def upload(client, content: bytes, *, kind="policyholders", filename="book.csv"):
    return client.post("/imports", data={"csrf_token": csrf_token(client), "kind": kind,
                                         "file": (io.BytesIO(content), filename)},
                       content_type="multipart/form-data")


def holders(session) -> int:
    return session.scalar(select(func.count()).select_from(Policyholder))


def test_a_manager_checks_then_imports_a_file_in_the_browser(org, web, session):
    client = web(org.manager)
    page = client.get("/imports").get_data(as_text=True)
    assert "Check the file" in page and "No imports yet." in page
    response = upload(client, good(org.agent.code))
    assert response.status_code == 303
    run_url = response.headers["Location"]
    page = client.get(run_url).get_data(as_text=True)
    assert 'data-status="checked"' in page and 'data-count="created">2<' in page and "Import the file" in page
    assert holders(session) == 0
    run_id = int(run_url.rsplit("/", 1)[1])
    response = client.post(f"/imports/{run_id}/confirm", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 303
    page = client.get(run_url).get_data(as_text=True)
    assert 'data-status="imported"' in page and "What the import did" in page
    assert holders(session) == 2
    history = client.get("/imports").get_data(as_text=True)
    assert f'data-run="{run_id}"' in history and "book.csv" in history


def test_a_refused_file_shows_its_problems_downloads_them_and_maps_its_columns(org, web, session):
    client = web(org.admin)
    content = csv_bytes([["证件号码", "客户名", "电话号码", "所属代理人工号"],
                         [WEI, "张伟", "13800138000", org.agent.code], [NA, "李娜", "138", org.agent.code]])
    run_url = upload(client, content).headers["Location"]
    page = client.get(run_url).get_data(as_text=True)
    assert 'data-status="refused"' in page and "The file has no column" in page
    assert 'name="map:客户名"' in page  # the mapping form lists the file's headers
    run_id = int(run_url.rsplit("/", 1)[1])
    response = client.post(f"/imports/{run_id}/columns", data={
        "csrf_token": csrf_token(client), "map:客户名": "name", "map:电话号码": "phone"})
    mapped_url = response.headers["Location"]
    assert mapped_url != run_url
    page = client.get(mapped_url).get_data(as_text=True)
    assert 'data-status="refused"' in page and 'data-row="3"' in page and "Not a valid phone number" in page
    mapped_id = int(mapped_url.rsplit("/", 1)[1])
    report = client.get(f"/imports/{mapped_id}/report.csv")
    assert report.status_code == 200 and report.headers["Cache-Control"] == "no-store"
    lines = report.get_data().decode("utf-8-sig").splitlines()
    assert lines[0] == "Row,Column,Value,Problem,Severity" and lines[1].startswith("3,电话号码,138,")
    workbook = openpyxl.load_workbook(io.BytesIO(client.get(f"/imports/{mapped_id}/report.xlsx").data))
    assert [cell.value for cell in workbook.active[2]][:3] == [3, "电话号码", "138"]
    assert holders(session) == 0


def test_templates_in_the_readers_language_are_accepted_back(org, web, run_import, session):
    client = web(org.admin)
    client.post("/language", data={"lang": "zh", "csrf_token": csrf_token(client)})
    csv_template = client.get("/imports/template.csv?kind=policyholders").get_data().decode("utf-8-sig")
    assert csv_template.splitlines()[0].startswith("证件类型,证件号码 *,名称 *")
    workbook = openpyxl.load_workbook(io.BytesIO(client.get("/imports/template.xlsx?kind=policies").data))
    headers = [cell.value for cell in workbook.active[1]]
    assert headers[0] == "保单号 *"
    assert client.get("/imports/template.csv?kind=nothing").status_code == 404
    filled = csv_template.splitlines()[0] + "\n" + ",".join(
        {"证件号码 *": WEI, "名称 *": "张伟", "所属代理人工号": org.agent.code}.get(header, "")
        for header in csv_template.splitlines()[0].split(",")) + "\n"
    run = run_import("policyholders", filled.encode(), org.admin)
    assert run.status == "imported" and holders(session) == 1


def test_who_may_use_the_imports_pages(org, web, run_import):
    mine = run_import("policyholders", good(org.agent.code), org.manager, confirm=False)
    for user in (org.agent_user, org.specialist_user, org.actuary, org.referrer):
        assert web(user).get("/imports").status_code == 403
    assert web(org.sibling_manager).get(f"/imports/{mine.id}").status_code == 404
    client = web(org.sibling_manager)
    assert client.post(f"/imports/{mine.id}/confirm", data={"csrf_token": csrf_token(client)}).status_code == 404
    assert web(org.admin).get(f"/imports/{mine.id}").status_code == 200


def test_bad_uploads_are_refused_with_messages(org, web, session):
    client = web(org.admin)
    response = client.post("/imports", data={"csrf_token": csrf_token(client), "kind": "spaceships"},
                           content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "Choose what the file holds." in page and "Choose a file" in page
    response = upload(client, b"")
    assert response.status_code == 422 and "The file is empty." in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(ImportRun)) == 0


def test_the_api_checks_imports_and_confirms(org, api, session):
    client = api(org.manager)
    response = client.client.post("/api/v1/imports", headers=client.headers, content_type="multipart/form-data",
                                  data={"kind": "policyholders", "file": (io.BytesIO(good(org.agent.code)), "a.csv")})
    assert response.status_code == 202, response.json
    body = response.json
    assert body["status"] == "checked" and body["counts"]["created"] == 2 and body["issues"] == []
    assert holders(session) == 0
    client = api(org.manager)  # a client whose last request was not the multipart upload
    confirmed = client.post(f"/api/v1/imports/{body['id']}/confirm")
    assert confirmed.status_code == 202 and confirmed.json["status"] == "imported", confirmed.json
    assert holders(session) == 2
    assert client.post(f"/api/v1/imports/{body['id']}/confirm").status_code == 409
    listed = client.get("/api/v1/imports").json
    assert [item["id"] for item in listed["items"]] == [body["id"]]
    assert client.get(f"/api/v1/imports/{body['id']}").json["status"] == "imported"


def test_the_api_imports_in_one_step_and_reports_bad_rows(org, api, session):
    client = api(org.admin)
    rows = [["ID number", "Name", "Date of birth", "Organisation unit code"],
            [WEI, "张伟", "1990-03-07", org.team.code], [NA, "李娜", "someday", org.team.code]]
    response = client.client.post("/api/v1/imports", headers=client.headers, content_type="multipart/form-data",
                                  data={"kind": "policyholders", "dry_run": "false",
                                        "file": (io.BytesIO(xlsx_bytes(rows)), "b.xlsx")})
    assert response.status_code == 202
    assert response.json["status"] == "refused" and response.json["mode"] == "import"
    assert response.json["issues"] == [{"row": 3, "column": "Date of birth", "value": "someday", "severity": "error",
                                        "message": "Not a date: write it as 2024-03-05 (or 2024/3/5, 2024年3月5日)."}]
    assert holders(session) == 0


@pytest.mark.parametrize(("data", "field"), [
    ({"kind": "spaceships"}, "kind"),
    ({"kind": "policyholders", "column_map": "[1, 2]"}, "column_map"),
    ({"kind": "policyholders", "column_map": '{"x": "warp_drive"}'}, "column_map"),
])
def test_the_api_refuses_bad_uploads_with_422(org, api, session, data, field):
    client = api(org.admin)
    response = client.client.post("/api/v1/imports", headers=client.headers, content_type="multipart/form-data",
                                   data={**data, "file": (io.BytesIO(b"a,b\n1,2\n"), "c.csv")})
    assert response.status_code == 422 and field in str(response.json), response.json
    assert session.scalar(select(func.count()).select_from(ImportRun)) == 0


def test_the_api_for_other_roles_and_other_users_runs(org, api, run_import):
    mine = run_import("policyholders", good(org.agent.code), org.manager, confirm=False)
    assert api(org.agent_user).get("/api/v1/imports").status_code == 403
    assert api(org.sibling_manager).get(f"/api/v1/imports/{mine.id}").status_code == 404
    assert api(org.admin).get(f"/api/v1/imports/{mine.id}").status_code == 200


def test_the_kinds_the_api_documents_are_the_kinds_there_are(app):
    assert tuple(load_kinds()) == routes.KIND_NAMES


def test_the_command_line_checks_and_imports_with_a_progress_bar(app, org, session, tmp_path):
    path = tmp_path / "book.csv"
    path.write_bytes(good(org.agent.code))

    def run(*args):
        return app.test_cli_runner().invoke(main, ["import", *args], obj=ScriptInfo(create_app=lambda: app))

    checked = run("policyholders", str(path), "--dry-run", "--user", org.manager.username)
    assert checked.exit_code == 0, checked.output
    assert "checked (2 rows; created=2" in checked.output and holders(session) == 0
    imported = run("policyholders", str(path))
    assert imported.exit_code == 0 and "imported (2 rows; created=2" in imported.output
    assert holders(session) == 2
    path.write_bytes(csv_bytes([["ID number", "Name"], [WEI[:-1] + "0", "张伟"]]))
    refused = run("policyholders", str(path), "--user", org.manager.username)
    assert refused.exit_code == 1
    assert "error: row 2, ID number" in refused.output and "refused" in refused.output
    assert run("policyholders", str(path), "--user", org.agent_user.username).exit_code != 0
