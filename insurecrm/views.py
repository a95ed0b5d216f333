"""Login, logout, the user's own account (a new password), and the start page: each role lands on the first page
of its navigation."""

from __future__ import annotations

import marshmallow as ma
from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from insurecrm import users
from insurecrm.auth import authenticate, end_web_sessions
from insurecrm.db import db
from insurecrm.extensions import limiter
from insurecrm.models import Role
from insurecrm.navigation import home_url
from insurecrm.web import CACHEABLE_ENDPOINTS, safe_redirect_target

bp = Blueprint("auth", __name__)

ROLE_HOME_TEXT = {
    Role.ADMIN: _l("Users, roles, organisation, products and imports."),
    Role.BRANCH_MANAGER: _l("Your branch: renewals to review, pipelines, service levels."),
    Role.AGENT: _l("Your book: renewals due, today's activities, your policyholders."),
    Role.BANCASSURANCE_SPECIALIST: _l("Your bank partners' referrals and book."),
    Role.BANK_REFERRER: _l("The referrals you submitted and their status."),
    Role.ACTUARY: _l("Reports and exports of the whole book, pseudonymised."),
}


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=256)])
    new_password = PasswordField(_l("New password (at least 10 characters)"),
                                 validators=[DataRequired(), Length(max=256)])
    new_password_again = PasswordField(_l("New password again"), validators=[
        DataRequired(), EqualTo("new_password", message=_l("The two new passwords differ."))])


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.before_app_request
def _set_user() -> None:
    """The signed-in user as ``g.user`` (one query), for every request but the API's (its token says who calls)
    and the static files' (they hold no one's data: a page's stylesheet and scripts cost no query)."""
    if request.path.startswith("/api/") or request.endpoint in CACHEABLE_ENDPOINTS:
        return
    if current_user.is_authenticated:
        g.user = current_user._get_current_object()
    # end the read transaction of the user load: on SQLite it holds the write lock, which the rate limit's own
    # transaction (insurecrm.ratelimit) must take on the rate-limited pages
    db.session.commit()


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data)
        if user is not None:
            db.session.commit()
            login_user(user)
            return redirect(safe_redirect_target(request.args.get("next")))
        flash(_("Unknown user or wrong password."), "error")
    status = 422 if request.method == "POST" else 200
    return render_template("login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    """Log out: ends every web session of the user, on every host and browser (a copied cookie too)."""
    end_web_sessions(g.user)
    db.session.commit()
    logout_user()
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
@limiter.limit(_login_limit, methods=["POST"])
def account():
    """The user's own account: who they are, and a new password (which ends their other sessions and tokens)."""
    form = PasswordChangeForm()
    errors: dict = {}
    if form.validate_on_submit():
        try:
            user = users.change_own_password(g.user, form.current_password.data, form.new_password.data)
            db.session.commit()
        except ma.ValidationError as exc:
            db.session.rollback()
            errors = exc.normalized_messages()
        else:
            login_user(user)  # this browser carries on with the new session token; every other session has ended
            flash(_("Your password is changed. Your other sessions and your API tokens have ended."), "success")
            return redirect(url_for("auth.account"))
    for field in form:
        errors.setdefault(field.name, []).extend(field.errors)
    status = 422 if request.method == "POST" else 200
    errors = {name: messages for name, messages in errors.items() if messages}
    return render_template("account.html", form=form, values={}, errors=errors), status


@bp.get("/")
@login_required
def home():
    """Each role lands on its first page (an agent's day, a manager's dashboard, ...)."""
    target = home_url(current_user.role)
    if target is not None:
        return redirect(target)
    return render_template("home.html", summary=ROLE_HOME_TEXT[current_user.role])
