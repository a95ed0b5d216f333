"""Login, logout, and the start page: each role lands on the first page of its navigation."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from insurecrm.auth import authenticate
from insurecrm.db import db
from insurecrm.extensions import limiter
from insurecrm.models import Role
from insurecrm.navigation import home_url

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


@bp.before_app_request
def _set_user() -> None:
    if not request.path.startswith("/api/") and current_user.is_authenticated:
        g.user = current_user._get_current_object()


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data)
        if user is not None:
            db.session.commit()
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        flash(_("Unknown user or wrong password."), "error")
    status = 422 if request.method == "POST" else 200
    return render_template("login.html", form=form), status


def _safe_next(target: str | None) -> str:
    # only same-site paths: never redirect to another host after login
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("auth.home")


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    return redirect(url_for("auth.login"))


@bp.get("/")
@login_required
def home():
    """Each role lands on its first page (an agent's day, a manager's dashboard, ...)."""
    target = home_url(current_user.role)
    if target is not None:
        return redirect(target)
    return render_template("home.html", summary=ROLE_HOME_TEXT[current_user.role])
