"""Users API (admins): logins, their roles and the records each role is linked to."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import fields, validate
from sqlalchemy import ColumnElement, or_

from insurecrm import users
from insurecrm.api import Id, ListArgs, Schema, api_blueprint, apply_sort, current_user, page_envelope, paginate
from insurecrm.auth import require_roles
from insurecrm.db import db
from insurecrm.models import Role, User
from insurecrm.scope import by_role, everything, get_visible_or_404, register, scoped_select

users_blp = api_blueprint("users_api", __name__, description="Logins and roles (admins).")
API_BLUEPRINTS = (users_blp,)

USER_SORTS = {"username", "display_name", "role", "created_at", "last_login_at"}
LANGUAGES = validate.OneOf(["en", "zh"])
PASSWORD = validate.Length(min=users.MIN_PASSWORD_LENGTH, max=256)


@register(User)
def user_rule(user: User) -> ColumnElement[bool]:
    """Only admins manage logins."""
    return by_role(user, {Role.ADMIN: lambda: everything(user)})


class UserSchema(Schema):
    """A login as shown to admins; the password comes in only, its hash never goes out."""

    pii_kind = "user"

    id = Id(dump_only=True)
    username = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Za-z0-9_.@-]{3,64}$", error="Use 3–64 letters, digits, '.', '_', '-' or '@'."))
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=120), metadata={"pii": "name"})
    email = fields.Email(allow_none=True, validate=validate.Length(max=255), metadata={"pii": "drop"})
    role = fields.Enum(Role, by_value=True, required=True)
    active = fields.Boolean(load_default=True)
    preferred_language = fields.String(load_default="en", validate=LANGUAGES)
    agent_id = Id(allow_none=True, metadata={"description": "Agents and specialists."})
    org_unit_id = Id(allow_none=True, metadata={"description": "Branch managers."})
    referrer_id = Id(allow_none=True, metadata={"description": "Bank referrers."})
    password = fields.String(required=True, load_only=True, validate=PASSWORD)
    last_login_at = fields.DateTime(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)


class UserUpdateSchema(Schema):
    """What an admin may change; a new password or deactivation ends the user's API tokens."""

    display_name = fields.String(validate=validate.Length(min=1, max=120))
    email = fields.Email(allow_none=True, validate=validate.Length(max=255))
    role = fields.Enum(Role, by_value=True)
    active = fields.Boolean()
    preferred_language = fields.String(validate=LANGUAGES)
    agent_id = Id(allow_none=True)
    org_unit_id = Id(allow_none=True)
    referrer_id = Id(allow_none=True)
    password = fields.String(load_only=True, validate=PASSWORD)


class UserArgs(ListArgs):
    role = fields.Enum(Role, by_value=True)
    active = fields.Boolean()
    q = fields.String(validate=validate.Length(min=1, max=120),
                      metadata={"description": "Username or display name contains."})


@users_blp.route("/users")
class Users(MethodView):
    @require_roles(Role.ADMIN)
    @users_blp.arguments(UserArgs, location="query")
    @users_blp.response(200, page_envelope(UserSchema))
    def get(self, args):
        """List logins; filter by role, active, or text in username/display name."""
        stmt = scoped_select(User)
        for key in ("role", "active"):
            if key in args:
                stmt = stmt.where(getattr(User, key) == args[key])
        if args.get("q"):
            stmt = stmt.where(or_(User.username.icontains(args["q"]), User.display_name.icontains(args["q"])))
        items, meta = paginate(apply_sort(stmt, User, args["sort"], USER_SORTS, default="username"), args)
        return {"items": items, "meta": meta}

    @require_roles(Role.ADMIN)
    @users_blp.arguments(UserSchema)
    @users_blp.response(201, UserSchema)
    def post(self, data):
        """Create a login with its role and the record the role is linked to."""
        user = users.create_user(data)
        db.session.commit()
        return user


@users_blp.route("/users/<int:user_id>")
class UserItem(MethodView):
    @require_roles(Role.ADMIN)
    @users_blp.response(200, UserSchema)
    def get(self, user_id):
        """One login."""
        return get_visible_or_404(User, user_id)

    @require_roles(Role.ADMIN)
    @users_blp.arguments(UserUpdateSchema)
    @users_blp.response(200, UserSchema)
    def patch(self, data, user_id):
        """Change a login: profile, role and links, active, password."""
        user = users.update_user(get_visible_or_404(User, user_id), data, actor=current_user())
        db.session.commit()
        return user
