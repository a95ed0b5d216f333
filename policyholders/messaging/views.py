"""Pages of messaging: the public unsubscribe page, and the managers' list of inbound messages that reached nobody.

``/unsubscribe/<token>`` needs no login (the signed token is the right to use it), is shown in the policyholder's
language (unless the visitor chose one with the language switch), says what will happen, and withdraws only on the
``POST`` of its form, which carries the CSRF token like every form of the application: a ``GET`` — a mail scanner
following links — changes nothing.

``/inbound/unmatched`` (admins and branch managers): the SMS and emails matched to no policyholder, or to several,
oldest first; assign one to a policyholder found in one's book (a search, never a typed id), or set it aside.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from marshmallow import ValidationError

from insurecrm.db import db
from insurecrm.i18n import LANGUAGES
from insurecrm.models import Role
from insurecrm.scope import get_visible_or_404
from insurecrm.web import page_roles, paginate_page
from policyholders import services
from policyholders.merging.services import survivor_of
from policyholders.messaging import consent, inbound
from policyholders.messaging.models import InboundMessage, WithdrawalMethod
from policyholders.models import Policyholder

bp = Blueprint("messaging_web", __name__, template_folder="templates")
WEB_BLUEPRINTS = (bp,)
#: who works the messages that reached nobody
UNMATCHED_ROLES = (Role.ADMIN, Role.BRANCH_MANAGER)
PER_PAGE = 25


# -- unsubscribe (public) ---------------------------------------------------------------------------------------

@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):
    """What the unsubscribe link of a message does: shown on GET, done on POST (see the module)."""
    found = consent.read_token(token[:500])
    holder = _holder_of(found[0]) if found else None
    if holder is None:
        abort(404)
    channel = found[1]
    language = session.get("lang") if session.get("lang") in LANGUAGES else holder.preferred_language
    done = False
    if request.method == "POST":
        consent.withdraw(holder, channel, WithdrawalMethod.LINK)
        db.session.commit()
        done = True
    with force_locale(language if language in LANGUAGES else "en"):
        return render_template("messaging/unsubscribe.html", token=token, channel=channel.value, done=done,
                               withdrawn=not getattr(holder, consent.CONSENT_FIELD[channel]))


def _holder_of(policyholder_id: int) -> Policyholder | None:
    """The policyholder of a link's token — or, for a record merged since the email went, the record it was merged
    into (its messages and consents are the kept record's now)."""
    holder = db.session.get(Policyholder, policyholder_id)
    if holder is None and (survivor := survivor_of(policyholder_id)) is not None:
        holder = db.session.get(Policyholder, survivor)
    return holder


# -- inbound messages that reached nobody -------------------------------------------------------------------------

@bp.get("/inbound/unmatched")
@page_roles(*UNMATCHED_ROLES)
def unmatched():
    """The inbound messages waiting for a person, oldest first, 25 a page; ``?assign=<id>&q=`` searches the book for
    the policyholder to give one to."""
    page = paginate_page(inbound.waiting(), PER_PAGE)
    assigning = request.args.get("assign", type=int)
    q = request.args.get("q", "").strip()
    choices = services.find_in_book(q) if assigning and q else []
    return render_template("messaging/unmatched.html", page=page, assigning=assigning, q=q, choices=choices)


@bp.post("/inbound/unmatched")
@page_roles(*UNMATCHED_ROLES)
def handle_unmatched():
    """Assign a waiting message to a policyholder of one's book (``policyholder_id``), or set it aside
    (``action=set_aside``)."""
    message = _waiting_or_404(request.form.get("message_id", type=int))
    try:
        if request.form.get("action") == "set_aside":
            inbound.set_aside(message, user=g.user)
            flash(_("Message set aside."), "success")
        else:
            holder = get_visible_or_404(Policyholder, request.form.get("policyholder_id", type=int) or 0)
            inbound.assign(message, holder, user=g.user)
            flash(_("Message given to %(name)s.", name=holder.name), "success")
    except ValidationError:
        db.session.rollback()
        flash(_("This message has been handled already."), "error")
        return redirect(url_for(".unmatched"))
    db.session.commit()
    return redirect(url_for(".unmatched"))


def _waiting_or_404(message_id: int | None) -> InboundMessage:
    message = db.session.scalar(inbound.waiting().where(InboundMessage.id == (message_id or 0)))
    if message is None:
        abort(404)
    return message
