"""The people on a policy, edited on the policy page: its insured persons and its beneficiaries.

Each list is one form: a row per person (kept, changed, or ticked for removal) and an empty row to add one.
The form replaces the whole list through :func:`policies.services.update_policy` — the API's PATCH — so the
beneficiaries' shares are checked as a whole (100% per order of priority) and the change is audited.
"""

from __future__ import annotations

import re

from flask import flash, g, redirect, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError

from insurecrm.db import db
from insurecrm.scope import get_visible_or_404
from insurecrm.web import WRITERS, page_roles
from policies import services
from policies.models import Policy
from policies.schemas import PolicyUpdateSchema
from policies.views import _refused, bp

#: form prefix → (the list it replaces, its fields, its integer fields)
LISTS = {
    "insured": ("insured_persons", ("policyholder_id", "name", "date_of_birth", "relation_to_holder"),
                {"policyholder_id"}),
    "beneficiary": ("beneficiaries", ("policyholder_id", "name", "relation_to_insured", "priority", "share_percent"),
                    {"policyholder_id", "priority"}),
}
#: rows one form may carry: a policy names a handful of people, never hundreds
MAX_ROWS = 30


@bp.post("/policies/<int:policy_id>/insured-persons")
@page_roles(*WRITERS)
def edit_insured_persons(policy_id: int):
    """Replace the insured persons with the rows of the form."""
    return _replace(policy_id, "insured", _("Insured persons saved."))


@bp.post("/policies/<int:policy_id>/beneficiaries")
@page_roles(*WRITERS)
def edit_beneficiaries(policy_id: int):
    """Replace the beneficiaries with the rows of the form (shares adding up to 100% per priority)."""
    return _replace(policy_id, "beneficiary", _("Beneficiaries saved."))


def _replace(policy_id: int, prefix: str, done: str):
    policy = get_visible_or_404(Policy, policy_id)
    key = LISTS[prefix][0]
    rows, form_rows = posted_rows(prefix)
    try:
        data = PolicyUpdateSchema().load({"version": _version(), key: rows})
        services.update_policy(policy, data, user=g.user)
    except ValidationError as exc:
        return _refused(policy, prefix, exc, row_errors(prefix, key, exc.normalized_messages(), form_rows))
    db.session.commit()
    flash(done, "success")
    return redirect(url_for(".detail", policy_id=policy_id, _anchor="people"))


def posted_rows(prefix: str) -> tuple[list[dict], list[int]]:
    """The rows of the form ``prefix`` that are kept (not ticked for removal, not left empty), in form order,
    and the form index of each (to put a message back next to its row)."""
    _, names, integers = LISTS[prefix]
    pattern = re.compile(rf"{prefix}-(\d{{1,3}})-\w+")
    indices = sorted({int(m.group(1)) for key in request.form if (m := pattern.fullmatch(key))})[:MAX_ROWS]
    rows, form_rows = [], []
    for index in indices:
        if request.form.get(f"{prefix}-{index}-remove"):
            continue
        row = {name: request.form[f"{prefix}-{index}-{name}"].strip() for name in names
               if request.form.get(f"{prefix}-{index}-{name}", "").strip()}
        if not row.keys() - {"relation_to_holder", "priority", "share_percent"}:
            continue  # the empty row for a new person, left empty
        for name in integers & row.keys():
            if row[name].isdigit():
                row[name] = int(row[name])  # a <select> sends text; a non-number is the schema's to refuse
        rows.append(row)
        form_rows.append(index)
    return rows, form_rows


def row_errors(prefix: str, key: str, messages: dict, form_rows: list[int]) -> dict:
    """The schema's and the service's messages, keyed for the form: ``"<prefix>-<row>-<field>"`` for a field of a
    row, ``"<prefix>"`` for the list as a whole (e.g. shares not adding up), ``"version"`` for the version."""
    errors: dict[str, list[str]] = {}
    for field, value in messages.items():
        if field != key:
            errors[field] = value if isinstance(value, list) else [str(value)]
        elif isinstance(value, dict):
            for position, fields in value.items():
                row = form_rows[position] if isinstance(position, int) and position < len(form_rows) else 0
                for name, texts in (fields.items() if isinstance(fields, dict) else [("_schema", fields)]):
                    errors[f"{prefix}-{row}-{name}"] = texts if isinstance(texts, list) else [str(texts)]
        else:
            errors[prefix] = value
    return errors


def _version() -> int | str | None:
    value = request.form.get("version", "").strip()
    return int(value) if value.isdigit() else value or None
