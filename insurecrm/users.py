"""Logins: creating and changing users, with the record each role is linked to.

Agents and bancassurance specialists log in as an agent, branch managers lead an organisation unit,
bank referrers are a referrer; the scope rules read these links, so a role without its link (or with
another role's) would see the wrong rows. Services flush, never commit; the caller commits.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import exists, select

from agents.models import Agent, AgentChannel, OrgUnit, Referrer
from insurecrm.auth import end_all_sessions
from insurecrm.db import db
from insurecrm.models import Role, User
from insurecrm.passwords import hash_password, verify_password

Errors = dict[str, list[str]]
MIN_PASSWORD_LENGTH = 10
LINKS = ("agent_id", "org_unit_id", "referrer_id")
#: the link each role requires; every other link must stay empty
ROLE_LINK: dict[Role, str | None] = {
    Role.ADMIN: None,
    Role.ACTUARY: None,
    Role.AGENT: "agent_id",
    Role.BANCASSURANCE_SPECIALIST: "agent_id",
    Role.BRANCH_MANAGER: "org_unit_id",
    Role.BANK_REFERRER: "referrer_id",
}
#: the CLI names linked records by code: ``agent_code`` → ``agent_id`` ...
CODE_KEYS = (("agent_code", Agent, "agent_id"), ("org_unit_code", OrgUnit, "org_unit_id"),
             ("referrer_code", Referrer, "referrer_id"))
PROFILE_FIELDS = ("display_name", "email", "preferred_language", "role", "active", *LINKS)


def create_user(data: dict[str, Any]) -> User:
    """Create a login. Linked records are given by id or, from the CLI, by code (``agent_code``,
    ``org_unit_code``, ``referrer_code``). Refuses a used username, a password shorter than 10
    characters, a link the role needs but lacks or must not have, an unknown linked record, a
    specialist whose agent is not in the bancassurance channel, and an agent or referrer that
    already has a login (422)."""
    errors: Errors = {}
    data = _resolve_codes(data, errors)
    role = Role(data["role"])
    if db.session.scalar(select(exists().where(User.username == data["username"]))):
        errors["username"] = [f"The username {data['username']} is taken."]
    errors.update(_password_errors(data.get("password")))
    links = {key: data.get(key) for key in LINKS}
    errors.update(_link_errors(role, links))
    _refuse(errors)
    user = User(username=data["username"], display_name=data.get("display_name") or data["username"],
                email=data.get("email"), role=role, active=data.get("active", True),
                preferred_language=data.get("preferred_language") or "en",
                password_hash=hash_password(data["password"]), **links)
    db.session.add(user)
    db.session.flush()
    return user


def update_user(user: User, data: dict[str, Any], *, actor: User) -> User:
    """Change a login's profile, role and links, active flag or password. The role's links are checked
    as they will be after the change (as in :func:`create_user`). Deactivating a user or setting a new
    password ends all their web sessions and revokes all their API tokens. Refuses an admin changing their own
    role or deactivating themselves, which could lock every admin out (422)."""
    errors: Errors = {}
    role = Role(data.get("role", user.role))
    if "password" in data:
        errors.update(_password_errors(data["password"]))
    if "role" in data or any(key in data for key in LINKS):
        errors.update(_link_errors(role, {key: data.get(key, getattr(user, key)) for key in LINKS}, user))
    if user.id == actor.id and role != user.role:
        errors["role"] = ["You cannot change your own role."]
    if user.id == actor.id and data.get("active") is False:
        errors["active"] = ["You cannot deactivate your own login."]
    _refuse(errors)
    deactivated = user.active and data.get("active") is False
    for key in PROFILE_FIELDS:
        if key in data:
            setattr(user, key, role if key == "role" else data[key])
    if "password" in data:
        user.password_hash = hash_password(data["password"])
    if deactivated or "password" in data:
        end_all_sessions(user)
    db.session.flush()
    return user


def change_own_password(user: User, current_password: str, new_password: str) -> User:
    """A user changes their own password: every web session and API token of theirs ends (the caller logs the
    current browser in again). Refuses a wrong current password, a new one shorter than 10 characters, and a
    new one equal to the current one (422, with messages in the user's language: only the page calls this)."""
    errors: Errors = {}
    if not verify_password(user.password_hash, current_password):
        errors["current_password"] = [_l("This is not your current password.")]
    if len(new_password) < MIN_PASSWORD_LENGTH:
        errors["new_password"] = [_l("Use at least %(count)d characters.", count=MIN_PASSWORD_LENGTH)]
    elif not errors and new_password == current_password:
        errors["new_password"] = [_l("Choose a password different from the current one.")]
    _refuse(errors)
    user.password_hash = hash_password(new_password)
    end_all_sessions(user)
    db.session.flush()
    return user


def _refuse(errors: Errors) -> None:
    if errors:
        raise ValidationError(errors)


def _resolve_codes(data: dict[str, Any], errors: Errors) -> dict[str, Any]:
    data = dict(data)
    for code_key, model, id_key in CODE_KEYS:
        code = data.pop(code_key, None)
        if code is None:
            continue
        data[id_key] = db.session.scalar(select(model.id).where(model.code == code))
        if data[id_key] is None:
            errors[code_key] = [f"No {model.__name__.lower()} has the code {code}."]
    return data


def _password_errors(password: str | None) -> Errors:
    if password is None or len(password) < MIN_PASSWORD_LENGTH:
        return {"password": [f"Use at least {MIN_PASSWORD_LENGTH} characters."]}
    return {}


def _link_errors(role: Role, links: dict[str, int | None], user: User | None = None) -> Errors:
    """The links ``role`` needs are present and point at suitable records; the others are empty."""
    errors: Errors = {}
    needed = ROLE_LINK[role]
    for key, value in links.items():
        if key == needed and value is None:
            errors[key] = [f"Required for the role {role}."]
        elif key != needed and value is not None:
            errors[key] = [f"Not used by the role {role}; leave it empty."]
    if needed is None or errors.get(needed):
        return errors
    message = _LINK_CHECKS[needed](role, links[needed], user)
    if message:
        errors[needed] = [message]
    return errors


def _agent_link_error(role: Role, agent_id: int, user: User | None) -> str | None:
    agent = db.session.get(Agent, agent_id)
    if agent is None:
        return "No such agent."
    if role == Role.BANCASSURANCE_SPECIALIST and agent.channel != AgentChannel.BANCASSURANCE:
        return "A bancassurance specialist's agent must be in the bancassurance channel."
    if _has_other_login(User.agent_id == agent_id, user):
        return "This agent already has a login."
    return None


def _unit_link_error(_role: Role, unit_id: int, _user: User | None) -> str | None:
    return None if db.session.get(OrgUnit, unit_id) is not None else "No such organisation unit."


def _referrer_link_error(_role: Role, referrer_id: int, user: User | None) -> str | None:
    if db.session.get(Referrer, referrer_id) is None:
        return "No such referrer."
    if _has_other_login(User.referrer_id == referrer_id, user):
        return "This referrer already has a login."
    return None


_LINK_CHECKS = {"agent_id": _agent_link_error, "org_unit_id": _unit_link_error, "referrer_id": _referrer_link_error}


def _has_other_login(condition, user: User | None) -> bool:
    if user is not None:
        condition = condition & (User.id != user.id)
    return bool(db.session.scalar(select(exists().where(condition))))
