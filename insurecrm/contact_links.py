"""Phone numbers and email addresses on pages as links that call or write (``tel:``, ``mailto:``).

A role that may not see personal data (the actuary) gets "•••" as from :func:`insurecrm.web.personal`, never a
link that would carry the number in its address.
"""

from __future__ import annotations

import phonenumbers
from markupsafe import Markup

from insurecrm.pii import must_pseudonymise


def _hidden(value) -> str | None:
    if value in (None, ""):
        return "—"
    return "•••" if must_pseudonymise() else None


def phone_link(value: str | None) -> Markup | str:
    """``<a href="tel:+8613800138000">+86 138 0013 8000</a>`` for a stored (E.164) number; a number that does not
    parse is shown as text."""
    hidden = _hidden(value)
    if hidden is not None:
        return hidden
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return value
    dial = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    shown = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return Markup('<a href="tel:{}" class="contact">{}</a>').format(dial, shown)


def email_link(value: str | None) -> Markup | str:
    hidden = _hidden(value)
    if hidden is not None:
        return hidden
    return Markup('<a href="mailto:{}" class="contact">{}</a>').format(value, value)


def init_app(app) -> None:
    app.jinja_env.globals.update(phone_link=phone_link, email_link=email_link)
