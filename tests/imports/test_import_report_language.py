"""An import run reports its problems in the language of the user who uploaded the file: every message of a Chinese
run — the cell readers', the engine's, the API schemas' (marshmallow's own refusals among them) and the services' —
is the Chinese catalogue's text, and the codes they name are named by their labels, for every kind of import.

The catalogue is replaced here by a marked one (every text it gives starts with :data:`MARK`), so that a message
worded in English anywhere on the way (a text that never went through the catalogue, or went through it in
another language) is caught, whether or not its Chinese is written yet."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from babel.support import Translations
from flask_babel import get_domain

from insurecrm import clock
from insurecrm.imports.kinds import load_kinds
from policies.models import PolicyStatus, ProductLine
from policies.numbers import policy_number
from policies.schedule import build_schedule
from tests.imports.conftest import csv_bytes, resident_id

MARK = "〔中〕"
WEI = resident_id("1990-03-07", 1)
MONTHLY, ENDED = policy_number(ProductLine.HEALTH, 2026, 1), policy_number(ProductLine.HEALTH, 2026, 2)


class MarkedCatalogue(Translations):
    """A catalogue that gives every text marked: what a Chinese run reports must come from it."""

    def ugettext(self, message: str) -> str:
        return MARK + message

    def ungettext(self, singular: str, plural: str, n: int) -> str:
        return MARK + (singular if n == 1 else plural)

    def upgettext(self, context: str, message: str) -> str:
        return MARK + message

    gettext, ngettext, pgettext = ugettext, ungettext, upgettext


@pytest.fixture
def marked_chinese(app, monkeypatch):
    for kind in load_kinds().values():
        kind.columns  # noqa: B018 - built (and their choices read) with the real catalogue, as in any process
    monkeypatch.setitem(get_domain().cache, ("zh", get_domain().domain[0]), MarkedCatalogue())


@pytest.fixture
def book(org, make, session):
    """A policyholder with a monthly policy (12 × 100, its schedule built) and an ended one, of the branch's agent."""
    holder = make.policyholder(org.agent, name="张伟", id_type="prc_resident", id_number=WEI)
    product = make.product(code="HE-01", line=ProductLine.HEALTH, frequencies=["annual", "monthly"])
    monthly = make.policy(holder, product, number=MONTHLY, premium=Decimal("100.00"), frequency="monthly")
    ended = make.policy(holder, product, number=ENDED, status=PolicyStatus.CANCELLED)
    session.flush()
    session.add_all(build_schedule(monthly))
    session.commit()
    return monthly, ended


def table(headers: list[str], *rows: dict) -> bytes:
    return csv_bytes([headers, *[[row.get(header, "") for header in headers] for row in rows]])


def future(days: int = 400) -> str:
    return (clock.today() + timedelta(days=days)).isoformat()


def person(seq: int, **changes: str) -> dict:
    return {"id_type": "passport", "id_number": f"E{seq:08d}", "name": "李娜", **changes}


def policy(seq: int, **changes: str) -> dict:
    return {"number": policy_number(ProductLine.HEALTH, 2026, 100 + seq), "policyholder_id_number": WEI,
            "product_code": "HE-01", "effective_date": "2026-01-01", "sum_insured": "500000", "premium": "1200",
            "frequency": "annual", **changes}


def payment(seq: int, **changes: str) -> dict:
    return {"policy_number": MONTHLY, "reference": f"BT{seq:03d}", "paid_on": "2026-01-05", "amount": "100",
            **changes}


def claim(seq: int, **changes: str) -> dict:
    return {"number": f"BJ-2026-{seq:04d}", "policy_number": MONTHLY, "loss_date": "2026-03-02",
            "report_date": "2026-03-05", **changes}


def installment(seq: int, **changes: str) -> dict:
    return {"policy_number": MONTHLY, "sequence": str(seq), "due_date": f"2026-{seq:02d}-01", "amount": "100",
            **changes}


#: the codes of what the refused rows name (the ended policy's status, the ID type of a person, a product's
#: frequencies), which an English message gives as they are and a Chinese one by their labels
CODES_OF_THE_ROWS = ("cancelled", "prc_resident", "annual")

#: kind → its headers and rows, each row refused for its own reason
BAD_FILES = {
    "policyholders": (
        ["id_type", "id_number", "name", "kind", "gender", "date_of_birth", "phone", "email", "region", "tags",
         "preferred_language", "consent_sms", "owner_agent_code", "related_id_number", "relationship"],
        [
            person(1, email="not-an-email"),
            person(2, name="李" * 121),
            person(3, region="r" * 65),
            person(4, tags="t" * 49),
            person(5, date_of_birth=future()),
            person(6, date_of_birth="1800-01-01"),
            person(7, date_of_birth="someday"),
            person(8, phone="12"),
            person(9, preferred_language="english"),
            person(10, consent_sms="maybe"),
            person(11, gender="x"),
            person(12, owner_agent_code="NOPE"),
            person(13, related_id_number=WEI),
            person(14, name=""),
            person(15, related_id_number="E99999999", relationship="spouse"),
            {"id_type": "prc_resident", "id_number": WEI[:-1] + ("0" if WEI[-1] != "0" else "1"), "name": "王芳"},
            {"id_type": "prc_resident", "id_number": resident_id("1991-01-01", 5), "name": "王芳",
             "date_of_birth": "1992-01-01"},
            {"id_type": "prc_resident", "id_number": resident_id("1991-01-01", 7), "name": "某公司",
             "kind": "organisation"},
        ]),
    "policies": (
        ["number", "policyholder_id_number", "product_code", "effective_date", "expiry_date", "sum_insured", "premium",
         "frequency", "status", "servicing_agent_code", "insured", "beneficiaries"],
        [
            policy(1, premium="-5"),
            policy(2, sum_insured="1.005"),
            policy(3, premium="10000000000000"),
            policy(4, number="HE2026000012340"),
            policy(5, frequency="quarterly"),
            policy(6, effective_date="2300-01-01"),
            policy(7, expiry_date="2025-01-01"),
            policy(8, status="lapsed"),
            policy(9, product_code="NOPE"),
            policy(10, policyholder_id_number="E00000000"),
            policy(11, insured="a:b:c"),
            policy(12, beneficiaries="李娜:spouse:60"),
            policy(13, beneficiaries="李娜:spouse:abc"),
            policy(14, servicing_agent_code="NOPE"),
            policy(15, number=MONTHLY, premium="300"),
        ]),
    "payments": (
        ["policy_number", "reference", "paid_on", "amount", "method", "installment_sequence"],
        [
            payment(1, amount="0"),
            payment(2, amount="-5"),
            payment(3, amount="99999"),
            payment(4, paid_on=future(800)),
            payment(5, reference="R" * 65),
            payment(6, installment_sequence="3"),
            payment(7, installment_sequence="0"),
            payment(8, method="barter"),
            payment(9, policy_number=ENDED),
            payment(10, policy_number="NOPE"),
        ]),
    "claims": (
        ["number", "policy_number", "loss_date", "report_date", "kind", "incurred_amount", "status",
         "rejection_reason", "paid_amount", "description"],
        [
            claim(1, loss_date="2020-01-01", report_date="2020-01-02"),
            claim(2, report_date="2026-03-01"),
            claim(3, incurred_amount="-1"),
            claim(4, status="rejected"),
            claim(5, status="closed"),
            claim(6, status="paid"),
            claim(7, rejection_reason="r" * 256),
            claim(8, description="d" * 10_001),
            claim(9, loss_date=future(800)),
            claim(10, kind="life"),
        ]),
    "installments": (
        ["policy_number", "sequence", "due_date", "amount", "status"],
        [
            installment(2, amount="0"),
            installment(3, due_date="2030-01-01"),
            installment(4, due_date="2026-01-01"),
            installment(20, due_date="2026-12-20"),
            installment(5, status="paid"),
            installment(1, policy_number=ENDED),
            installment(6, amount="1.001"),
        ]),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_a_chinese_run_reports_every_problem_from_the_catalogue(kind, org, book, marked_chinese, run_import):
    headers, rows = BAD_FILES[kind]
    run = run_import(kind, table(headers, *rows), org.manager, language="zh")
    reported = [(issue.row, issue.column, issue.message) for issue in run.issues]
    assert run.status == "refused", reported
    assert {row for row, _column, _message in reported} >= set(range(2, len(rows) + 2)), reported
    english = [issue for issue in reported if not issue[2].startswith(MARK)]
    assert not english, english
    by_code = [issue for issue in reported if any(code in issue[2] for code in CODES_OF_THE_ROWS)]
    assert not by_code, by_code  # a status, an ID type or a frequency is named by its label
