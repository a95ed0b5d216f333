"""What the template forms accept: a template's key and its Jinja2 sources, refused when they do not compile."""

from __future__ import annotations

import json

from marshmallow import ValidationError, fields, validate, validates_schema

from insurecrm.api import Id, Schema
from insurecrm.i18n import LANGUAGES
from insurecrm.models import OutboxChannel
from insurecrm.outbox.defaults import TEMPLATE_CHANNELS
from insurecrm.outbox.rendering import compile_error


class MessageTemplateSchema(Schema):
    id = Id(dump_only=True)
    kind = fields.String(required=True, validate=validate.Regexp(
        r"^[a-z][a-z0-9_]{0,47}$", error="Use up to 48 lower-case letters, digits or '_', starting with a letter."))
    language = fields.String(required=True, validate=validate.OneOf(list(LANGUAGES)))
    channel = fields.String(required=True, validate=validate.OneOf(TEMPLATE_CHANNELS))
    subject = fields.String(allow_none=True, validate=validate.Length(max=255))
    body = fields.String(required=True, validate=validate.Length(min=1, max=20000))

    @validates_schema
    def _compiles(self, data, **_kwargs):
        errors = {name: [f"The template does not compile: {error}"]
                  for name in ("subject", "body") if (error := compile_error(data.get(name)))}
        if errors:
            raise ValidationError(errors)


class MessageTemplateCreateSchema(MessageTemplateSchema):
    @validates_schema
    def _email_has_subject(self, data, **_kwargs):
        if data.get("channel") == OutboxChannel.EMAIL.value and not (data.get("subject") or "").strip():
            raise ValidationError("An email needs a subject.", "subject")


class MessageTemplateUpdateSchema(MessageTemplateSchema):
    """The wording only: a template's kind, language and channel are its identity."""

    class Meta(MessageTemplateSchema.Meta):
        exclude = ("kind", "language", "channel")


class PreviewSchema(Schema):
    """A sample payload to preview a template with: a JSON object."""

    sample = fields.String(required=True, validate=validate.Length(max=20000))

    @validates_schema
    def _json_object(self, data, **_kwargs):
        try:
            value = json.loads(data["sample"])
        except RecursionError:
            raise ValidationError("The JSON is nested too deeply.", "sample") from None
        except ValueError as exc:
            raise ValidationError(f"Not valid JSON: {exc}", "sample") from None
        if not isinstance(value, dict):
            raise ValidationError("Give a JSON object, e.g. {\"policyholder_name\": \"Li Wei\"}.", "sample")
