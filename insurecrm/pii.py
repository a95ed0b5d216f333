"""Pseudonymisation of personal data for roles that must not see it (the actuary).

Fields carry ``metadata={"pii": ...}`` in their marshmallow schema:

- ``"name"``: replaced by a stable pseudonym of the record (``PH-3F9A0C21D4``), the same on every
  response for the same record, so actuaries can still count and join;
- ``"drop"``: replaced by ``None`` (ID numbers, phones, emails, addresses, dates of birth, free text).

The pseudonym is an HMAC of the record's kind and id under ``INSURECRM_PSEUDONYM_KEY``: stable, and
not reversible without the key.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app, g, has_request_context

from insurecrm.models import Role


def pseudonym(kind: str, record_id: int | None) -> str | None:
    if record_id is None:
        return None
    key = current_app.config["PSEUDONYM_KEY"].encode()
    digest = hmac.new(key, f"{kind}:{record_id}".encode(), hashlib.sha256).hexdigest()
    return f"{kind[:2].upper()}-{digest[:10].upper()}"


def must_pseudonymise() -> bool:
    """True when the current request's user may not see personal data."""
    if not has_request_context():
        return False
    user = g.get("user")
    return user is not None and getattr(user, "role", None) == Role.ACTUARY


def scrub(data: dict, fields: dict, kind: str, record_id: int | None) -> dict:
    """Apply the ``pii`` markers of ``fields`` (a schema's declared fields) to dumped ``data``."""
    for name, field in fields.items():
        marker = field.metadata.get("pii")
        key = field.data_key or name
        if not marker or key not in data or data[key] is None:
            continue
        data[key] = pseudonym(kind, record_id) if marker == "name" else None
    return data


def mask_id_number(value: str | None) -> str | None:
    """``110105********1234``: enough to recognise, not enough to use."""
    if not value:
        return value
    if len(value) <= 6:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:] if len(value) > 10 else value[:2] + "****" + value[-2:]
