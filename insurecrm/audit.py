"""The audit log: every create, update and delete of an audited model, field by field.

Models opt in with ``__audited__ = True``. Beside it a model may declare:

- ``__audit_secret__``: fields whose values are never written (a password hash shows as ``"***"``);
- ``__audit_ignore__``: fields that are not changes anyone made (a user's ``last_login_at``: a login is not
  a change);
- ``__audit_collections__``: many-to-many relationships recorded as the sorted ids of their members, under
  a name of their own (an agent's ``bank_partners`` as ``bank_partner_ids``).

The listener runs after each flush, when the new rows have ids and attribute history is still available,
and inserts the audit rows in the same transaction: a rolled-back change leaves no audit row, a committed
one always has its row. A service keeps a technical write out of the log with :func:`not_a_change` (a
password hash upgraded on login), or a change it records itself. Bulk ``UPDATE`` statements bypass the
listener: the services that issue them write their own rows (:func:`record`, ``agents/departure.py``).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import Session

from insurecrm.actor import actor_label, current_actor
from insurecrm.db import utcnow
from insurecrm.models import AuditLog

SKIPPED = {"id", "created_at", "updated_at", "version"}
#: what an entry of the log records: the listener's create/update/delete, and the services' own kinds of entry
ACTIONS = ("create", "update", "delete", "reveal", "resend", "mark_sent", "merge", "unmerge", "not_duplicate")


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


#: the ``InstanceState.info`` key of the fields marked by :func:`not_a_change`
_NOT_CHANGES = "audit_not_changes"


def not_a_change(obj, *fields: str) -> None:
    """Keep the changes of ``fields`` of ``obj`` at the next flush out of the audit log: technical writes
    that change nothing a person decided (a password hash upgraded to new parameters on login), or changes
    the caller writes to the log itself."""
    inspect(obj).info.setdefault(_NOT_CHANGES, set()).update(fields)


def _column_changes(obj, *, created: bool = False, deleted: bool = False) -> dict[str, list]:
    state = inspect(obj)
    secret = getattr(obj, "__audit_secret__", frozenset())
    ignored = SKIPPED | getattr(obj, "__audit_ignore__", frozenset()) | state.info.get(_NOT_CHANGES, set())
    changes: dict[str, list] = {}
    for attr in state.mapper.column_attrs:
        key = attr.key
        if key in ignored:
            continue
        if created or deleted:
            value = state.dict.get(key)
            if value is None:
                continue
            before, after = (value, None) if deleted else (None, value)
        else:
            history = state.attrs[key].history
            if not history.has_changes():
                continue
            before = history.deleted[0] if history.deleted else None
            after = history.added[0] if history.added else None
            if before == after:
                continue
        if key in secret:
            before, after = ("***" if before is not None else None), "***"
        changes[key] = [_json_value(before), _json_value(after)]
    changes.update(_collection_changes(state, created=created, deleted=deleted))
    return changes


def _collection_changes(state, *, created: bool, deleted: bool) -> dict[str, list]:
    """The members' ids before and after, of each collection whose members changed (never loads one)."""
    changes: dict[str, list] = {}
    for key, name in getattr(state.class_, "__audit_collections__", {}).items():
        history = state.attrs[key].history
        before = None if created else sorted(member.id for member in [*history.unchanged, *history.deleted])
        after = None if deleted else sorted(member.id for member in [*history.unchanged, *history.added])
        if before != after and (before or after):
            changes[name] = [before, after]
    return changes


def _audit_rows(session: Session) -> list[dict]:
    actor = current_actor()
    base = {"actor_user_id": getattr(actor, "id", None), "actor_label": actor_label(actor), "occurred_at": utcnow()}
    rows = []
    for action, objects in (("create", session.new), ("update", session.dirty), ("delete", session.deleted)):
        for obj in objects:
            if not getattr(obj, "__audited__", False):
                continue
            changes = _column_changes(obj, created=action == "create", deleted=action == "delete")
            inspect(obj).info.pop(_NOT_CHANGES, None)
            if action == "update" and not changes:
                continue
            rows.append({**base, "action": action, "entity_type": type(obj).__tablename__,
                         "entity_id": inspect(obj).dict.get("id"),
                         "changes": changes})
    return rows


def record(session: Session, *, action: str, entity_type: str, entity_id: int | None, changes: dict | None = None):
    """Write an audit row for something that is not a column change (e.g. revealing an ID number)."""
    actor = current_actor()
    session.execute(insert(AuditLog), [{
        "actor_user_id": getattr(actor, "id", None), "actor_label": actor_label(actor), "occurred_at": utcnow(),
        "action": action, "entity_type": entity_type, "entity_id": entity_id, "changes": changes or {},
    }])


@event.listens_for(Session, "after_flush")
def _write_audit_rows(session: Session, _flush_context) -> None:
    rows = _audit_rows(session)
    if rows:
        session.connection().execute(insert(AuditLog), rows)
