"""Importing policyholders (policyholders/imports.py through insurecrm/imports/engine.py): a dry run reports what
would happen and writes nothing; the import is all or nothing; the same file again changes nothing; a changed row
updates its record, audited as the import; every kind of bad value is reported by row and column; scope holds."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from insurecrm.imports.models import ImportIssue, ImportRun
from insurecrm.models import AuditLog
from policyholders.models import Policyholder, PolicyholderRelationship
from tests.imports.conftest import csv_bytes, resident_id, xlsx_bytes

HEADERS_ZH = ["证件号码", "姓名", "性别", "出生日期", "手机", "所属代理人工号", "标签", "关系人证件号码", "关系"]
HEADERS_EN = ["ID number", "Name", "Gender", "Date of birth", "Phone", "Owner agent code", "Tags",
              "Related person's ID number", "Relationship"]
WEI, NA, MING = resident_id("1990-03-07", 123), resident_id("1985-12-24", 2), resident_id("2015-06-01", 31)


def book(agent_code: str, headers=HEADERS_ZH) -> list[list]:
    return [list(headers),
            [WEI, "张伟", "男", "1990/3/7", "13800138000", agent_code, "vip；高端", "", ""],
            [NA, "李娜", "女", "1985年12月24日", "139 0013 9000", agent_code, "", WEI, "配偶"],
            [MING, "张小明", "male", "2015-06-01", "", agent_code, "", WEI, "child of"]]


def holders(session) -> int:
    return session.scalar(select(func.count()).select_from(Policyholder))


def issues_of(run: ImportRun) -> list[tuple]:
    return [(issue.row, issue.column, issue.message) for issue in run.issues if issue.severity == "error"]


def test_a_gbk_file_with_chinese_headers_is_checked_then_imported_then_changes_nothing(org, run_import, session):
    content = csv_bytes(book(org.agent.code), encoding="gbk")
    checked = run_import("policyholders", content, org.manager, confirm=False)
    assert checked.status == "checked" and checked.encoding == "gb18030"
    assert checked.counts == {"created": 3, "updated": 0, "unchanged": 0, "errors": 0, "warnings": 0}
    assert holders(session) == 0  # a dry run writes nothing

    imported = run_import("policyholders", content, org.manager)
    assert imported.status == "imported" and imported.counts["created"] == 3
    wei = session.scalar(select(Policyholder).where(Policyholder.id_number == WEI))
    na = session.scalar(select(Policyholder).where(Policyholder.id_number == NA))
    assert (wei.name, wei.gender, str(wei.date_of_birth), wei.phone, wei.owner_agent_id, wei.org_unit_id) == (
        "张伟", "male", "1990-03-07", "+8613800138000", org.agent.id, org.team.id)
    assert sorted(tag.tag for tag in wei.tags) == ["vip", "高端"]
    assert na.phone == "+8613900139000"
    links = set(session.execute(select(PolicyholderRelationship.from_policyholder_id,
                                       PolicyholderRelationship.to_policyholder_id, PolicyholderRelationship.kind)))
    assert (na.id, wei.id, "spouse") in links and (wei.id, na.id, "spouse") in links  # with its inverse
    assert len(links) == 4  # child of and parent of too
    created = session.scalars(select(AuditLog).where(AuditLog.entity_type == "policyholders",
                                                     AuditLog.entity_id == wei.id)).all()
    assert [(entry.action, entry.actor_label, entry.actor_user_id) for entry in created] == [
        ("create", f"import:{imported.id}", org.manager.id)]

    again = run_import("policyholders", content, org.manager)
    assert again.status == "imported"
    assert again.counts == {"created": 0, "updated": 0, "unchanged": 3, "errors": 0, "warnings": 0}
    assert holders(session) == 3
    assert session.scalar(select(func.count()).select_from(PolicyholderRelationship)) == 4


def test_a_changed_row_updates_its_record_and_an_empty_cell_keeps_the_value(org, run_import, session):
    run_import("policyholders", csv_bytes(book(org.agent.code, HEADERS_EN)), org.admin)
    wei = session.scalar(select(Policyholder).where(Policyholder.id_number == WEI))
    version = wei.version
    changed = [["ID number", "Name", "Phone", "Region", "Tags"], [WEI, "张伟", "", "北京", "vip; 高端"],
               [NA, "李娜", "13900139000", "", ""]]
    run = run_import("policyholders", xlsx_bytes(changed), org.admin, filename="changes.xlsx")
    assert run.status == "imported" and run.file_format == "xlsx"
    assert run.counts == {"created": 0, "updated": 1, "unchanged": 1, "errors": 0, "warnings": 0}
    session.refresh(wei)
    assert (wei.region, wei.phone, wei.version) == ("北京", "+8613800138000", version + 1)
    update = session.scalar(select(AuditLog).where(AuditLog.entity_type == "policyholders",
                                                   AuditLog.entity_id == wei.id, AuditLog.action == "update"))
    assert update.actor_label == f"import:{run.id}" and update.changes == {"region": [None, "北京"]}


@pytest.mark.parametrize(("cells", "column", "message"), [
    ({"证件号码": WEI[:-1] + ("0" if WEI[-1] != "0" else "1")}, "证件号码", "check digit"),
    ({"出生日期": "1990-03-08"}, "出生日期", "Does not match the birth date in the resident ID"),
    ({"出生日期": "2990-01-01"}, "出生日期", ""),
    ({"出生日期": "1990/13/45"}, "出生日期", "Not a date"),
    ({"手机": "12345"}, "手机", "Not a valid phone number"),
    ({"性别": "unknown"}, "性别", "Not one of"),
    ({"所属代理人工号": "NOBODY"}, "所属代理人工号", "No record with the code NOBODY"),
    ({"姓名": ""}, "姓名", "Required"),
    ({"姓名": "名" * 121}, "姓名", "Length must be between 1 and 120"),
    ({"关系": ""}, "关系", "Give both"),
    ({"证件号码": float(110105199003071239)}, "证件号码", "lost its last digits"),
])
def test_each_bad_value_is_reported_by_row_and_column_and_nothing_is_written(org, run_import, session, cells, column,
                                                                             message):
    rows = book(org.agent.code)
    bad = dict(zip(HEADERS_ZH, rows[3], strict=True)) | cells
    rows[3] = [bad[header] for header in HEADERS_ZH]
    run = run_import("policyholders", xlsx_bytes(rows), org.admin, filename="bad.xlsx")
    assert run.status == "refused"
    found = issues_of(run)
    assert [(row, col) for row, col, _message in found] == [(4, column)], found
    assert message in found[0][2]
    assert holders(session) == 0  # the two good rows are not written either
    assert run.counts["created"] == 2  # what the good rows would have done


def test_duplicate_keys_missing_columns_and_unreadable_files_are_refused(org, run_import, session):
    rows = book(org.agent.code)
    run = run_import("policyholders", csv_bytes([*rows, rows[1]]), org.admin)
    assert issues_of(run) == [(5, "证件号码", "Row 2 has the same key: each record once per file.")]
    run = run_import("policyholders", csv_bytes([[cell for cell in row[1:]] for row in rows]), org.admin)
    assert issues_of(run) == [(0, None, 'The file has no column "ID number": add it, or say which column holds it.')]
    run = run_import("policyholders", bytes(range(128, 256)) * 8, org.admin)
    assert run.status == "refused" and "not text in UTF-8, GBK or GB18030" in issues_of(run)[0][2]
    run = run_import("policyholders", b"PK\x03\x04broken", org.admin, filename="book.xlsx")
    assert run.status == "refused" and "not an Excel workbook" in issues_of(run)[0][2]
    assert holders(session) == 0


def test_unknown_columns_are_warned_and_a_column_map_names_them(org, run_import, session):
    rows = book(org.agent.code)
    rows[0] = ["身份证", *rows[0][1:], ]
    rows[0][0] = "证件号"  # an alias: accepted
    rows[0][4] = "移动电话"  # not a header of the kind
    run = run_import("policyholders", csv_bytes(rows), org.admin, confirm=False)
    assert run.status == "checked"
    assert [(issue.row, issue.column, issue.severity) for issue in run.issues] == [(1, "移动电话", "warning")]
    mapped = run_import("policyholders", csv_bytes(rows), org.admin, column_map={"移动电话": "phone"})
    assert mapped.status == "imported"
    assert session.scalar(select(Policyholder.phone).where(Policyholder.id_number == WEI)) == "+8613800138000"


def test_imports_respect_scope(org, run_import, session, make):
    theirs = make.policyholder(org.other_agent, id_type="prc_resident", id_number=WEI, name="张伟")
    session.commit()
    rows = book(org.agent.code)
    run = run_import("policyholders", csv_bytes(rows[:3]), org.manager)
    assert issues_of(run) == [
        (2, "证件号码", "A policyholder with this ID number is on file outside your organisation: ask a manager who "
                    "can see it."),
        (3, "关系人证件号码", "No policyholder with this ID number on file or in the file.")]  # not one they may see
    run = run_import("policyholders", csv_bytes([rows[0], rows[2]]), org.sibling_manager)
    assert [(row, col) for row, col, _m in issues_of(run)][0] == (2, "所属代理人工号")  # another branch's agent
    session.refresh(theirs)
    assert theirs.name == "张伟" and holders(session) == 1


def test_a_dry_run_warns_of_a_likely_duplicate_already_on_file(org, run_import, make, session):
    make.policyholder(org.agent, name="张伟", phone="+8613800138000")
    session.commit()
    run = run_import("policyholders", csv_bytes(book(org.agent.code)[:2]), org.admin, confirm=False)
    assert run.status == "checked"
    warnings = [issue for issue in run.issues if issue.severity == "warning"]
    assert len(warnings) == 1 and warnings[0].row == 2 and "already on file" in warnings[0].message


def test_the_report_is_kept_with_the_run(org, run_import, session):
    rows = book(org.agent.code)
    rows[1][3] = "someday"
    rows[2][4] = "12"
    run = run_import("policyholders", csv_bytes(rows), org.admin)
    stored = session.scalars(select(ImportIssue).where(ImportIssue.run_id == run.id).order_by(ImportIssue.id)).all()
    # row 4 names Zhang Wei as its parent, whose row 2 is refused
    assert [(issue.row, issue.column, issue.value) for issue in stored] == [
        (2, "出生日期", "someday"), (3, "手机", "12"), (4, "关系人证件号码", None)]
    assert run.issues_count == 3 and run.rows_total == 3


def test_odd_headers_and_cells_are_reported_not_failed(org, run_import, session):
    rows = book(org.agent.code)
    rows[0].append("备注" * 200)  # a header far longer than the report's column
    for row in rows[1:]:
        row.append("")
    rows[1][3] = "9" * 300  # a cell far longer than the report's value
    rows[2][1] = "李\x00娜"  # a NUL in a name
    run = run_import("policyholders", csv_bytes(rows), org.admin)
    assert run.status == "refused"
    # row 4 names row 2's person, refused
    assert {(issue.row, issue.severity) for issue in run.issues} == {
        (1, "warning"), (2, "error"), (3, "error"), (4, "error")}
    assert len(next(issue.column for issue in run.issues if issue.row == 1)) == 120
    assert next(issue.value for issue in run.issues if issue.row == 3) == "李\u2400娜"
    assert holders(session) == 0
