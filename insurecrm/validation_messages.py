"""marshmallow's refusals in the language of the moment (English, 简体中文).

marshmallow words its refusals once, in English, in its classes: "Missing data for required field.", "Not a valid
email address.", "Length must be between 1 and 120.". Here each of them becomes a :class:`CatalogueText` — the same
English, looked up in the catalogue at the moment a field or a validator refuses a value — so that a refusal is
worded in the language of the request, or of the import run (``force_locale``), like every other message. A schema's
own message for a validator (``validate.Range(min=0, error=...)``) is made the same way by :func:`catalogue_text`.

A field copies its messages when it is made, so this is installed when :mod:`insurecrm` is imported, before any
schema is defined (``insurecrm/__init__.py``). The English stays as marshmallow has it: the API's and the pages'
messages in English are unchanged.
"""

from __future__ import annotations

from flask_babel import force_locale, get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from marshmallow import fields, validate

from insurecrm.labels import label


class CatalogueText(str):
    """An English message (a template: ``"Length must be {equal}."``) translated when marshmallow formats it, which
    it does for every message it raises, with or without placeholders."""

    def format(self, *args, **kwargs) -> str:
        english = str(self)
        try:
            return gettext(english).format(*args, **kwargs)
        except (KeyError, IndexError, ValueError):  # a translation naming a placeholder the English does not have
            return english.format(*args, **kwargs)


def catalogue_text(message: LazyString) -> CatalogueText:
    """The message for a validator's ``error`` or a field's ``error_messages``, given as ``_l("...")`` (so that the
    catalogue has it), translated when a value is refused with it."""
    with force_locale("en"):  # the English is the key, whatever the language of the moment a schema is defined in
        return CatalogueText(str(message))


def in_refusal(code, kind: str) -> str:
    """``code`` as a refusal names it: in English the code itself, as the API's clients send it (the messages the
    API answers keep their codes); in another language its label among the ``kind`` labels
    (:data:`insurecrm.labels.LABELS`), as its readers know it ("居民身份证", not ``prc_resident``)."""
    locale = get_locale()
    if locale is None or locale.language == "en":
        return str(getattr(code, "value", code))
    return label(code, kind)


class _RangeWording(str):
    """A template of :class:`marshmallow.validate.Range`'s messages (``"Must be {min_op} {{min}}."``), which a
    range fills with "greater than" or "greater than or equal to" when it is made, by whether its bounds are
    included: the message it gets is the whole sentence of that wording, in the catalogue as a whole."""

    def __new__(cls, english: str, wordings: dict[tuple[str | None, str | None], LazyString]) -> _RangeWording:
        template = super().__new__(cls, english)
        template.wordings = {ops: catalogue_text(message) for ops, message in wordings.items()}
        return template

    def format(self, *args, **ops) -> CatalogueText:
        return self.wordings[ops.get("min_op"), ops.get("max_op")]


GTE, GT, LTE, LT = (validate.Range.message_gte, validate.Range.message_gt, validate.Range.message_lte,
                    validate.Range.message_lt)

#: marshmallow's messages of its fields, by field class and key (as marshmallow words them)
FIELD_MESSAGES = {
    fields.Field: {"required": _l("Missing data for required field."), "null": _l("Field may not be null."),
                   "validator_failed": _l("Invalid value.")},
    fields.Nested: {"type": _l("Invalid type.")},
    fields.List: {"invalid": _l("Not a valid list.")},
    fields.Tuple: {"invalid": _l("Not a valid tuple.")},
    fields.String: {"invalid": _l("Not a valid string."), "invalid_utf8": _l("Not a valid utf-8 string.")},
    fields.UUID: {"invalid_uuid": _l("Not a valid UUID.")},
    fields.Number: {"invalid": _l("Not a valid number."), "too_large": _l("Number too large.")},
    fields.Integer: {"invalid": _l("Not a valid integer.")},
    fields.Float: {"special": _l("Special numeric values (nan or infinity) are not permitted.")},
    fields.Decimal: {"special": _l("Special numeric values (nan or infinity) are not permitted.")},
    fields.Boolean: {"invalid": _l("Not a valid boolean.")},
    fields.DateTime: {"invalid": _l("Not a valid datetime.")},
    fields.NaiveDateTime: {"invalid_awareness": _l("Not a valid naive datetime.")},
    fields.AwareDateTime: {"invalid_awareness": _l("Not a valid aware datetime.")},
    fields.Date: {"invalid": _l("Not a valid date.")},
    fields.Time: {"invalid": _l("Not a valid time.")},
    fields.TimeDelta: {"invalid": _l("Not a valid period of time.")},
    fields.Mapping: {"invalid": _l("Not a valid mapping type.")},
    fields.Url: {"invalid": _l("Not a valid URL.")},
    fields.Email: {"invalid": _l("Not a valid email address.")},
    fields.Enum: {"unknown": _l("Must be one of: {choices}.")},
}

#: marshmallow's messages of its validators, by validator class and attribute
VALIDATOR_MESSAGES = {
    validate.URL: {"default_message": _l("Not a valid URL.")},
    validate.Email: {"default_message": _l("Not a valid email address.")},
    validate.Length: {"message_min": _l("Shorter than minimum length {min}."),
                      "message_max": _l("Longer than maximum length {max}."),
                      "message_all": _l("Length must be between {min} and {max}."),
                      "message_equal": _l("Length must be {equal}.")},
    validate.Equal: {"default_message": _l("Must be equal to {other}.")},
    validate.Regexp: {"default_message": _l("String does not match expected pattern.")},
    validate.Predicate: {"default_message": _l("Invalid input.")},
    validate.NoneOf: {"default_message": _l("Invalid input.")},
    validate.OneOf: {"default_message": _l("Must be one of: {choices}.")},
    validate.ContainsOnly: {"default_message": _l("One or more of the choices you made was not in: {choices}.")},
    validate.ContainsNoneOf: {"default_message": _l("One or more of the choices you made was in: {values}.")},
}

#: the sentences of :class:`marshmallow.validate.Range`, by its template and the wording of its bounds
RANGE_WORDINGS = {
    "message_min": {(GTE, None): _l("Must be greater than or equal to {min}."),
                    (GT, None): _l("Must be greater than {min}.")},
    "message_max": {(None, LTE): _l("Must be less than or equal to {max}."),
                    (None, LT): _l("Must be less than {max}.")},
    "message_all": {(GTE, LTE): _l("Must be greater than or equal to {min} and less than or equal to {max}."),
                    (GTE, LT): _l("Must be greater than or equal to {min} and less than {max}."),
                    (GT, LTE): _l("Must be greater than {min} and less than or equal to {max}."),
                    (GT, LT): _l("Must be greater than {min} and less than {max}.")},
}


def install() -> None:
    """Put the catalogue's messages in marshmallow's classes (once; doing it again changes nothing)."""
    for field_class, messages in FIELD_MESSAGES.items():
        field_class.default_error_messages = {**field_class.__dict__.get("default_error_messages", {}),
                                              **{key: catalogue_text(text) for key, text in messages.items()}}
    for validator_class, messages in VALIDATOR_MESSAGES.items():
        for attribute, text in messages.items():
            setattr(validator_class, attribute, catalogue_text(text))
    for attribute, wordings in RANGE_WORDINGS.items():
        english = getattr(validate.Range, attribute)
        if not isinstance(english, _RangeWording):
            setattr(validate.Range, attribute, _RangeWording(english, wordings))


install()
