"""Benchmark of the import of policyholders (issue 11): ``insurecrm import`` of a file of N policyholders into
PostgreSQL against a plain ``COPY`` of the same file into a bare table of text columns.

    .venv/bin/python bench/import_speed.py                       # 100,000 policyholders
    .venv/bin/python bench/import_speed.py --policyholders 10000

Builds a fresh PostgreSQL database (on the server of ``INSURECRM_TEST_DATABASE_URL``, default ``postgres`` at
127.0.0.1:5432, dropped afterwards) with the schema, one organisation unit, 20 agents and an admin; writes a CSV
file in GBK with Chinese headers (ID number with its check digit, name, gender, birth date, mobile phone, email,
region, occupation, owner agent's code, tags); then times, on the same file:

- ``COPY bare FROM STDIN (FORMAT csv, HEADER, ENCODING 'GB18030')`` into a table of text columns, no index;
- the dry run (``insurecrm.imports.engine``, mode check) and the import (mode import: every row checked, then
  committed), as ``insurecrm import`` runs them, and the import of the same file again (nothing to change).

It prints the seconds and the ratio of each to the COPY, and checks that the import created every policyholder.
Then two floors, which no design of the import goes under while it checks every row by the API's rules and keeps
the schema and the audit: the API's schema (``PolicyholderSchema``) loading every row of the file, and a ``COPY`` of
the rows as imported (policyholders, their tags, their audit entries) into tables like theirs, with the same
indexes and generated columns.

``--scenario`` runs issue 11's acceptance instead: a file of N policyholders and one of their N policies, both in GBK
with Chinese headers, each with five bad rows; the dry runs must name exactly those rows; the corrected files are
imported in full; then a file of the N policies' first premiums (checked, imported); imported again, the three files
change nothing.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from stdnum.cn import ric  # noqa: E402

from insurecrm import create_app  # noqa: E402
from insurecrm.db import db  # noqa: E402
from insurecrm.imports import engine  # noqa: E402
from insurecrm.imports.models import ImportMode, ImportRun  # noqa: E402
from insurecrm.models import Role, User  # noqa: E402
from insurecrm.registry import metadata  # noqa: E402
from tests import databases  # noqa: E402

HEADERS = ["证件号码", "姓名", "性别", "出生日期", "手机", "电子邮件", "地区", "职业", "所属代理人工号", "标签"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"


def write_book(path: Path, count: int, agent_codes: list[str]) -> None:
    rng = random.Random(11)
    used: set[tuple[date, int]] = set()
    with path.open("w", encoding="gb18030", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        for n in range(count):
            born = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 55))
            while (born, n % 1000) in used:  # one ID number per person
                born += timedelta(days=1)
            used.add((born, n % 1000))
            body = f"110105{born:%Y%m%d}{n % 1000:03d}"
            number = body + ric.calc_check_digit(body + "0")
            name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(("", rng.choice(GIVEN)))
            writer.writerow([number, name, rng.choice(("男", "女")), born.isoformat(),
                             f"1{rng.choice('3578')}{n:09d}", f"holder{n}@example.com", rng.choice(("北京", "上海")),
                             rng.choice(("教师", "工程师", "医生")), rng.choice(agent_codes),
                             rng.choice(("", "vip", "family"))])


POLICY_HEADERS = ["保单号", "投保人证件号码", "产品代码", "生效日期", "保额", "保费", "缴费频率"]
PAYMENT_HEADERS = ["保单号", "缴费流水号", "缴费日期", "金额"]


def write_policies(path: Path, holders: Path, bad: dict[int, tuple[int, str]] | None = None) -> None:
    """One annual policy per policyholder of ``holders``; ``bad``: row number → (column, value) to spoil."""
    from policies.models import ProductLine
    from policies.numbers import policy_number

    def policy(n: int, holder: list[str]) -> list[str]:
        cells = [policy_number(ProductLine.HEALTH, 2026, n), holder[0], "HE-01", "2026-01-01", "￥200,000", "1,200.00",
                 "年缴"]
        if bad and n + 1 in bad:
            column, value = bad[n + 1]
            cells[column] = value
        return cells

    derive(path, holders, POLICY_HEADERS, policy)


def derive(path: Path, source: Path, headers: list[str], make_row) -> None:
    """A GBK file of ``headers`` with a row ``make_row(n, cells)`` for each row of the GBK file ``source`` (from 1)."""
    with source.open(encoding="gb18030", newline="") as given, path.open("w", encoding="gb18030",
                                                                          newline="") as handle:
        reader, writer = csv.reader(given), csv.writer(handle)
        next(reader)
        writer.writerow(headers)
        writer.writerows(make_row(n, row) for n, row in enumerate(reader, start=1))


def spoil(path: Path, bad: dict[int, tuple[int, str]]) -> None:
    """Replace, in the file of policyholders, the cells ``bad`` names (row number → (column, value))."""
    with path.open(encoding="gb18030", newline="") as handle:
        rows = list(csv.reader(handle))
    for number, (column, value) in bad.items():
        rows[number - 1][column] = value
    with path.open("w", encoding="gb18030", newline="") as handle:
        csv.writer(handle).writerows(rows)


def scenario(count: int, codes: list[str], admin_id: int, folder: Path) -> None:
    """Issue 11's acceptance: bad rows named by the dry run, the corrected files imported, then nothing changed."""
    from policies.models import ProductLine
    from tests.factories import Factory

    Factory(db.session).product(code="HE-01", line=ProductLine.HEALTH, frequencies=["annual"])
    db.session.commit()
    holders, policies = folder / "holders.csv", folder / "policies.csv"
    write_book(holders, count, codes)
    bad_holders = {3: (0, "110105199001011230"), 50: (4, "12345"), 500: (8, "NOBODY"), count // 2: (3, "1990-02-30"),
                   count: (2, "unknown")}
    bad_policies = {7: (5, "-100"), 70: (2, "NOPE"), 700: (1, "110105199001011230"), count // 3: (3, "2026/13/01"),
                    count - 1: (6, "weekly")}
    original = holders.read_bytes()
    spoil(holders, bad_holders)

    def run(kind: str, path: Path, mode: ImportMode) -> ImportRun:
        with path.open("rb") as stream:
            created = engine.create_run(kind, path.name, stream, user=db.session.get(User, admin_id), mode=mode)
        started = time.perf_counter()
        engine.perform(created.id)
        run = db.session.get(ImportRun, created.id)
        rows = sorted({issue.row for issue in run.issues if issue.severity == "error"})
        print(f"{kind:<14} {mode.value:<7} {run.status.value:<9} {time.perf_counter() - started:8.1f} s  "
              f"{run.counts}  rows refused: {rows[:10]}", flush=True)
        return run

    checked = run("policyholders", holders, ImportMode.CHECK)
    assert sorted({i.row for i in checked.issues if i.severity == "error"}) == sorted(bad_holders), "holders' rows"
    holders.write_bytes(original)
    assert run("policyholders", holders, ImportMode.IMPORT).status.value == "imported"
    write_policies(policies, holders, bad_policies)
    checked = run("policies", policies, ImportMode.CHECK)
    assert sorted({i.row for i in checked.issues if i.severity == "error"}) == sorted(bad_policies), "policies' rows"
    write_policies(policies, holders)
    assert run("policies", policies, ImportMode.IMPORT).status.value == "imported"
    payments = folder / "payments.csv"
    write_payments(payments, policies)
    assert run("payments", payments, ImportMode.CHECK).status.value == "checked"
    assert run("payments", payments, ImportMode.IMPORT).status.value == "imported"
    for kind, path in (("policyholders", holders), ("policies", policies), ("payments", payments)):
        again = run(kind, path, ImportMode.IMPORT)
        assert again.counts["unchanged"] == count and again.counts["created"] == again.counts["updated"] == 0


def write_payments(path: Path, policies: Path) -> None:
    """The first year's premium of each policy of ``policies``, paid by bank transfer on 5 January 2026."""
    derive(path, policies, PAYMENT_HEADERS, lambda n, policy: [policy[0], f"BT2026{n:08d}", "2026-01-05", "1,200.00"])


def timed(label: str, work, baseline: float | None = None) -> float:
    started = time.perf_counter()
    work()
    seconds = time.perf_counter() - started
    ratio = f"  {seconds / baseline:5.1f}× COPY" if baseline else ""
    print(f"{label:<44} {seconds:8.2f} s{ratio}", flush=True)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policyholders", type=int, default=100_000)
    parser.add_argument("--scenario", action="store_true", help="issue 11's acceptance (see above)")
    parser.add_argument("--no-dry-run", action="store_true", help="time the import and the file again only")
    args = parser.parse_args(argv)
    url = databases.create_pg_database("insurecrm_bench_import")
    try:
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-" * 8, "IMPORT_MAX_BYTES": 1 << 30})
        with app.app_context():
            metadata.create_all(db.engine)
            from tests.factories import Factory

            make = Factory(db.session)
            unit = make.org_unit()
            codes = [make.agent(unit).code for _ in range(20)]
            admin = make.user(Role.ADMIN)
            db.session.commit()
            admin_id = admin.id
            with tempfile.TemporaryDirectory() as folder:
                if args.scenario:
                    scenario(args.policyholders, codes, admin_id, Path(folder))
                    return 0
                path = Path(folder) / "book.csv"
                write_book(path, args.policyholders, codes)
                print(f"{args.policyholders:,} policyholders, {path.stat().st_size / 1e6:.1f} MB (GBK)", flush=True)
                copy = timed("plain COPY into a bare table", lambda: _copy(url, path))

                def run(mode: ImportMode) -> ImportRun:
                    with path.open("rb") as stream:
                        created = engine.create_run("policyholders", path.name, stream,
                                                    user=db.session.get(User, admin_id), mode=mode)
                    engine.perform(created.id)
                    return db.session.get(ImportRun, created.id)

                results = {}
                modes = (("dry run", ImportMode.CHECK), ("import", ImportMode.IMPORT),
                         ("the same file again", ImportMode.IMPORT))
                for label, mode in modes[1:] if args.no_dry_run else modes:
                    timed(label, lambda mode=mode, label=label: results.__setitem__(label, run(mode)), copy)
                for label, result in results.items():
                    print(f"  {label}: {result.status.value} {result.counts}")
                stored = db.session.scalar(sa.text("SELECT count(*) FROM policyholders"))
                assert stored == args.policyholders, f"{stored} policyholders imported"
                db.session.remove()
                print("floors — what any import of this file pays, whatever its design:")
                timed("  the API's schema loading each row", lambda: _schema_floor(path, codes), copy)
                timed("  COPY of the rows as imported into the tables", lambda: _write_floor(url), copy)
            db.session.remove()
        db.engine.dispose()
    finally:
        databases.drop_pg_database(url)
    return 0


def _schema_floor(path: Path, codes: list[str]) -> None:
    """Every row of the file loaded by the API's schema (what the import checks each row with first); the agent's
    code given as an id, as the import does after its look-up."""
    from policyholders.schemas import PolicyholderSchema

    schema, ids = PolicyholderSchema(), {code: n for n, code in enumerate(codes, start=1)}
    with path.open(encoding="gb18030", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for number, name, gender, born, phone, email, region, occupation, agent, tag in reader:
            schema.load({"id_type": "prc_resident", "id_number": number, "name": name,
                         "gender": "male" if gender == "男" else "female", "date_of_birth": born, "phone": phone,
                         "email": email, "region": region, "occupation": occupation, "owner_agent_id": ids[agent],
                         "tags": [tag] if tag else []})


def _write_floor(url: str) -> None:
    """The imported rows (policyholders, their tags, their audit entries), already checked and made, copied into
    tables like theirs (the same columns, indexes and generated columns): the cost of writing them at all."""
    import psycopg

    plain = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as connection:
        for table in ("policyholders", "policyholder_tags", "audit_log"):
            connection.execute(f"CREATE TEMPORARY TABLE floor_{table} (LIKE {table} INCLUDING ALL)")
        connection.commit()
        for table in ("policyholders", "policyholder_tags", "audit_log"):
            columns = [name for name, generated in connection.execute(
                "SELECT column_name, is_generated FROM information_schema.columns WHERE table_name = %s "
                "ORDER BY ordinal_position", (table,)) if generated == "NEVER"]
            names = ", ".join(columns)
            with connection.cursor().copy(f"COPY {table} ({names}) TO STDOUT") as source:
                data = b"".join(bytes(block) for block in source)
            started = time.perf_counter()
            with connection.cursor().copy(f"COPY floor_{table} ({names}) FROM STDIN") as copy:
                copy.write(data)
            connection.commit()
            print(f"    {table:<42} {time.perf_counter() - started:8.2f} s", flush=True)


def _copy(url: str, path: Path) -> None:
    import psycopg

    plain = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute("CREATE TABLE bare (" + ", ".join(f"c{n} text" for n in range(len(HEADERS))) + ")")
        with connection.cursor().copy("COPY bare FROM STDIN WITH (FORMAT csv, HEADER true, ENCODING 'GB18030')") \
                as copy, path.open("rb") as handle:
            while chunk := handle.read(1 << 16):
                copy.write(chunk)


if __name__ == "__main__":
    sys.exit(main())
