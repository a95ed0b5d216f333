"""The segment pages: list, builder (new, edit, the live count), members, exports and delete, in English and
Chinese, in the user's scope."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from insurecrm import clock
from policyholders.segments.models import Segment
from tests.api_client import csrf_token
from tests.segments.conftest import NOW


@pytest.fixture(autouse=True)
def _today():
    with clock.frozen(NOW):
        yield


@pytest.fixture
def segment(book, session):
    row = Segment(name="Shanghai people", description="Spring", criteria={"region": ["Shanghai"], "kind": ["person"],
                                                                          "consent_marketing": True},
                  owner_user_id=book.agent_user.id, org_unit_id=book.team.id)
    session.add(row)
    session.commit()
    return row


def html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def as_language(client, language: str):
    with client.session_transaction() as session:
        session["lang"] = language
    return client


#: language → texts of the pages (labels of codes among them), and texts of the other language never shown
TEXTS = {"en": (["Segments", "New segment", "Shanghai people", "1 member today", "Marketing consent", "Person",
                 "Prospect", "Holder One"], ["准客户"]),
         "zh": (["Shanghai people", "Holder One", "准客户", "个人"], [">Prospect<", ">Person<"])}


@pytest.mark.parametrize("first", ["en", "zh"])
def test_the_pages_render_in_english_and_chinese_in_one_process(app, web, book, segment, first):
    client = web(book.agent_user)
    app.jinja_env.cache.clear()  # as in a fresh process: a label kept from the first reader would show here
    for language in (first, "zh" if first == "en" else "en"):
        as_language(client, language)
        pages = "".join(html(client.get(url)) for url in (
            "/segments", f"/segments/{segment.id}", "/segments/new", f"/segments/{segment.id}/edit"))
        wanted, unwanted = TEXTS[language]
        assert [text for text in wanted if text not in pages] == [], language
        assert [text for text in unwanted if text in pages] == [], language
        assert "Holder Zed" not in pages
        assert ">person<" not in pages and ">prospect<" not in pages  # codes are shown by their labels


def test_the_builder_shows_the_kept_filter_and_its_count(web, book, segment):
    page = html(web(book.agent_user).get(f"/segments/{segment.id}/edit"))
    assert re.search(r'<option value="person" selected>', page)
    assert re.search(r'<option value="true" selected>', page)
    assert 'hx-get="/segments/count"' in page
    assert "1 policyholder" in page


def test_the_live_count_follows_the_filter(web, book):
    client = web(book.agent_user)
    assert "2 policyholders" in html(client.get("/segments/count?region=Shanghai&name=ignored"))
    assert "1 policyholder" in html(client.get("/segments/count?region=Shanghai&kind=person"))
    assert "3 policyholders" in html(client.get("/segments/count?tags_any=vip,+golf&age_min="))
    refused = html(client.get("/segments/count?age_min=90&age_max=20"))
    assert "Check the filter" in refused and "Age to: " in refused and "policyholder" not in refused


def test_a_segment_is_built_counted_and_saved_from_the_form(web, book, session):
    client = web(book.agent_user)
    form = {"csrf_token": csrf_token(client), "name": "Golfers", "description": "", "tags_any": "golf",
            "gender": ["female", "male"], "age_min": "20", "consent_marketing": ""}
    counted = client.post("/segments/new", data={**form, "action": "count"})
    assert "2 policyholders" in html(counted)
    assert session.scalar(select(Segment).where(Segment.name == "Golfers")) is None
    saved = client.post("/segments/new", data={**form, "action": "save"})
    assert saved.status_code == 302
    segment = session.scalar(select(Segment).where(Segment.name == "Golfers"))
    assert segment.criteria == {"tags_any": ["golf"], "gender": ["female", "male"], "age_min": 20}
    assert segment.owner_user_id == book.agent_user.id
    assert "2 members today" in html(client.get(saved.headers["Location"]))


def test_a_refused_form_is_shown_again_with_its_messages(web, book, session, segment):
    client = web(book.agent_user)
    token = csrf_token(client)
    refused = client.post("/segments/new", data={"csrf_token": token, "name": "", "churn_min": "80",
                                                 "churn_max": "20", "action": "save"})
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert 's-name-error' in text and 's-churn_max-error' in text
    taken = client.post("/segments/new", data={"csrf_token": token, "name": "Shanghai people", "action": "save"})
    assert taken.status_code == 422 and "You already have a segment of this name." in taken.get_data(as_text=True)
    assert session.scalar(select(Segment.id).where(Segment.name == "")) is None


def test_edit_saves_and_a_stale_version_is_a_conflict(web, book, session, segment):
    client = web(book.agent_user)
    token = csrf_token(client)
    form = {"csrf_token": token, "name": "Shanghai", "region": "Shanghai", "version": "1", "action": "save"}
    assert client.post(f"/segments/{segment.id}/edit", data=form).status_code == 302
    session.refresh(segment)
    assert (segment.name, segment.criteria, segment.version) == ("Shanghai", {"region": ["Shanghai"]}, 2)
    assert client.post(f"/segments/{segment.id}/edit", data=form).status_code == 409


def test_exports_list_the_members_of_the_readers_scope(web, book, segment, session):
    segment.criteria = {"tags_any": ["golf"]}
    session.commit()
    agent = web(book.agent_user)
    csv_text = agent.get(f"/segments/{segment.id}/export.csv").get_data().decode("utf-8-sig")
    lines = csv_text.strip().split("\n")
    assert lines[0].startswith("Id,Policyholder,Status")
    assert sorted(line.split(",")[1] for line in lines[1:]) == ["Holder Four", "Holder One"]
    admin_csv = web(book.admin).get(f"/segments/{segment.id}/export.csv").get_data().decode("utf-8-sig")
    assert "Holder Zed" in admin_csv and "Holder Zed" not in csv_text
    workbook = load_workbook(io.BytesIO(agent.get(f"/segments/{segment.id}/export.xlsx").get_data()))
    members = workbook.worksheets[1]
    assert [row[1] for row in members.iter_rows(min_row=2, values_only=True)] == ["Holder Four", "Holder One"]
    assert ("Any of the tags", "golf") in [tuple(row[:2]) for row in workbook.worksheets[0].iter_rows(values_only=True)]


def test_delete(web, book, session, segment):
    client = web(book.agent_user)
    response = client.post(f"/segments/{segment.id}/delete", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert session.get(Segment, segment.id) is None


def test_another_agents_segment_is_not_found_and_the_actuary_has_none(web, book, segment):
    other = web(book.other_user)
    for url in (f"/segments/{segment.id}", f"/segments/{segment.id}/edit", f"/segments/{segment.id}/export.csv"):
        assert other.get(url).status_code == 404
    assert "Shanghai people" not in html(other.get("/segments"))
    actuary = web(book.actuary)
    for url in ("/segments", "/segments/new", "/segments/count", f"/segments/{segment.id}"):
        assert actuary.get(url).status_code == 403
    assert "/segments" not in html(actuary.get("/policyholders"))  # no link in the navigation
    assert 'href="/segments"' in html(web(book.agent_user).get("/policyholders"))


def test_every_field_of_the_filter_has_its_words_and_every_quadrant_its_label():
    from insurecrm import labels
    from policyholders.segments.filters import SegmentFilterSchema
    from policyholders.segments.views import FIELD_CODES, FIELD_LABELS
    from reports.segments import QUADRANTS

    assert set(FIELD_LABELS) == set(SegmentFilterSchema().fields)
    assert set(FIELD_CODES) <= set(FIELD_LABELS) and set(FIELD_CODES.values()) <= set(labels.LABELS)
    assert {code: str(name) for code, name in labels.SEGMENT_QUADRANT.items()} == {
        code: str(name) for code, (name, _treatment) in QUADRANTS.items()}
