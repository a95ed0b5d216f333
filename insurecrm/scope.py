"""Object-level access: the one place that decides which rows a user may see.

Each domain registers, in its ``permissions.py``, a rule per model: a function of the user that
returns a SQL condition. Every list, get, update, export and report goes through
:func:`scoped_select` or :func:`get_visible_or_404`, so a rule written once holds everywhere. A role
that has no business with a model at all gets 403 (:class:`RoleForbidden`); a row outside the user's
scope does not exist for them (404).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from contextvars import ContextVar
from typing import Any, TypeVar

from flask import abort, g
from sqlalchemy import ColumnElement, Select, false, select, true
from werkzeug.exceptions import Forbidden

from insurecrm.db import db
from insurecrm.models import Role, User

T = TypeVar("T")
Rule = Callable[[User], ColumnElement[bool]]
_rules: dict[type, Rule] = {}


class RoleForbidden(Forbidden):
    description = "Your role may not use this resource."


def register(model: type) -> Callable[[Rule], Rule]:
    """Decorator: ``@register(Policy)`` on ``def policy_rule(user) -> condition``."""

    def decorator(rule: Rule) -> Rule:
        _rules[model] = rule
        return rule

    return decorator


def current_user_or_none() -> User | None:
    return g.get("user")


def visible(model: type, user: User | None = None) -> ColumnElement[bool]:
    """The SQL condition selecting the rows of ``model`` that ``user`` may see."""
    user = user or current_user_or_none()
    if user is None:
        return false()
    if model not in _rules:
        raise LookupError(f"no scope rule registered for {model.__name__}")
    return _rules[model](user)


def scoped_select(model: type[T], user: User | None = None, *entities: Any) -> Select:
    """``SELECT model`` (or ``entities``) restricted to what ``user`` may see."""
    return select(*(entities or (model,))).where(visible(model, user))


def visible_ids(model: type, user: User | None = None) -> Select:
    """A subquery of the ids of ``model`` that ``user`` may see, for use in ``IN (...)``."""
    return select(model.id).where(visible(model, user))


def get_visible_or_404(model: type[T], object_id: int, user: User | None = None, *, options: tuple = ()) -> T:
    """Load one row if ``user`` may see it; 404 otherwise, exactly as if it did not exist. ``options`` load
    what will be read of the row with it (``joinedload(Policyholder.tags)``), instead of lazily afterwards."""
    stmt = scoped_select(model, user).where(model.id == object_id).options(*options)
    obj = db.session.scalars(stmt).unique().one_or_none()
    if obj is None:
        abort(404, description=f"{model.__name__} {object_id} not found.")
    return obj


#: the rows a :class:`CheckedRows` in use vouches for: (the user's id, {(model, id): row})
_checked: ContextVar[tuple[int, dict[tuple[type, int], Any]] | None] = ContextVar("scope_checked", default=None)


class CheckedRows:
    """Rows the caller has just read through :func:`scoped_select` (or :func:`visible`) for ``user``; within
    ``with checked:``, :func:`find_visible` answers for them without asking the database again — an import checks
    the records a batch of rows names once, not once a row. Any other row, or another user, is looked up as ever.
    Made once (a batch), entered as often as needed (each row), one block at a time."""

    def __init__(self, user: User, rows: list) -> None:
        self._vouched = (user.id, {(type(row), row.id): row for row in rows})
        self._token = None

    def __enter__(self) -> CheckedRows:
        self._token = _checked.set(self._vouched)
        return self

    def __exit__(self, *_exc) -> None:
        _checked.reset(self._token)


def find_visible(model: type[T], object_id: int | None, user: User) -> T | None:
    """The row ``object_id`` of ``model`` if ``user`` may see it, else ``None`` (no id: ``None``). One query; none
    for a row the caller vouched for (:class:`CheckedRows`)."""
    if object_id is None:
        return None
    checked = _checked.get()
    if checked is not None and checked[0] == user.id and (row := checked[1].get((model, object_id))) is not None:
        return row
    return db.session.scalar(scoped_select(model, user).where(model.id == object_id))


class StatementPerScope:
    """A statement built once per distinct scope instead of once per request: ``build(condition)`` receives
    :func:`visible` of ``model`` for the user and returns the statement (whose other values are bound parameters,
    given at execution). Building a statement with loader options and computing SQLAlchemy's cache key for it
    costs more than running it (docs/benchmarks.md, "API throughput"); a statement kept here is reused with its
    key. Two users share one when their rules give the same SQL with the same values (two agents never do: the
    agent's id is one of the values), so a cached statement can never widen anyone's scope. Beyond ``size``
    scopes the statements kept are dropped and built again as needed (plain dict operations: safe in threads)."""

    def __init__(self, model: type, build: Callable[[ColumnElement[bool]], Select], *, size: int = 1024) -> None:
        self.model, self.build, self.size = model, build, size
        self._built: dict[Hashable, Select] = {}

    def __call__(self, user: User | None = None) -> Select:
        condition = visible(self.model, user)
        key = _condition_key(condition)
        if key is None:  # an element SQLAlchemy cannot key: built afresh, as without this class
            return self.build(condition)
        statement = self._built.get(key)
        if statement is None:
            if len(self._built) >= self.size:  # rare (a process serving more scopes than that): start again
                self._built.clear()
            statement = self._built[key] = self.build(condition)
        return statement


def _condition_key(condition: ColumnElement[bool]) -> Hashable | None:
    """The SQL of ``condition`` and the values it binds, or ``None`` if it has no cache key."""
    cache_key = condition._generate_cache_key()
    if cache_key is None:
        return None
    return cache_key.key, tuple(repr(parameter.effective_value) for parameter in cache_key.bindparams)


# -- building blocks shared by the domains' rules -------------------------------------------------

def everything(_user: User) -> ColumnElement[bool]:
    return true()


def org_subtree_condition(column, user: User) -> ColumnElement[bool]:
    """``column`` (an org unit id) lies in the subtree the branch manager leads."""
    from agents.models import OrgUnit

    path = _manager_path(user)
    if path is None:
        return false()
    return column.in_(select(OrgUnit.id).where(OrgUnit.path.startswith(path, autoescape=True)))


def _manager_path(user: User) -> str | None:
    from agents.models import OrgUnit

    cache = g.setdefault("_scope_paths", {})
    if user.id not in cache:
        cache[user.id] = (
            db.session.scalar(select(OrgUnit.path).where(OrgUnit.id == user.org_unit_id)) if user.org_unit_id else None
        )
    return cache[user.id]


def specialist_partner_ids(user: User) -> Select:
    """The bank partners a bancassurance specialist is stationed at."""
    from agents.models import agent_bank_partners

    return select(agent_bank_partners.c.bank_partner_id).where(agent_bank_partners.c.agent_id == user.agent_id)


def by_role(user: User, rules: dict[Role, Callable[[], ColumnElement[bool]]]) -> ColumnElement[bool]:
    """Dispatch on the user's role; a role not listed may not use the resource at all (403)."""
    rule = rules.get(user.role)
    if rule is None:
        raise RoleForbidden()
    return rule()
