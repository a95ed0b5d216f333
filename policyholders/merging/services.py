"""Merging two records of one person into one, and undoing it.

The merge keeps ``survivor`` and folds ``merged`` into it: every row of another table that refers to the merged
record (every foreign key to ``policyholders.id``, found in the metadata) is moved to the survivor, or dropped when
the survivor already has its like (a tag, a campaign membership, a relationship to the same person of the same
kind), when it relates the two records to each other, or when it is a figure derived by a nightly job (churn
scores, contribution figures: recomputed for the survivor by the next run). The merged row itself is then deleted:
no list, search, report, export or job can show or count it as a live policyholder. :class:`PolicyholderMerge`
keeps the merged row as it was, the survivor's values it overwrote, and every moved and dropped row, so that the
old id redirects to the survivor (:func:`survivor_of`) and an admin can undo the merge (:func:`undo`).

:data:`STRATEGIES` names what is done for each foreign key; a foreign key to ``policyholders.id`` without one
makes every merge refuse (and a test fail), so a new table cannot be forgotten silently.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import JSON, Column, Table, and_, delete, exists, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import Conflict

from insurecrm import audit
from insurecrm.db import Base, db, utcnow
from insurecrm.models import User
from insurecrm.scope import visible
from policyholders.merging.models import DuplicateDismissal, PolicyholderMerge
from policyholders.models import Policyholder

#: the fields a merge may take from the merged record, in the order of the merge page; ``id_number`` takes the ID
#: type with it (the pair is one document)
FIELDS = ("kind", "name", "gender", "date_of_birth", "id_number", "phone", "phone_alt", "email", "address", "region",
          "occupation", "industry", "income_band", "marital_status", "preferred_channel", "preferred_language",
          "consent_marketing", "consent_sms", "consent_email", "owner_agent_id", "org_unit_id", "acquisition_channel",
          "acquisition_source", "bank_partner_id", "referrer_id", "status")
#: the columns each field writes
COLUMNS = {"id_number": ("id_type", "id_number")}
#: how many hops of merges a redirect follows (a survivor merged in its turn, ...)
MAX_HOPS = 20


@dataclass(frozen=True)
class Move:
    """Move the rows to the survivor. ``unless_survivor_has``: columns that, with the foreign key, are unique: a
    row whose like the survivor has is dropped. ``other_end``: the column naming the other policyholder of a
    relationship: a row between the two records themselves is dropped."""

    unless_survivor_has: tuple[str, ...] = ()
    other_end: str | None = None


@dataclass(frozen=True)
class Drop:
    """Drop the rows: figures derived by a job, recomputed for the survivor by the next run; dismissals of the
    duplicates queue."""


MOVE = Move()
#: (table, column) of every foreign key to policyholders.id → what a merge does with its rows
STRATEGIES: dict[tuple[str, str], Move | Drop] = {
    ("policies", "policyholder_id"): MOVE,
    ("insured_persons", "policyholder_id"): MOVE,
    ("beneficiaries", "policyholder_id"): MOVE,
    ("interactions", "policyholder_id"): MOVE,
    ("service_requests", "policyholder_id"): MOVE,
    ("opportunities", "policyholder_id"): MOVE,
    ("activities", "policyholder_id"): MOVE,
    ("referrals", "policyholder_id"): MOVE,
    ("quotes", "policyholder_id"): MOVE,
    ("outbox", "policyholder_id"): MOVE,
    ("inbound_messages", "policyholder_id"): MOVE,  # what the person wrote: their history
    ("consent_withdrawals", "policyholder_id"): MOVE,  # their own word: the survivor's consents keep it
    ("policy_figures", "policyholder_id"): MOVE,  # one row per policy: it follows its policy
    ("policyholder_tags", "policyholder_id"): Move(unless_survivor_has=("tag",)),
    ("campaign_members", "policyholder_id"): Move(unless_survivor_has=("run_id",)),
    ("policyholder_relationships", "from_policyholder_id"): Move(
        unless_survivor_has=("to_policyholder_id", "kind"), other_end="to_policyholder_id"),
    ("policyholder_relationships", "to_policyholder_id"): Move(
        unless_survivor_has=("from_policyholder_id", "kind"), other_end="from_policyholder_id"),
    ("churn_scores", "policyholder_id"): Drop(),
    ("churn_reasons", "policyholder_id"): Drop(),
    ("policyholder_figures", "policyholder_id"): Drop(),
    ("policyholder_duplicate_dismissals", "policyholder_id"): Drop(),
    ("policyholder_duplicate_dismissals", "other_policyholder_id"): Drop(),
}


class MergeRefused(Conflict):
    """A merge or an undo that cannot be done; the message says why."""


def references() -> list[tuple[Table, Column]]:
    """Every (table, column) of the schema with a foreign key to ``policyholders.id``, in a stable order."""
    target = Policyholder.__table__.c.id
    found = [(table, fk.parent) for table in Base.metadata.sorted_tables for fk in table.foreign_keys
             if fk.column is target]
    return sorted(found, key=lambda pair: (pair[0].name, pair[1].name))


def unhandled_references() -> list[str]:
    """The foreign keys to ``policyholders.id`` that :data:`STRATEGIES` does not name."""
    return [f"{table.name}.{column.name}" for table, column in references()
            if (table.name, column.name) not in STRATEGIES]


# -- the merge ------------------------------------------------------------------------------------------------

def merge(survivor: Policyholder, merged: Policyholder, *, take: set[str], actor: User) -> PolicyholderMerge:
    """Fold ``merged`` into ``survivor``: the fields named in ``take`` get the merged record's values, every row
    referring to ``merged`` moves to ``survivor`` (or is dropped, see :data:`STRATEGIES`), ``merged`` is deleted
    and the merge recorded and audited on both records. Refuses (409) a record merged with itself and a foreign
    key without a strategy; the caller checks that the actor may see both records. Flushes, never commits."""
    if survivor.id == merged.id:
        raise MergeRefused(_("A record cannot be merged with itself."))
    if missing := unhandled_references():
        raise MergeRefused(_("The merge does not know what to do with %(tables)s.", tables=", ".join(missing)))
    unknown = take - set(FIELDS)
    if unknown:
        raise ValueError(f"not fields of a merge: {sorted(unknown)}")
    db.session.flush()
    record = PolicyholderMerge(survivor_id=survivor.id, merged_id=merged.id, merged_by_id=actor.id,
                               merged_at=utcnow())
    changed_rows = _move_or_drop(survivor.id, merged.id)
    merged_row = _snapshot(Policyholder.__table__, Policyholder.__table__.c.id == merged.id)[0]
    values = {column: merged_row[column] for field in sorted(take) for column in COLUMNS.get(field, (field,))}
    db.session.expunge(merged)
    db.session.execute(delete(Policyholder.__table__).where(Policyholder.__table__.c.id == merged.id))
    db.session.expire_all()  # rows loaded before the merge may name the merged record
    survivor_before = {column: _json(getattr(survivor, column)) for column in values}
    for column, value in values.items():
        setattr(survivor, column, _from_json(Policyholder.__table__.c[column], value))
    record.merged_row, record.survivor_before, record.changed_rows = merged_row, survivor_before, changed_rows
    db.session.add(record)
    db.session.flush()
    _audit_merge(record, "merge")
    return record


def _move_or_drop(survivor_id: int, merged_id: int) -> list[dict[str, Any]]:
    changed: list[dict[str, Any]] = []
    for table, column in references():
        strategy = STRATEGIES[(table.name, column.name)]
        rows = table.c[column.name] == merged_id
        if isinstance(strategy, Drop):
            changed += _drop(table, rows)
            continue
        if strategy.other_end:
            changed += _drop(table, rows & table.c[strategy.other_end].in_([survivor_id, merged_id]))
        if strategy.unless_survivor_has:
            alike = table.alias("alike")
            survivor_has = exists().where(alike.c[column.name] == survivor_id,
                                          *(alike.c[name] == table.c[name] for name in strategy.unless_survivor_has))
            changed += _drop(table, rows & survivor_has)
        keys = _keys(table, rows)
        for key in keys:  # a key holding the foreign key itself (a tag's) names the row after the move
            if column.name in key:
                key[column.name] = survivor_id
        if keys:
            db.session.execute(update(table).where(rows).values({column.name: survivor_id}))
            changed += [{"table": table.name, "action": "moved", "column": column.name, "key": key} for key in keys]
    return changed


def _drop(table: Table, where) -> list[dict[str, Any]]:
    rows = _snapshot(table, where)
    if rows:
        db.session.execute(delete(table).where(where))
    return [{"table": table.name, "action": "dropped", "row": row} for row in rows]


def _snapshot(table: Table, where) -> list[dict[str, Any]]:
    return [{name: _json(value) for name, value in row.items()}
            for row in db.session.execute(select(table).where(where)).mappings()]


def _keys(table: Table, where) -> list[dict[str, Any]]:
    primary = list(table.primary_key.columns)
    return [{c.name: _json(value) for c, value in zip(primary, row, strict=True)}
            for row in db.session.execute(select(*primary).where(where))]


def _json(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def _from_json(column: Column, value: Any) -> Any:
    """A value of :func:`_json` back as the column's Python type."""
    if value is None or isinstance(column.type, JSON):
        return value
    enum_class = getattr(column.type, "enum_class", None)
    if enum_class is not None:
        return enum_class(value)
    python_type = getattr(column.type, "impl", column.type).python_type
    if python_type is datetime:
        return datetime.fromisoformat(value)
    if python_type is date:
        return date.fromisoformat(value)
    if python_type is Decimal:
        return Decimal(value)
    return value


# -- undo -----------------------------------------------------------------------------------------------------

def undo(record: PolicyholderMerge, *, actor: User) -> Policyholder:
    """Undo a merge: the merged record comes back with its id and every field, each moved row goes back to it,
    each dropped row is restored and the survivor gets back the values it took. Refuses (409, with the reason)
    when anything since makes that impossible: the merge already undone, the survivor merged again or deleted, a
    moved row changed hands or deleted, a field the merge wrote changed since. Flushes, never commits."""
    if record.undone:
        raise MergeRefused(_("This merge has already been undone."))
    survivor = db.session.get(Policyholder, record.survivor_id)
    if survivor is None:
        raise MergeRefused(_("The surviving record no longer exists (merged again or deleted): undo that first."))
    if db.session.get(Policyholder, record.merged_id) is not None:
        raise MergeRefused(_("The merged record's id is in use again."))
    changed = [column for column in record.survivor_before
               if _json(getattr(survivor, column)) != record.merged_row.get(column)]
    if changed:
        raise MergeRefused(_("The surviving record's %(fields)s changed since the merge.", fields=", ".join(changed)))
    tables = {table.name: table for table, _column in references()}
    moved = [row for row in record.changed_rows if row["action"] == "moved"]
    for row in moved:
        table = tables[row["table"]]
        if db.session.scalar(select(table.c[row["column"]]).where(_by_key(table, row["key"]))) != record.survivor_id:
            raise MergeRefused(_("A row of %(table)s moved by the merge was changed or deleted since.",
                                 table=row["table"]))
    try:
        with db.session.begin_nested():
            _restore(record, survivor, tables, moved)
    except IntegrityError as exc:
        raise MergeRefused(_("The database refused to restore the merged record: %(reason)s",
                             reason=str(exc.orig).splitlines()[0])) from None
    record.undone_at, record.undone_by_id = utcnow(), actor.id
    db.session.flush()
    _audit_merge(record, "unmerge")
    return db.session.get(Policyholder, record.merged_id)


def _restore(record: PolicyholderMerge, survivor: Policyholder, tables: dict[str, Table], moved: list[dict]) -> None:
    ph = Policyholder.__table__
    for column, value in record.survivor_before.items():
        setattr(survivor, column, _from_json(ph.c[column], value))
    db.session.flush()  # the survivor gives back the merged record's ID number before that record returns
    db.session.execute(insert(ph).values(_row_values(ph, record.merged_row)))
    for row in moved:
        table = tables[row["table"]]
        db.session.execute(update(table).where(_by_key(table, row["key"])).values({row["column"]: record.merged_id}))
    for row in record.changed_rows:
        if row["action"] == "dropped":
            table = tables[row["table"]]
            db.session.execute(insert(table).values(_row_values(table, row["row"])))
    db.session.expire_all()


def _row_values(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    return {name: _from_json(table.c[name], value) for name, value in row.items() if table.c[name].computed is None}


def _by_key(table: Table, key: dict[str, Any]):
    return and_(*(table.c[name] == _from_json(table.c[name], value) for name, value in key.items()))


# -- what the merge leaves: the redirect, the audit ------------------------------------------------------------

def survivor_of(policyholder_id: int) -> int | None:
    """The live record an old id was merged into (following later merges), or ``None`` when the id was not merged
    (or its merge was undone). One query per hop."""
    current, found = policyholder_id, None
    for _hop in range(MAX_HOPS):
        nxt = db.session.scalar(select(PolicyholderMerge.survivor_id).where(
            PolicyholderMerge.merged_id == current, PolicyholderMerge.undone_at.is_(None))
            .order_by(PolicyholderMerge.id.desc()).limit(1))
        if nxt is None:
            return found
        current = found = nxt
    return found


def _audit_merge(record: PolicyholderMerge, action: str) -> None:
    """One row on each record: the merge's ids, each field the survivor took as ``[before, after]`` (the ID number
    never: it is secret in the log), and every moved and dropped row by table and key."""
    changes: dict[str, Any] = {"merge_id": record.id, "survivor_id": record.survivor_id, "merged_id": record.merged_id}
    changes |= {column: [value, record.merged_row.get(column)] for column, value in record.survivor_before.items()
                if column not in Policyholder.__audit_secret__}
    for kind in ("moved", "dropped"):
        rows = sorted(_describe(row) for row in record.changed_rows if row["action"] == kind)
        if rows:
            changes[kind] = "; ".join(rows)
    for entity_id in (record.survivor_id, record.merged_id):
        audit.record(db.session, action=action, entity_type="policyholders", entity_id=entity_id, changes=changes)


def _describe(row: dict[str, Any]) -> str:
    if row["action"] == "moved":
        key = row["key"]
    else:
        table = Base.metadata.tables[row["table"]]
        key = {c.name: row["row"][c.name] for c in table.primary_key.columns}
    return f"{row['table']} " + ",".join(f"{name}={value}" for name, value in key.items())


def dismiss(first: Policyholder, second: Policyholder, *, actor: User) -> DuplicateDismissal:
    """Record that two policyholders are two people: the duplicates queue no longer shows the pair. Audited on
    both records; dismissing a pair twice is harmless (the existing dismissal is returned)."""
    low, high = sorted((first.id, second.id))
    existing = db.session.scalar(select(DuplicateDismissal).where(
        tuple_(DuplicateDismissal.policyholder_id, DuplicateDismissal.other_policyholder_id) == (low, high)))
    if existing is not None:
        return existing
    dismissal = DuplicateDismissal(policyholder_id=low, other_policyholder_id=high, dismissed_by_id=actor.id,
                                   dismissed_at=utcnow())
    db.session.add(dismissal)
    db.session.flush()
    for entity_id, other in ((low, high), (high, low)):
        audit.record(db.session, action="not_duplicate", entity_type="policyholders", entity_id=entity_id,
                     changes={"not_a_duplicate_of": other})
    return dismissal


def redirect_target(policyholder_id: int, user: User) -> int | None:
    """Where the old id of a merged record leads for ``user``: the surviving record, if they may see it; ``None``
    for an id never merged, or a survivor outside their scope (the old id is then a plain 404)."""
    survivor = survivor_of(policyholder_id)
    if survivor is None:
        return None
    may_see = db.session.scalar(select(exists().where(Policyholder.id == survivor, visible(Policyholder, user))))
    return survivor if may_see else None
