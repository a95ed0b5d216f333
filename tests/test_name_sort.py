"""Chinese names sort by pinyin, beside Latin names: the key, and the ORM keeping it in step with the name."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from insurecrm.models import AuditLog
from insurecrm.name_sort import name_sort_key
from policyholders.models import Policyholder


@pytest.mark.parametrize(("name", "key"), [
    ("李娜", "li3 na4"),
    ("张小明", "zhang1 xiao3 ming2"),
    ("Wang Fang", "wang fang"),
    ("  Li   Na ", "li na"),  # spaces as typed do not matter
    ("曾志伟", "zeng1 zhi4 wei3"),  # the surname's reading, not 曾经's céng
    ("单田芳", "shan4 tian2 fang1"),
    ("ACME 科技", "acme ke1 ji4"),
    ("", ""),
])
def test_the_key(name, key):
    assert name_sort_key(name) == key


def test_dictionary_order():
    names = ["张伟", "Zhao", "李娜", "林", "Li Na", "马", "麦", "Ma"]
    assert sorted(names, key=name_sort_key) == ["Li Na", "李娜", "林", "Ma", "马", "麦", "张伟", "Zhao"]


def test_the_key_follows_the_name_and_is_not_audited(make, session):
    holder = make.policyholder(name="张伟")
    session.commit()
    assert holder.name_sort_key == "zhang1 wei3"
    holder.name = "李娜"
    session.commit()
    assert session.scalar(select(Policyholder.name_sort_key).where(Policyholder.id == holder.id)) == "li3 na4"
    changes = session.scalars(select(AuditLog.changes).where(AuditLog.entity_type == "policyholders",
                                                             AuditLog.entity_id == holder.id)).all()
    assert changes and all("name_sort_key" not in change for change in changes)
    assert any(change.get("name") == ["张伟", "李娜"] for change in changes)


def test_agents_have_the_key_too(make, session):
    agent = make.agent(name="欧阳娜娜")
    session.commit()
    assert agent.name_sort_key == "ou1 yang2 na4 na4"
