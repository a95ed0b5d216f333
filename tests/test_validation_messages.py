"""marshmallow's refusals are worded by the catalogue in the language of the moment (insurecrm/validation_messages.py):
in English exactly as marshmallow words them, in Chinese as the catalogue does — placeholders filled either way."""

from __future__ import annotations

import marshmallow as ma
import pytest
from babel.support import Translations
from flask_babel import force_locale, get_domain, lazy_gettext
from marshmallow import fields, validate

from insurecrm.labels import label
from insurecrm.validation_messages import catalogue_text, in_refusal
from policies.models import PolicyStatus
from tests.imports.test_import_report_language import MARK, MarkedCatalogue

#: a schema's own message for a validator
RATE = catalogue_text(lazy_gettext("Give a rate of 1 or more."))


class OneTranslation(Translations):
    """A catalogue of one translation."""

    def __init__(self, english: str, translation: str) -> None:
        super().__init__()
        self.english, self.translation = english, translation

    def ugettext(self, message: str) -> str:
        return self.translation if message == self.english else message

    gettext = ugettext


class Applicant(ma.Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=3))
    email = fields.Email()
    born = fields.Date()
    age = fields.Integer(validate=validate.Range(min=0))
    share = fields.Integer(validate=validate.Range(min=0, max=100, min_inclusive=False, max_inclusive=False))
    code = fields.String(validate=validate.OneOf(["a", "b"]))
    rate = fields.Integer(validate=validate.Range(min=1, error=RATE))


def refusals(data: dict, language: str) -> dict[str, list[str]]:
    with force_locale(language):
        try:
            Applicant().load(data)
        except ma.ValidationError as error:
            return error.messages
    return {}


BAD = {"name": "abcd", "email": "x", "born": "someday", "age": -1, "share": 100, "code": "c", "rate": 0}


def test_in_english_the_messages_are_marshmallows_own(app):
    assert refusals(BAD, "en") == {
        "name": ["Length must be between 1 and 3."], "email": ["Not a valid email address."],
        "born": ["Not a valid date."], "age": ["Must be greater than or equal to 0."],
        "share": ["Must be greater than 0 and less than 100."], "code": ["Must be one of: a, b."],
        "rate": ["Give a rate of 1 or more."]}
    assert refusals({}, "en") == {"name": ["Missing data for required field."]}


def test_in_chinese_every_message_comes_from_the_catalogue_with_its_values(app, monkeypatch):
    monkeypatch.setitem(get_domain().cache, ("zh", get_domain().domain[0]), MarkedCatalogue())
    assert refusals(BAD, "zh") == {
        "name": [MARK + "Length must be between 1 and 3."], "email": [MARK + "Not a valid email address."],
        "born": [MARK + "Not a valid date."], "age": [MARK + "Must be greater than or equal to 0."],
        "share": [MARK + "Must be greater than 0 and less than 100."], "code": [MARK + "Must be one of: a, b."],
        "rate": [MARK + "Give a rate of 1 or more."]}


def test_the_chinese_catalogue_words_a_refusal(app):
    assert refusals({"name": "a", "born": "someday"}, "zh") == {"born": ["日期无效。"]}


@pytest.mark.parametrize("translation", ["长度必须在 {low} 和 {max} 之间。", "长度必须在 {0} 之间。"])
def test_a_translation_with_a_placeholder_of_its_own_falls_back_to_english(app, monkeypatch, translation):
    catalogue = OneTranslation("Length must be between {min} and {max}.", translation)
    monkeypatch.setitem(get_domain().cache, ("zh", get_domain().domain[0]), catalogue)
    assert refusals({"name": "abcd"}, "zh") == {"name": ["Length must be between 1 and 3."]}


def test_a_refusal_names_a_code_as_the_api_does_in_english_and_by_its_label_in_chinese(app):
    with force_locale("en"):
        assert in_refusal(PolicyStatus.CANCELLED, "policy_status") == "cancelled"
    with force_locale("zh"):
        assert in_refusal(PolicyStatus.CANCELLED, "policy_status") == label("cancelled", "policy_status") == "已退保"


@pytest.mark.parametrize(("language", "message"), [("en", "Missing data for required field."),
                                                   ("zh", "缺少必填字段。")])
def test_the_api_answers_in_the_language_of_the_tokens_user(api, make, language, message):
    """docs/api.md, "Errors": the words follow the user's saved language; the field names stay the API's."""
    from insurecrm.models import Role

    admin = make.user(Role.ADMIN, preferred_language=language)
    response = api(admin).post("/api/v1/products", json={})
    assert response.status_code == 422
    assert response.json["errors"]["code"] == [message]
