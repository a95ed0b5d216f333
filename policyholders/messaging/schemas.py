"""What the inbound webhooks take and answer."""

from __future__ import annotations

from marshmallow import fields, validate

from insurecrm.api import Id, Instant, Schema

#: bounds of an SMS's text (a long SMS is sent as up to ten parts of 70 Chinese characters) and an email's text
SMS_TEXT_MAX = 2_000
EMAIL_TEXT_MAX = 20_000
#: a References header of a long thread: some dozens of Message-IDs
REFERENCES_MAX = 8_000


class InboundSmsSchema(Schema):
    """An SMS a policyholder sent, as the gateway delivers it."""

    sender = fields.String(required=True, data_key="from", validate=validate.Length(min=1, max=32),
                           metadata={"description": "The sender's number, e.g. +8613800138000 or 13800138000."})
    to = fields.String(validate=validate.Length(max=32), metadata={"description": "Our number it was sent to."})
    text = fields.String(required=True, validate=validate.Length(max=SMS_TEXT_MAX))
    message_id = fields.String(validate=validate.Length(min=1, max=255),
                               metadata={"description": "The gateway's id of the message: a retry is a no-op."})
    received_at = Instant(past_years=1, future_years=1)


class InboundEmailSchema(Schema):
    """An email a policyholder sent (a reply to one of ours, or a new one), as the mail gateway delivers it."""

    sender = fields.String(required=True, data_key="from", validate=validate.Length(min=3, max=255),
                           metadata={"description": "The From header: an address, or a name and an address."})
    to = fields.String(validate=validate.Length(max=255))
    subject = fields.String(validate=validate.Length(max=255))
    text = fields.String(required=True, validate=validate.Length(max=EMAIL_TEXT_MAX),
                         metadata={"description": "The plain-text body."})
    in_reply_to = fields.String(validate=validate.Length(max=255), metadata={"description": (
        "The In-Reply-To header: the Message-ID of the email it answers. When that is the Message-ID of an email we "
        "sent a policyholder, the message is theirs, whatever address it comes from.")})
    references = fields.String(validate=validate.Length(max=REFERENCES_MAX), metadata={"description": (
        "The References header: the Message-IDs of the thread, oldest first. Read when In-Reply-To names none of "
        "our emails (a reply to a reply); not kept.")})
    message_id = fields.String(validate=validate.Length(min=1, max=255),
                               metadata={"description": "The email's Message-ID: a retry is a no-op."})
    received_at = Instant(past_years=1, future_years=1)


class InboundResultSchema(Schema):
    """What became of a message: never which policyholder it matched (the gateway has no need to know)."""

    id = Id(dump_only=True)
    match = fields.String(dump_only=True, validate=validate.OneOf(["matched", "unknown", "ambiguous"]))
    opt_out = fields.Boolean(dump_only=True)
    duplicate = fields.Boolean(dump_only=True, metadata={"description": "This message_id was received before."})
