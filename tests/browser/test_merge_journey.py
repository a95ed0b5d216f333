"""The duplicates and merge journey of issue 11, in a real browser: a manager finds a person typed twice in the
duplicates queue, merges the two records keeping a field of the other one, lands on the kept record and finds the
old address leading there; an admin undoes the merge."""

from __future__ import annotations

import re

import sqlalchemy as sa
from playwright.sync_api import expect

from insurecrm.name_sort import name_sort_key
from policyholders.name_keys import name_key, name_words
from tests.browser.conftest import login, shoot

#: a person of agent1's book (in manager1's branch) with a date of birth and an ID number
ORIGINAL = """
SELECT ph.id, ph.occupation FROM policyholders ph
JOIN users u ON u.username = 'agent1' AND u.agent_id = ph.owner_agent_id
WHERE ph.kind = 'person' AND ph.date_of_birth IS NOT NULL AND ph.id_number IS NOT NULL
ORDER BY ph.id
"""
OCCUPATION = "Typed twice, kept from the duplicate"


def type_twice(database_url: str, original_id: int) -> int:
    """A second record of the same person: the name typed in pinyin, surname last, the same date of birth, ID
    number (under another ID type) and phone, another occupation. Written straight into the server's database,
    as an import or a careless hand would."""
    engine = sa.create_engine(database_url)
    try:
        table = sa.Table("policyholders", sa.MetaData(), autoload_with=engine)
        with engine.begin() as connection:
            row = dict(connection.execute(sa.select(table).where(table.c.id == original_id)).mappings().one())
            name = " ".join(word.capitalize() for word in reversed(name_words(row["name"])))
            copy = {key: value for key, value in row.items() if key not in ("id", "birthday")}
            copy |= {"name": name, "name_key": name_key(name), "name_sort_key": name_sort_key(name),
                     "id_type": "other" if row["id_type"] != "other" else "passport", "occupation": OCCUPATION}
            return connection.execute(sa.insert(table).values(copy).returning(table.c.id)).scalar_one()
    finally:
        engine.dispose()


def test_manager_merges_a_duplicate_and_an_admin_undoes_it(page, live_server):
    original = live_server.query(ORIGINAL)
    assert original is not None, "the demo book should give agent1 a person with a date of birth and an ID number"
    duplicate = type_twice(live_server.database_url, original.id)

    login(page, "manager1")
    page.get_by_role("link", name="Duplicates").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Likely duplicates")
    shoot(page, "manager-duplicates-queue")
    page.locator(f"a[href='/policyholders/{original.id}/merge?other={duplicate}']").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Merge two records")
    shoot(page, "manager-merge-page")
    page.locator(f"input[name=keep_occupation][value='{duplicate}']").check()
    page.get_by_role("button", name="Merge", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/policyholders/{original.id}$"))
    expect(page.get_by_text(OCCUPATION).first).to_be_visible()
    shoot(page, "manager-merged-record")

    page.goto(f"/policyholders/{duplicate}")
    expect(page).to_have_url(re.compile(rf"/policyholders/{original.id}$"))

    page.context.clear_cookies()
    login(page, "admin")
    page.goto("/policyholders/merges")
    shoot(page, "admin-merge-history")
    page.get_by_role("button", name="Undo this merge").first.click()
    expect(page).to_have_url(re.compile(rf"/policyholders/{duplicate}$"))
    expect(page.get_by_text(OCCUPATION).first).to_be_visible()
    restored = live_server.query("SELECT occupation FROM policyholders WHERE id = :id", id=original.id)
    assert restored.occupation == original.occupation  # the kept record's own value is back
