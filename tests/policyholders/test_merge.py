"""Merging two records of one person (policyholders/merging/services.py): every row referring to the merged record
moves to the survivor or is settled, the merged record is gone and redirects, the merge is audited, and undo puts
every row back where it was."""

from __future__ import annotations

from datetime import date

import pytest
from flask import g
from sqlalchemy import select

from insurecrm.db import Base, db
from insurecrm.models import AuditLog
from policyholders.merging import services
from policyholders.merging.models import PolicyholderMerge
from policyholders.merging.services import MergeRefused, merge, references, survivor_of, undo
from policyholders.models import Policyholder
from tests.policyholders.merge_book import every_row, two_records


@pytest.fixture
def pair(make, org):
    g.user = org.admin
    return two_records(make, org)


def rows_naming(policyholder_id: int) -> dict[str, int]:
    """How many rows of each referring table name ``policyholder_id``."""
    found = {}
    for table, column in references():
        n = len(db.session.execute(select(table).where(table.c[column.name] == policyholder_id)).all())
        if n:
            found[f"{table.name}.{column.name}"] = n
    return found


def test_every_foreign_key_to_policyholders_has_a_strategy():
    """A new table referring to policyholders must say what a merge does with its rows (STRATEGIES)."""
    assert services.unhandled_references() == []
    assert {(t.name, c.name) for t, c in references()} == set(services.STRATEGIES)


def test_the_fixture_has_a_row_naming_the_merged_record_in_every_table(pair):
    _survivor, merged, _third = pair
    assert set(rows_naming(merged.id)) == {f"{t.name}.{c.name}" for t, c in references()}


def test_merge_moves_every_row_and_settles_the_conflicts(pair, org):
    survivor, merged, third = pair
    merged_id, before = merged.id, rows_naming(survivor.id)
    moved_in = rows_naming(merged.id)
    record = merge(survivor, merged, take={"occupation", "status"}, actor=org.admin)
    db.session.commit()
    assert rows_naming(merged_id) == {}  # nothing names the merged record any more
    assert db.session.get(Policyholder, merged_id) is None
    after = rows_naming(survivor.id)
    for key in ("policies.policyholder_id", "insured_persons.policyholder_id", "beneficiaries.policyholder_id",
                "interactions.policyholder_id", "service_requests.policyholder_id", "opportunities.policyholder_id",
                "activities.policyholder_id", "referrals.policyholder_id", "quotes.policyholder_id",
                "outbox.policyholder_id", "policy_figures.policyholder_id"):
        assert after[key] == before.get(key, 0) + moved_in[key], key
    # derived figures and dismissals are dropped, not moved
    for key in ("churn_scores.policyholder_id", "churn_reasons.policyholder_id",
                "policyholder_figures.policyholder_id"):
        assert after.get(key, 0) == before.get(key, 0), key
    tags = db.session.scalars(select(Base.metadata.tables["policyholder_tags"].c.tag)
                              .where(Base.metadata.tables["policyholder_tags"].c.policyholder_id == survivor.id)).all()
    assert tags.count("vip") == 1 and len(tags) == 2  # the shared tag once, the other tag moved
    members = Base.metadata.tables["campaign_members"]
    assert len(db.session.execute(select(members).where(members.c.policyholder_id == survivor.id)).all()) == 2
    relationships = Base.metadata.tables["policyholder_relationships"]
    ends = db.session.execute(select(relationships.c.from_policyholder_id, relationships.c.to_policyholder_id,
                                     relationships.c.kind)).all()
    assert (survivor.id, survivor.id, "spouse") not in {tuple(r) for r in ends}  # no relationship to oneself
    assert sorted(tuple(r) for r in ends) == sorted({(survivor.id, third.id, "sibling"),
                                                     (third.id, survivor.id, "sibling")})
    survivor = db.session.get(Policyholder, survivor.id)
    assert (survivor.occupation, survivor.status.value, survivor.email) == ("Engineer", "prospect", "zw@example.com")
    assert record.survivor_before == {"occupation": None, "status": "active"}
    assert survivor_of(merged_id) == survivor.id


def test_merge_is_audited_on_both_records_with_every_moved_row(pair, org):
    survivor, merged, _third = pair
    merged_id = merged.id
    record = merge(survivor, merged, take={"occupation"}, actor=org.admin)
    db.session.commit()
    entries = db.session.scalars(select(AuditLog).where(AuditLog.action == "merge")).all()
    assert sorted(e.entity_id for e in entries) == sorted([survivor.id, merged_id])
    changes = entries[0].changes
    assert changes["merge_id"] == record.id and changes["occupation"] == [None, "Engineer"]
    assert changes["moved"].count(";") + 1 == record.moved_count and "policies id=" in changes["moved"]
    assert "policyholder_tags" in changes["dropped"]


def test_undo_puts_every_row_back(pair, org):
    survivor, merged, _third = pair
    merged_id, survivor_id = merged.id, survivor.id
    before = every_row()
    record = merge(survivor, merged, take={"occupation", "status", "name", "phone"}, actor=org.admin)
    db.session.commit()
    assert every_row() != before
    restored = undo(db.session.get(PolicyholderMerge, record.id), actor=org.admin)
    db.session.commit()
    assert restored.id == merged_id and every_row() == before
    assert survivor_of(merged_id) is None
    assert {e.entity_id for e in db.session.scalars(select(AuditLog).where(AuditLog.action == "unmerge"))} == {
        survivor_id, merged_id}
    with pytest.raises(MergeRefused, match="already been undone"):
        undo(record, actor=org.admin)


def test_undo_refuses_when_a_field_changed_since(pair, org):
    survivor, merged, _third = pair
    record = merge(survivor, merged, take={"occupation"}, actor=org.admin)
    db.session.commit()
    db.session.get(Policyholder, survivor.id).occupation = "Teacher"
    db.session.commit()
    with pytest.raises(MergeRefused, match="occupation changed since"):
        undo(record, actor=org.admin)


def test_undo_refuses_when_a_moved_row_went_elsewhere(pair, org, make):
    survivor, merged, third = pair
    record = merge(survivor, merged, take=set(), actor=org.admin)
    db.session.commit()
    policies = Base.metadata.tables["policies"]
    db.session.execute(policies.update().where(policies.c.policyholder_id == survivor.id)
                       .values(policyholder_id=third.id))
    db.session.commit()
    with pytest.raises(MergeRefused, match="policies"):
        undo(record, actor=org.admin)


def test_a_survivor_merged_again_redirects_both_old_ids_and_blocks_the_first_undo(pair, org, make):
    survivor, merged, third = pair
    merged_id = merged.id
    first = merge(survivor, merged, take=set(), actor=org.admin)
    db.session.commit()
    merge(third, survivor, take=set(), actor=org.admin)
    db.session.commit()
    assert survivor_of(merged_id) == third.id
    with pytest.raises(MergeRefused, match="no longer exists"):
        undo(first, actor=org.admin)


def test_a_record_cannot_be_merged_with_itself(pair, org):
    survivor, _merged, _third = pair
    with pytest.raises(MergeRefused):
        merge(survivor, survivor, take=set(), actor=org.admin)


def test_the_merged_id_number_can_be_taken(make, org):
    g.user = org.admin
    survivor = make.policyholder(org.agent, name="A", date_of_birth=date(1990, 1, 1))
    merged = make.policyholder(org.agent, name="A", date_of_birth=date(1990, 1, 1), id_type="passport",
                               id_number="E1234567")
    make.session.commit()
    merged_id = merged.id
    record = merge(survivor, merged, take={"id_number"}, actor=org.admin)
    db.session.commit()
    assert (survivor.id_type.value, survivor.id_number) == ("passport", "E1234567")
    undo(record, actor=org.admin)
    db.session.commit()
    assert db.session.get(Policyholder, merged_id).id_number == "E1234567" and survivor.id_number is None
