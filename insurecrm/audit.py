"""The audit log: every create, update and delete of an audited model, field by field.

Models opt in with ``__audited__ = True``; ``__audit_secret__`` names fields whose values are never
written (a password hash shows as ``"***"``). The listener runs after each flush, when the new rows
have ids and attribute history is still available, and inserts the audit rows in the same
transaction: a rolled-back change leaves no audit row, a committed one always has its row.
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


def _column_changes(obj, *, created: bool = False, deleted: bool = False) -> dict[str, list]:
    state = inspect(obj)
    secret = getattr(obj, "__audit_secret__", frozenset())
    changes: dict[str, list] = {}
    for attr in state.mapper.column_attrs:
        key = attr.key
        if key in SKIPPED or key in getattr(obj, "__audit_ignore__", ()):
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
    return changes


def _audit_rows(session: Session) -> list[dict]:
    actor = current_actor()
    base = {"actor_user_id": getattr(actor, "id", None), "actor_label": actor_label(actor), "occurred_at": utcnow()}
    rows = []
    for action, objects in (("create", session.new), ("update", session.dirty), ("delete", session.deleted)):
        for obj in objects:
            if not getattr(obj, "__audited__", False):
                continue
            if action == "update" and not session.is_modified(obj, include_collections=False):
                continue
            changes = _column_changes(obj, created=action == "create", deleted=action == "delete")
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
