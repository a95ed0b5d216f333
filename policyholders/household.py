"""Households: relationships between policyholders (spouse, child/parent, employer/employee, ...) and
the household view of one person. A relationship is stored once per direction; the inverse of a
symmetric or paired kind is written and removed together with it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask_babel import gettext
from sqlalchemy import ColumnElement, Select, bindparam, func, select
from sqlalchemy.orm import defer, joinedload
from werkzeug.exceptions import NotFound

from insurecrm.db import db
from insurecrm.models import User
from insurecrm.scope import StatementPerScope, visible, visible_ids
from insurecrm.validation_messages import in_refusal
from policies.models import Policy
from policyholders.models import PartyKind, Policyholder, PolicyholderRelationship, RelationshipKind
from policyholders.services import refuse, row_exists

#: the relationship stored the other way round: if A is B's child, B is A's parent
INVERSE_KIND = {
    RelationshipKind.SPOUSE: RelationshipKind.SPOUSE,
    RelationshipKind.SIBLING: RelationshipKind.SIBLING,
    RelationshipKind.CHILD: RelationshipKind.PARENT,
    RelationshipKind.PARENT: RelationshipKind.CHILD,
    RelationshipKind.EMPLOYER: RelationshipKind.EMPLOYEE,
    RelationshipKind.EMPLOYEE: RelationshipKind.EMPLOYER,
}
#: (kind of the ``from`` party, kind of the ``to`` party) each relationship needs; others take any
PARTY_KINDS = {
    RelationshipKind.SPOUSE: (PartyKind.PERSON, PartyKind.PERSON),
    RelationshipKind.SIBLING: (PartyKind.PERSON, PartyKind.PERSON),
    RelationshipKind.CHILD: (PartyKind.PERSON, PartyKind.PERSON),
    RelationshipKind.PARENT: (PartyKind.PERSON, PartyKind.PERSON),
    RelationshipKind.EMPLOYER: (PartyKind.ORGANISATION, PartyKind.PERSON),
    RelationshipKind.EMPLOYEE: (PartyKind.PERSON, PartyKind.ORGANISATION),
}


def visible_relationships(policyholder: Policyholder) -> list[PolicyholderRelationship]:
    """The policyholder's relationships whose other end the current user may see too (those loaded with the
    record by :func:`get_with_visible_relationships_or_404`, else one query)."""
    loaded = getattr(policyholder, "loaded_visible_relationships", None)
    if loaded is not None:
        return loaded
    stmt = (select(PolicyholderRelationship)
            .where(PolicyholderRelationship.from_policyholder_id == policyholder.id,
                   PolicyholderRelationship.to_policyholder_id.in_(visible_ids(Policyholder)))
            .options(joinedload(PolicyholderRelationship.to_policyholder))
            .order_by(PolicyholderRelationship.kind, PolicyholderRelationship.id))
    return list(db.session.scalars(stmt))


def _record_with_household(visible_holders: ColumnElement[bool]) -> Select:
    visible_relationships_out = Policyholder.relationships_out.and_(
        PolicyholderRelationship.to_policyholder_id.in_(select(Policyholder.id).where(visible_holders)))
    # of the other end, what a reference to it shows (each column read costs the driver as much as a row's value)
    with_other_ends = (joinedload(visible_relationships_out).joinedload(PolicyholderRelationship.to_policyholder)
                       .load_only(Policyholder.name, Policyholder.kind, Policyholder.status))
    # nor the keys derived for searching and sorting (read, if ever, when first touched)
    derived_keys = (defer(Policyholder.name_key), defer(Policyholder.birthday), defer(Policyholder.name_sort_key))
    return (select(Policyholder).where(visible_holders, Policyholder.id == bindparam("policyholder_id"))
            .options(joinedload(Policyholder.tags), with_other_ends, *derived_keys)
            # a collection loaded earlier in the session (whole) is replaced by the visible part
            .execution_options(populate_existing=True))


#: the statement of :func:`get_with_visible_relationships_or_404`, built once per scope
_record_with_household_in_scope = StatementPerScope(Policyholder, _record_with_household)


def get_with_visible_relationships_or_404(policyholder_id: int) -> Policyholder:
    """The policyholder (404 unless the current user may see it) with its tags, its visible relationships and
    their other ends loaded in the same query, for a page or answer that shows them: one round trip instead of
    three."""
    stmt = _record_with_household_in_scope()
    policyholder = db.session.scalars(stmt, {"policyholder_id": policyholder_id}).unique().one_or_none()
    if policyholder is None:
        raise NotFound(gettext("Policyholder %(id)s not found.", id=policyholder_id))
    # the collection holds only the visible relationships now; they are read through this attribute
    policyholder.loaded_visible_relationships = sorted(policyholder.relationships_out,
                                                       key=lambda relationship: (relationship.kind, relationship.id))
    return policyholder


def visible_relationship_or_404(policyholder: Policyholder, relationship_id: int) -> PolicyholderRelationship:
    """One of :func:`visible_relationships`; 404 for any other id, as if it did not exist."""
    for relationship in visible_relationships(policyholder):
        if relationship.id == relationship_id:
            return relationship
    raise NotFound(f"Relationship {relationship_id} of policyholder {policyholder.id} not found.")


def create_relationship(policyholder: Policyholder, data: dict[str, Any], *, actor: User) -> PolicyholderRelationship:
    """Record that ``policyholder`` is ``kind`` of another, and the inverse (spouse ↔ spouse,
    child ↔ parent, employer ↔ employee, sibling ↔ sibling) in the same transaction.

    Refuses (422): the policyholder itself, another ``actor`` may not see, parties of the wrong kind
    (a company as a spouse), and a relationship already recorded.
    """
    other_id, kind = data["to_policyholder_id"], data["kind"]
    if other_id == policyholder.id:
        raise refuse("to_policyholder_id", gettext("A policyholder cannot be related to themselves."))
    other = db.session.scalar(select(Policyholder).where(Policyholder.id == other_id, visible(Policyholder, actor)))
    if other is None:
        raise refuse("to_policyholder_id", gettext("Policyholder %(id)s not found.", id=other_id))
    if kind in PARTY_KINDS and (policyholder.kind, other.kind) != PARTY_KINDS[kind]:
        raise refuse("kind", gettext("A %(relationship)s relationship does not fit a %(kind)s and a %(other)s.",
                                     relationship=in_refusal(kind, "relationship_kind"),
                                     kind=in_refusal(policyholder.kind, "party_kind"),
                                     other=in_refusal(other.kind, "party_kind")))
    if _relationship_exists(policyholder.id, other.id, kind):
        raise refuse("kind", gettext("This relationship is already recorded."))
    relationship = PolicyholderRelationship(from_policyholder_id=policyholder.id, to_policyholder_id=other.id,
                                            kind=kind, note=data.get("note"))
    db.session.add(relationship)
    inverse = INVERSE_KIND.get(kind)
    if inverse is not None and not _relationship_exists(other.id, policyholder.id, inverse):
        db.session.add(PolicyholderRelationship(from_policyholder_id=other.id, to_policyholder_id=policyholder.id,
                                                kind=inverse, note=data.get("note")))
    db.session.flush()
    return relationship


def delete_relationship(relationship: PolicyholderRelationship) -> None:
    """Delete a relationship and its inverse (if recorded)."""
    inverse = INVERSE_KIND.get(relationship.kind)
    if inverse is not None:
        mirror = db.session.scalar(select(PolicyholderRelationship).where(
            PolicyholderRelationship.from_policyholder_id == relationship.to_policyholder_id,
            PolicyholderRelationship.to_policyholder_id == relationship.from_policyholder_id,
            PolicyholderRelationship.kind == inverse))
        if mirror is not None:
            db.session.delete(mirror)
    db.session.delete(relationship)
    db.session.flush()


def _relationship_exists(from_id: int, to_id: int, kind: RelationshipKind) -> bool:
    return row_exists(PolicyholderRelationship.from_policyholder_id == from_id,
                      PolicyholderRelationship.to_policyholder_id == to_id, PolicyholderRelationship.kind == kind)


def household_of(policyholder: Policyholder) -> dict[str, Any]:
    """The policyholder and the people and organisations related to them (one level) that the user
    may see, each with how they relate and how many policies (visible to the user) they hold."""
    relationships = visible_relationships(policyholder)
    kinds: dict[int, list[RelationshipKind]] = defaultdict(list)
    for relationship in relationships:
        kinds[relationship.to_policyholder_id].append(relationship.kind)
    counts = _policies_counts([policyholder.id, *kinds])
    members = {rel.to_policyholder_id: rel.to_policyholder for rel in relationships}
    return {
        "policyholder": policyholder,
        "policies_count": counts.get(policyholder.id, 0),
        "members": [{"policyholder": member, "kinds": kinds[member_id], "policies_count": counts.get(member_id, 0)}
                    for member_id, member in members.items()],
    }


def _policies_counts(policyholder_ids: list[int]) -> dict[int, int]:
    stmt = (select(Policy.policyholder_id, func.count(Policy.id))
            .where(Policy.policyholder_id.in_(policyholder_ids), visible(Policy))
            .group_by(Policy.policyholder_id))
    return {policyholder_id: n for policyholder_id, n in db.session.execute(stmt)}
