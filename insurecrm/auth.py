"""Authentication: web sessions (Flask-Login, CSRF on every form) and API bearer tokens.

A bearer token is random, shown once, stored only as its SHA-256, expires after
``INSURECRM_API_TOKEN_TTL_HOURS`` and can be revoked. The API accepts bearer tokens only (never the
session cookie), so cross-site requests cannot ride on a browser session.

A web session is a signed cookie that carries the user's ``session_token`` (not their id); each request
loads the user by it, in one query. :func:`end_web_sessions` replaces the token, so every session of the
user ends on every host at once, a copied cookie included: logging out, a new password and deactivation do.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import cache, wraps

from flask import current_app, g, request
from sqlalchemy import Select, bindparam, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from werkzeug.exceptions import Unauthorized

from insurecrm import audit, token_cache
from insurecrm.db import UTCDateTime, db, utcnow
from insurecrm.extensions import login_manager
from insurecrm.models import ApiToken, Role, User, new_session_token
from insurecrm.passwords import hash_password, needs_rehash, verify_password
from insurecrm.scope import RoleForbidden


class TokenRequired(Unauthorized):
    description = "A valid bearer token is required: POST /api/v1/auth/token."


def authenticate(username: str, password: str) -> User | None:
    """The active user with these credentials, or ``None``; upgrades an outdated hash on success.

    The password is verified whether or not the user exists (against a dummy hash) or is active, so the
    answer takes the same time either way and does not tell which usernames exist."""
    user = db.session.scalar(select(User).where(User.username == username))
    matches = verify_password(user.password_hash if user is not None else _dummy_hash(), password)
    if user is None or not matches or not user.active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        audit.not_a_change(user, "password_hash")  # the same password, hashed anew: not a change
    user.last_login_at = utcnow()
    return user


@cache
def _dummy_hash() -> str:
    # made by the same hasher as real hashes, so verifying against it costs what a real verification costs
    return hash_password(secrets.token_urlsafe(16))


def end_web_sessions(user: User) -> None:
    """End every web session of ``user`` on every host: the cookies carry the old token, which no longer loads
    anyone. A bulk UPDATE, so that logging out is not recorded as a change of the user in the audit log (a new
    password or deactivation is, by its own field); the loaded user is updated in place."""
    db.session.execute(update(User).where(User.id == user.id).values(session_token=new_session_token()),
                       execution_options={"synchronize_session": "fetch"})


def end_all_sessions(user: User) -> None:
    """End the user's web sessions and revoke their API tokens (a new password, deactivation)."""
    end_web_sessions(user)
    revoke_all_tokens(user)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User) -> tuple[str, ApiToken]:
    """Create a bearer token for ``user``; returns the clear token (shown once) and its row."""
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + current_app.config["API_TOKEN_TTL"]
    row = ApiToken(user_id=user.id, token_hash=_digest(token), expires_at=expires_at)
    db.session.add(row)
    return token, row


def revoke_token(token: str) -> None:
    db.session.execute(
        update(ApiToken).where(ApiToken.token_hash == _digest(token), ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def revoke_all_tokens(user: User) -> None:
    db.session.execute(
        update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).values(revoked_at=utcnow())
    )


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@cache
def _user_for_token_statement() -> Select:
    # built once per process: every API request that misses the cache runs it, and building it costs more than
    # running it
    return (select(User, ApiToken.expires_at).join(ApiToken, ApiToken.user_id == User.id)
            .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None),
                   ApiToken.expires_at > bindparam("now", type_=UTCDateTime()), User.active))


def _token_row(token_hash: str, now: datetime):
    return db.session.execute(_user_for_token_statement(), {"token_hash": token_hash, "now": now}).first()


def user_for_token(token: str, now: datetime | None = None) -> User | None:
    """The active user of an unrevoked, unexpired token, else ``None``: one query, every check in SQL."""
    row = _token_row(_digest(token), now or utcnow())
    return row[0] if row is not None else None


@cache
def _user_columns() -> tuple[str, ...]:
    return tuple(attribute.key for attribute in sa_inspect(User).column_attrs)


def load_api_user() -> None:
    """``before_request`` of the API: sets ``g.user`` from the bearer token, or answers 401. The check is the
    query of :func:`user_for_token`, or this process's memory of it (:mod:`insurecrm.token_cache`, which drops
    it the moment a token or user changes)."""
    if request.endpoint in PUBLIC_API_ENDPOINTS or request.method == "OPTIONS":
        return
    token = bearer_token()
    if not token:
        raise TokenRequired()
    token_hash, now = _digest(token), utcnow()
    known = token_cache.cache.lookup(token_hash, now)
    if known is not None:
        g.user = _user_in_session(known.user_columns)
        return
    generation = token_cache.cache.generation()
    row = _token_row(token_hash, now)
    if row is None:
        raise TokenRequired()
    user, expires_at = row
    token_cache.cache.store(token_hash, {key: getattr(user, key) for key in _user_columns()}, expires_at, generation)
    g.user = user


def _user_in_session(columns: dict) -> User:
    """The user as loaded from the database, from the columns the cache kept (no query): the session's own
    instance if it holds one, else a new one added as persistent and unchanged."""
    session = db.session()
    known = session.identity_map.get(identity_key(User, columns["id"]))
    if known is not None:
        return known
    user = _user_manager().new_instance()
    for key, value in columns.items():
        set_committed_value(user, key, value)
    make_transient_to_detached(user)
    session.add(user)
    return user


@cache
def _user_manager():
    return sa_inspect(User).class_manager


#: endpoints of the API reachable without a token (login and the OpenAPI description)
PUBLIC_API_ENDPOINTS = {"auth_api.Token", "api-docs.openapi_json", "api-docs.openapi_swagger_ui"}


def require_roles(*roles: Role) -> Callable:
    """View decorator: only these roles may call the view (others get 403)."""
    allowed = frozenset(roles)

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            user = g.get("user")
            if user is None:
                raise TokenRequired()
            if user.role not in allowed:
                raise RoleForbidden()
            return view(*args, **kwargs)

        return wrapped

    return decorator


#: roles that may change the book (the actuary reads only; the referrer only submits referrals)
BOOK_WRITERS: tuple[Role, ...] = (Role.ADMIN, Role.BRANCH_MANAGER, Role.AGENT, Role.BANCASSURANCE_SPECIALIST)
INTERNAL_ROLES: tuple[Role, ...] = BOOK_WRITERS + (Role.ACTUARY,)


def role_in(user: User | None, roles: Iterable[Role]) -> bool:
    return user is not None and user.role in set(roles)


@login_manager.user_loader
def _load_user(session_token: str) -> User | None:
    """The user whose current session token the cookie carries (one query); ``None`` ends the session."""
    return db.session.scalar(select(User).where(User.session_token == session_token, User.active.is_(True)))
