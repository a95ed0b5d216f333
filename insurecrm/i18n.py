"""Languages of the user interface (English, 简体中文) and locale-aware formatting.

The locale comes from, in order: the language the user chose in this session, the user's saved
preference, the browser's ``Accept-Language``; outside a request (the CLI), ``g.language`` or English.
Dates, numbers and money are formatted by Babel for that locale; money is in the currency of
``INSURECRM_CURRENCY`` (CNY by default).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask import current_app, g, has_app_context, has_request_context, request, session
from flask_babel import Babel, format_currency, format_date, format_datetime, format_decimal, get_locale

#: code → name shown in the language switch (each in its own language)
LANGUAGES = {"en": "English", "zh": "简体中文"}
babel = Babel()


def select_locale() -> str:
    if not has_request_context():
        # the CLI and the jobs: the language set for the work at hand (``g.language``), English otherwise
        return g.get("language", "en") if has_app_context() else "en"
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    user = g.get("user")
    if user is not None and getattr(user, "preferred_language", None) in LANGUAGES:
        return user.preferred_language
    return request.accept_languages.best_match(list(LANGUAGES), default="en") if request else "en"


def money(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return format_currency(value, current_app.config["CURRENCY"])


def day(value: date | datetime | None, style: str = "medium") -> str:
    if value is None:
        return "—"
    return format_date(value.date() if isinstance(value, datetime) else value, style)


def instant(value: datetime | None, style: str = "medium") -> str:
    return "—" if value is None else format_datetime(value, style)


def number(value) -> str:
    return "—" if value is None else format_decimal(value)


def html_lang() -> str:
    return "zh-CN" if str(get_locale()) == "zh" else "en"


def init_app(app) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", app.config.get("TIMEZONE", "Asia/Shanghai"))
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.filters.update(money=money, day=day, instant=instant, number=number)
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, html_lang=html_lang, get_locale=get_locale)
