"""Pages of duplicates and merge: the duplicates queue (managers and admins, in their scope), the dismissal of a
pair, the merge page (both records side by side, a choice per differing field), the merge history and undo
(admins). Rules live in :mod:`policyholders.merging.services`."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import selectinload

import policyholders.permissions  # noqa: F401 - registers the policyholder scope rules
from insurecrm import labels
from insurecrm.db import db
from insurecrm.models import Role
from insurecrm.pii import mask_id_number
from insurecrm.scope import get_visible_or_404
from insurecrm.web import id_or_404, page_roles, paginate_page
from policyholders.merging import services
from policyholders.merging.models import PolicyholderMerge
from policyholders.merging.queue import queue_page
from policyholders.merging.routes import MERGERS
from policyholders.models import Policyholder

bp = Blueprint("merging_web", __name__, template_folder="templates")
WEB_BLUEPRINTS = (bp,)
PER_PAGE = 25


@bp.get("/policyholders/duplicates")
@page_roles(*MERGERS)
def queue():
    """Pairs of likely duplicates of the user's scope, strongest first: three queries a page."""
    return render_template("merging/queue.html", page=queue_page(g.user))


@bp.post("/policyholders/duplicates/dismiss")
@page_roles(*MERGERS)
def dismiss():
    """Record a pair as two people: it leaves the queue for good (audited on both records)."""
    first, second = _two_records(id_or_404("first_id"), id_or_404("second_id"))
    services.dismiss(first, second, actor=g.user)
    db.session.commit()
    flash(_("Marked as two different people: the pair will not be proposed again."), "success")
    return redirect(url_for("merging_web.queue", page=request.form.get("page", "1")))


@bp.get("/policyholders/<int:policyholder_id>/merge")
@page_roles(*MERGERS)
def merge_form(policyholder_id: int):
    """Both records side by side: which one is kept, and for each differing field whose value."""
    first, second = _two_records(policyholder_id, id_or_404("other"))
    return render_template("merging/merge.html", first=first, second=second, rows=_rows(first, second))


@bp.post("/policyholders/<int:policyholder_id>/merge")
@page_roles(*MERGERS)
def merge(policyholder_id: int):
    """Merge the two records as chosen; lands on the kept record."""
    first, second = _two_records(policyholder_id, id_or_404("other_id"))
    by_id = {first.id: first, second.id: second}
    survivor = by_id.get(_chosen_id("survivor_id", by_id))
    merged = second if survivor is first else first
    take = {field for field in services.FIELDS
            if request.form.get(f"keep_{field}") and _chosen_id(f"keep_{field}", by_id) == merged.id}
    services.merge(survivor, merged, take=take, actor=g.user)
    db.session.commit()
    flash(_("Merged: the other record now leads here."), "success")
    return redirect(url_for("policyholders_web.detail", policyholder_id=survivor.id))


@bp.get("/policyholders/merges")
@page_roles(Role.ADMIN)
def history():
    """Every merge, newest first, with its undo button: four queries a page (the count, the merges, the users)."""
    stmt = (select(PolicyholderMerge).options(selectinload(PolicyholderMerge.merged_by),
                                              selectinload(PolicyholderMerge.undone_by))
            .order_by(PolicyholderMerge.merged_at.desc(), PolicyholderMerge.id.desc()))
    return render_template("merging/history.html", page=paginate_page(stmt, PER_PAGE))


@bp.post("/policyholders/merges/<int:merge_id>/undo")
@page_roles(Role.ADMIN)
def undo(merge_id: int):
    """Undo a merge; refused with the reason when something since prevents it."""
    record = db.session.get(PolicyholderMerge, merge_id) or abort(404)
    try:
        restored = services.undo(record, actor=g.user)
    except services.MergeRefused as exc:
        db.session.rollback()
        flash(_("The merge cannot be undone: %(reason)s", reason=exc.description), "error")
        return redirect(url_for("merging_web.history"))
    db.session.commit()
    flash(_("Merge undone: both records are back."), "success")
    return redirect(url_for("policyholders_web.detail", policyholder_id=restored.id))


def _two_records(first_id: int | None, second_id: int | None) -> tuple[Policyholder, Policyholder]:
    """Both records, each a 404 when missing or outside the user's scope; the same record twice is a 404 too."""
    if first_id is None or second_id is None or first_id == second_id:
        abort(404)
    return get_visible_or_404(Policyholder, first_id), get_visible_or_404(Policyholder, second_id)


def _chosen_id(name: str, by_id: dict[int, Policyholder]) -> int:
    """The id chosen in the radio ``name``: one of the two records, or a 422 on the field."""
    text = request.form.get(name, "").strip()
    if not text.isdigit() or int(text) not in by_id:
        raise ValidationError({name: [_("Choose one of the two records.")]})
    return int(text)


def _rows(first: Policyholder, second: Policyholder) -> list[tuple[str, str, str, bool]]:
    """(field, first's value, second's value, differ) for every field a merge may take, as shown."""
    rows = []
    for field in services.FIELDS:
        shown = shown_value(first, field), shown_value(second, field)
        rows.append((field, *shown, _raw(first, field) != _raw(second, field)))
    return rows


def _raw(holder: Policyholder, field: str):
    return tuple(getattr(holder, column) for column in services.COLUMNS.get(field, (field,)))


def shown_value(holder: Policyholder, field: str) -> str:
    """A field's value for a reader: a label for a code, a name for an agent or a unit, the ID number masked."""
    value = getattr(holder, field)
    if field == "id_number":
        return f"{labels.label(holder.id_type, 'id_type')} {mask_id_number(value) or ''}".strip()
    if field == "owner_agent_id":
        return holder.owner_agent.name if holder.owner_agent else "—"
    if field == "org_unit_id":
        return holder.org_unit.name if holder.org_unit else "—"
    if value is None or value == "":
        return "—"
    return labels.audit_value("policyholders", field, value)
