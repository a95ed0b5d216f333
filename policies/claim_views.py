"""Claims in the browser: reported from the policy page, then worked on the claim's own page (status, incurred and
paid amounts, rejection reason), through the same services as the claims API (:mod:`policies.claims`).
"""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from insurecrm.db import db
from insurecrm.scope import get_visible_or_404
from insurecrm.web import INTERNAL, WRITERS, load_form, page_roles
from policies import claims
from policies.models import Claim, Policy
from policies.schemas import ClaimSchema, ClaimUpdateSchema
from policies.views import CLAIM_STATUS_LABELS, _refused, bp


@bp.post("/policies/<int:policy_id>/claims")
@page_roles(*WRITERS)
def report_claim(policy_id: int):
    """Report a claim on the policy; its number is allocated and its page opens."""
    policy = get_visible_or_404(Policy, policy_id)
    try:
        claim = claims.create_claim(policy, load_form(ClaimSchema()))
    except ValidationError as exc:
        return _refused(policy, "claim", exc)
    db.session.commit()
    flash(_("Claim %(number)s reported.", number=claim.number), "success")
    return redirect(url_for(".claim_page", claim_id=claim.id))


@bp.get("/claims/<int:claim_id>")
@page_roles(*INTERNAL)
def claim_page(claim_id: int):
    """One claim: its policy, dates, kind, amounts and status; writers update it here."""
    return _render_claim(get_visible_or_404(Claim, claim_id))


@bp.post("/claims/<int:claim_id>")
@page_roles(*WRITERS)
def update_claim(claim_id: int):
    """Change the claim's status, incurred and paid amounts, rejection reason or description. A death, total
    disability or total loss paid in full ends the policy (see :mod:`policies.claims`)."""
    claim = get_visible_or_404(Claim, claim_id)
    try:
        data = load_form(ClaimUpdateSchema(), clearing=True)
        claims.update_claim(claim, data)
    except ValidationError as exc:
        db.session.rollback()
        return _render_claim(claim, errors=exc.normalized_messages(), status=422)
    db.session.commit()
    flash(_("Claim %(number)s saved: %(status)s.", number=claim.number, status=CLAIM_STATUS_LABELS[claim.status]),
          "success")
    return redirect(url_for(".claim_page", claim_id=claim.id))


def _render_claim(claim: Claim, *, errors: dict | None = None, status: int = 200):
    claim = db.session.scalars(select(Claim).where(Claim.id == claim.id)
                               .execution_options(populate_existing=True)).one()
    policy = db.session.scalars(select(Policy).where(Policy.id == claim.policy_id).options(
        joinedload(Policy.product), joinedload(Policy.policyholder)).execution_options(populate_existing=True)).one()
    return render_template(
        "policies/claim.html", claim=claim, policy=policy, can_write=g.user.role in WRITERS,
        claim_statuses=claims.next_statuses(claim), errors=errors or {}, form=request.form if errors else {},
    ), status
