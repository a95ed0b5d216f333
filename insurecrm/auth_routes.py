"""API endpoints of authentication and of the audit log."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app, g
from flask.views import MethodView
from marshmallow import fields
from sqlalchemy import select
from werkzeug.exceptions import Unauthorized

from insurecrm import audit
from insurecrm.api import Id, ListArgs, Schema, api_blueprint, apply_sort, page_envelope, paginate
from insurecrm.auth import (
    TokenRequired,
    authenticate,
    bearer_token,
    issue_token,
    require_roles,
    revoke_token,
    user_for_token,
)
from insurecrm.db import db
from insurecrm.extensions import limiter
from insurecrm.models import AuditLog, Role

auth_blp = api_blueprint("auth_api", __name__, description="Bearer tokens for the API.")
audit_blp = api_blueprint("audit_api", __name__, description="The audit log (admins).")
API_BLUEPRINTS = (auth_blp, audit_blp)


class Credentials(Schema):
    username = fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    password = fields.String(required=True, load_only=True, validate=ma.validate.Length(min=1, max=256))


class TokenOut(Schema):
    access_token = fields.String()
    token_type = fields.String()
    expires_at = fields.DateTime()
    role = fields.String()


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@auth_blp.route("/auth/token")
class Token(MethodView):
    decorators = [limiter.limit(_login_limit, methods=["POST"])]

    @auth_blp.arguments(Credentials)
    @auth_blp.response(201, TokenOut)
    def post(self, credentials):
        """Exchange a username and password for a bearer token."""
        user = authenticate(credentials["username"], credentials["password"])
        if user is None:
            raise Unauthorized("Unknown user or wrong password.")
        token, row = issue_token(user)
        db.session.commit()
        return {"access_token": token, "token_type": "Bearer", "expires_at": row.expires_at, "role": user.role}

    @auth_blp.response(204)
    def delete(self):
        """Revoke the token this request carries (401 without a valid one)."""
        token = bearer_token()
        if token is None or user_for_token(token) is None:
            raise TokenRequired()
        revoke_token(token)
        db.session.commit()


class AuditEntry(Schema):
    id = Id()
    occurred_at = fields.DateTime()
    actor_user_id = Id(allow_none=True)
    actor_label = fields.String()
    action = fields.String()
    entity_type = fields.String()
    entity_id = Id(allow_none=True)
    changes = fields.Dict()


class AuditArgs(ListArgs):
    entity_type = fields.String(validate=ma.validate.Length(min=1, max=64))
    entity_id = Id()
    actor_user_id = Id()
    action = fields.String(validate=ma.validate.OneOf(audit.ACTIONS))


@audit_blp.route("/audit")
@require_roles(Role.ADMIN)
@audit_blp.arguments(AuditArgs, location="query")
@audit_blp.response(200, page_envelope(AuditEntry))
def list_audit(args):
    """Audit entries, newest first; filter by entity, actor or action."""
    stmt = select(AuditLog)
    for key in ("entity_type", "entity_id", "actor_user_id", "action"):
        if key in args:
            stmt = stmt.where(getattr(AuditLog, key) == args[key])
    stmt = apply_sort(stmt, AuditLog, args["sort"], {"id", "occurred_at"}, default="-id")
    items, meta = paginate(stmt, args)
    return {"items": items, "meta": meta}


__all__ = ["API_BLUEPRINTS", "g"]
