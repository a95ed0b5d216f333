"""The inbound webhooks: ``POST /api/v1/inbound/sms`` and ``POST /api/v1/inbound/email``, called by the gateways.

No user and no session: a gateway proves itself by signing each request with the channel's shared secret
(``INSURECRM_INBOUND_SMS_SECRET``, ``INSURECRM_INBOUND_EMAIL_SECRET``): the header ``X-InsureCRM-Timestamp`` holds
the Unix time of the call, and ``X-InsureCRM-Signature`` is ``sha256=`` and the hex HMAC-SHA256, under the secret, of
the timestamp, a dot and the raw body. The signature is compared in constant time, and a timestamp further than
``INSURECRM_INBOUND_MAX_SKEW_SECONDS`` (300) from now is refused, so a captured request cannot be replayed later.
Unsigned or wrongly signed: 401; the channel's secret not configured: 403 (the webhook is off); a body over 256 KiB:
413; a body that is not what the schema says: 422 with the messages by field. docs/deployment.md says how to call.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from flask import abort, current_app, request
from flask.views import MethodView
from werkzeug.exceptions import Forbidden, Unauthorized

from insurecrm.api import Blueprint
from insurecrm.db import db
from policyholders.messaging import inbound
from policyholders.messaging.models import MessageChannel
from policyholders.messaging.schemas import InboundEmailSchema, InboundResultSchema, InboundSmsSchema

blp = Blueprint("inbound_api", __name__, url_prefix="/api/v1",
                description="Inbound SMS and email, delivered by the gateways (signed webhooks, no user).")
API_BLUEPRINTS = (blp,)
MAX_BODY_BYTES = 256 * 1024
SECURITY = [{"inboundSignature": []}]
SECRETS = {"inbound_api.InboundSms": "INBOUND_SMS_SECRET", "inbound_api.InboundEmail": "INBOUND_EMAIL_SECRET"}


class SignatureRequired(Unauthorized):
    description = ("Sign the request: X-InsureCRM-Timestamp (Unix time) and X-InsureCRM-Signature "
                   "(sha256=<hex HMAC-SHA256 of timestamp.body>), see docs/deployment.md.")


class WebhookOff(Forbidden):
    description = "This webhook is not configured (no shared secret is set)."


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The signature a gateway sends: ``sha256=`` and the hex HMAC-SHA256 of ``timestamp.body`` under ``secret``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


@blp.before_request
def verify_signature() -> None:
    """The gateway's signature, before anything is parsed or written (see the module)."""
    secret = current_app.config.get(SECRETS.get(request.endpoint, ""), None)
    if not secret:
        raise WebhookOff()
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        abort(413)
    body = request.get_data(cache=True)
    if len(body) > MAX_BODY_BYTES:
        abort(413)
    timestamp = request.headers.get("X-InsureCRM-Timestamp", "")
    given = request.headers.get("X-InsureCRM-Signature", "")
    try:
        fresh = abs(time.time() - int(timestamp)) <= current_app.config["INBOUND_MAX_SKEW_SECONDS"]
    except ValueError:
        fresh = False
    if not (fresh and hmac.compare_digest(given.encode(), signature(secret, timestamp, body).encode())):
        raise SignatureRequired()


def _answer(channel: MessageChannel, data: dict):
    message, new = inbound.receive(channel, data)
    db.session.commit()
    return {"id": message.id, "match": message.match.value, "opt_out": message.opt_out, "duplicate": not new}


@blp.route("/inbound/sms")
class InboundSms(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(InboundSmsSchema)
    @blp.response(200, InboundResultSchema)
    def post(self, data):
        """An SMS a policyholder sent: matched by phone to one policyholder (their timeline and a task for their
        agent), or left for a manager when no one or several match; an opt-out keyword withdraws SMS consent."""
        return _answer(MessageChannel.SMS, data)


@blp.route("/inbound/email")
class InboundEmail(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(InboundEmailSchema)
    @blp.response(200, InboundResultSchema)
    def post(self, data):
        """An email a policyholder sent: a reply naming one of our emails (In-Reply-To, else References) is the
        policyholder's we sent it to, whatever its sender; any other is matched by address (any case) as an SMS is by
        phone. An opt-out keyword as the subject or first line withdraws email consent."""
        return _answer(MessageChannel.EMAIL, data)
