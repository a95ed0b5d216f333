"""Settings, read from ``INSURECRM_*`` environment variables (each documented in the README)."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path


class ConfigError(RuntimeError):
    """The configuration cannot be used (e.g. production without a secret key)."""


#: the shortest secret key production accepts: it signs the session cookies, so it must resist guessing offline
MIN_SECRET_KEY_BYTES = 32


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


def _days_list(name: str, default: str) -> tuple[int, ...]:
    """A comma-separated list of whole days, each above zero (e.g. ``"30,7"``), largest first."""
    raw = os.environ.get(name, default)
    try:
        days = {int(part) for part in raw.split(",") if part.strip()}
    except ValueError:
        raise ConfigError(f"{name} must list whole days, e.g. 30,7 (got {raw!r})") from None
    if not days or min(days) <= 0:
        raise ConfigError(f"{name} must list days above zero, e.g. 30,7 (got {raw!r})")
    return tuple(sorted(days, reverse=True))


def _int_in(name: str, default: str, low: int, high: int) -> int:
    """A whole number from ``low`` to ``high`` (refused otherwise, rather than given another meaning)."""
    raw = os.environ.get(name, default)
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number from {low} to {high} (got {raw!r})") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high} (got {raw!r})")
    return value


def load_config(instance_path: str, overrides: dict | None = None) -> dict:
    """Build the Flask config mapping from the environment, then ``overrides`` (tests use them)."""
    env = os.environ.get("INSURECRM_ENV", "development")
    default_db = "sqlite:///" + str(Path(instance_path) / "insurecrm.sqlite3")
    config = {
        "ENV_NAME": env,
        "DATABASE_URL": os.environ.get("INSURECRM_DATABASE_URL", default_db),
        "SECRET_KEY": os.environ.get("INSURECRM_SECRET_KEY"),
        "PSEUDONYM_KEY": os.environ.get("INSURECRM_PSEUDONYM_KEY"),
        "API_TOKEN_TTL": timedelta(hours=int(os.environ.get("INSURECRM_API_TOKEN_TTL_HOURS", "12"))),
        #: seconds a process may answer an API token check from memory (PostgreSQL; every change of users or tokens
        #: empties it at once, see insurecrm.token_cache); 0: every request queries
        "API_TOKEN_CACHE_SECONDS": _int_in("INSURECRM_API_TOKEN_CACHE_SECONDS", "10", 0, 300),
        #: where login attempts are counted: the application's database by default (shared by every process and
        #: host), or e.g. ``redis://host:6379`` (insurecrm.ratelimit, docs/deployment.md)
        "RATELIMIT_STORAGE_URI": os.environ.get("INSURECRM_RATELIMIT_STORAGE_URI", "database://"),
        "LOGIN_RATE_LIMIT": os.environ.get("INSURECRM_LOGIN_RATE_LIMIT", "10 per minute"),
        #: reverse proxies in front of the application whose X-Forwarded-For/-Proto it believes (0: none), so that
        #: the rate limit sees each client's address rather than the proxy's
        "TRUSTED_PROXIES": int(os.environ.get("INSURECRM_TRUSTED_PROXIES", "0")),
        "DEFAULT_PHONE_REGION": os.environ.get("INSURECRM_DEFAULT_PHONE_REGION", "CN"),
        "CURRENCY": os.environ.get("INSURECRM_CURRENCY", "CNY"),
        #: the time zone instants are shown in on pages (they are stored in UTC)
        "TIMEZONE": os.environ.get("INSURECRM_TIMEZONE", "Asia/Shanghai"),
        "MAIL_SERVER": os.environ.get("INSURECRM_MAIL_SERVER", "localhost"),
        "MAIL_PORT": int(os.environ.get("INSURECRM_MAIL_PORT", "25")),
        "MAIL_USE_STARTTLS": _bool("INSURECRM_MAIL_USE_STARTTLS", False),
        "MAIL_USERNAME": os.environ.get("INSURECRM_MAIL_USERNAME"),
        "MAIL_PASSWORD": os.environ.get("INSURECRM_MAIL_PASSWORD"),
        "MAIL_FROM": os.environ.get("INSURECRM_MAIL_FROM", "InsureCRM <no-reply@localhost>"),
        #: a renewal case opens this many days before a renewable policy expires
        #: a quoted renewal premium changing by more than this fraction is flagged at risk
        "RENEWAL_PREMIUM_CHANGE_ALERT": Decimal(os.environ.get("INSURECRM_RENEWAL_PREMIUM_CHANGE_ALERT", "0.15")),
        "RENEWAL_WINDOW_DAYS": int(os.environ.get("INSURECRM_RENEWAL_WINDOW_DAYS", "60")),
        #: how many outbox rows one sender run delivers at most
        "OUTBOX_BATCH_SIZE": int(os.environ.get("INSURECRM_OUTBOX_BATCH_SIZE", "200")),
        #: owed dates of the daily jobs at most this many days old are caught up; older ones are recorded as skipped
        "JOBS_MAX_CATCH_UP_DAYS": _int_in("INSURECRM_JOBS_MAX_CATCH_UP_DAYS", "30", 1, 3660),
        #: the hour (insurer's time zone) at which the scheduler runs the day's jobs
        "JOBS_HOUR": _int_in("INSURECRM_JOBS_HOUR", "1", 0, 23),
        #: renewal reminders go out this many days before expiry (a missed offset is caught up)
        "RENEWAL_REMINDER_OFFSETS": _days_list("INSURECRM_RENEWAL_REMINDER_OFFSETS", "30,7"),
        #: an open case never contacted this many days before expiry is escalated to the branch manager
        "RENEWAL_ESCALATION_DAYS": int(os.environ.get("INSURECRM_RENEWAL_ESCALATION_DAYS", "14")),
        #: a policyholder whose in-force annualised premium reaches this is a key customer
        "KEY_CUSTOMER_PREMIUM": Decimal(os.environ.get("INSURECRM_KEY_CUSTOMER_PREMIUM", "50000")),
        #: a key customer gets a service call planned when none was done or planned within this many days
        "KEY_CUSTOMER_CALLBACK_DAYS": int(os.environ.get("INSURECRM_KEY_CUSTOMER_CALLBACK_DAYS", "90")),
        #: a birthday greeting is still sent by a job run this many days late at most; later it is skipped
        "BIRTHDAY_LATE_DAYS": int(os.environ.get("INSURECRM_BIRTHDAY_LATE_DAYS", "3")),
        #: the daily jobs commit their work this many rows at a time (short row locks for the users' edits)
        "JOBS_BATCH_SIZE": max(int(os.environ.get("INSURECRM_JOBS_BATCH_SIZE", "500")), 1),
        #: the outbox sender (insurecrm/outbox, docs/outbox.md): attempts before a message is failed for good
        "OUTBOX_MAX_ATTEMPTS": int(os.environ.get("INSURECRM_OUTBOX_MAX_ATTEMPTS", "5")),
        #: a message left in "sending" longer than this is uncertain: failed, for a human to check
        "OUTBOX_SENDING_LEASE": timedelta(minutes=int(os.environ.get("INSURECRM_OUTBOX_LEASE_MINUTES", "10"))),
        #: seconds the sender waits for the SMTP server or the SMS gateway
        "OUTBOX_TIMEOUT_SECONDS": float(os.environ.get("INSURECRM_OUTBOX_TIMEOUT_SECONDS", "30")),
        "SMS_GATEWAY": os.environ.get("INSURECRM_SMS_GATEWAY", "log"),
        "SMS_GATEWAY_URL": os.environ.get("INSURECRM_SMS_GATEWAY_URL"),
        "SMS_GATEWAY_TOKEN": os.environ.get("INSURECRM_SMS_GATEWAY_TOKEN"),
        #: where the application is reached from outside, for links in messages (an email's unsubscribe link)
        "PUBLIC_URL": os.environ.get("INSURECRM_PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/"),
        #: the shared secrets of the inbound webhooks (HMAC-SHA256 signatures, docs/deployment.md); unset: refused
        "INBOUND_SMS_SECRET": os.environ.get("INSURECRM_INBOUND_SMS_SECRET"),
        "INBOUND_EMAIL_SECRET": os.environ.get("INSURECRM_INBOUND_EMAIL_SECRET"),
        #: how far a signed webhook's timestamp may be from now (a replay older than this is refused)
        "INBOUND_MAX_SKEW_SECONDS": _int_in("INSURECRM_INBOUND_MAX_SKEW_SECONDS", "300", 10, 3600),
        #: what every SMS to a policyholder ends with, per language: how to opt out
        "SMS_OPT_OUT_TEXT": {"en": os.environ.get("INSURECRM_SMS_OPT_OUT_EN", "Reply STOP to opt out"),
                             "zh": os.environ.get("INSURECRM_SMS_OPT_OUT_ZH", "回复TD退订")},
        #: an inbound SMS (or email subject) that is one of these words withdraws the channel's consent
        "OPT_OUT_KEYWORDS": frozenset(word.strip().upper() for word in os.environ.get(
            "INSURECRM_OPT_OUT_KEYWORDS", "STOP,TD,T,退订,UNSUBSCRIBE").split(",") if word.strip()),
        #: no policyholder gets more campaign messages than this in seven days (policyholders/campaigns/runs.py)
        "CAMPAIGN_WEEKLY_CAP": _int_in("INSURECRM_CAMPAIGN_WEEKLY_CAP", "2", 1, 50),
        #: the largest file an import takes (insurecrm/imports); a request may not be larger than that and a form
        "IMPORT_MAX_BYTES": _int_in("INSURECRM_IMPORT_MAX_MB", "100", 1, 2048) * (1 << 20),
        #: a file up to this size is checked or imported within the request; a larger one by a worker thread
        "IMPORT_INLINE_BYTES": _int_in("INSURECRM_IMPORT_INLINE_KB", "256", 0, 1 << 20) * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env == "production",
        "WTF_CSRF_TIME_LIMIT": None,
        # flask-smorest / OpenAPI
        "API_TITLE": "InsureCRM API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "/docs",
        "OPENAPI_SWAGGER_UI_URL": "/static/vendor/swagger-ui/",
        "API_SPEC_OPTIONS": {
            "components": {"securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                # the inbound webhooks: an HMAC of the timestamp and body (policyholders/messaging/routes.py)
                "inboundSignature": {"type": "apiKey", "in": "header", "name": "X-InsureCRM-Signature"}}},
            "security": [{"bearerAuth": []}],
        },
    }
    config.update(overrides or {})
    if config["ENV_NAME"] == "production":
        _check_production_secret(config["SECRET_KEY"])
    if not config["SECRET_KEY"]:
        config["SECRET_KEY"] = "insecure-development-key"  # noqa: S105 - refused in production above
    config["PSEUDONYM_KEY"] = config["PSEUDONYM_KEY"] or config["SECRET_KEY"]
    # no request is larger than an import's file and its form (answered 413 before it is read)
    config.setdefault("MAX_CONTENT_LENGTH", config["IMPORT_MAX_BYTES"] + (1 << 20))
    return config


def _check_production_secret(key: str | bytes | None) -> None:
    if not key:
        raise ConfigError("INSURECRM_SECRET_KEY must be set when INSURECRM_ENV=production")
    size = len(key.encode() if isinstance(key, str) else key)
    if size < MIN_SECRET_KEY_BYTES:
        raise ConfigError(f"INSURECRM_SECRET_KEY must be at least {MIN_SECRET_KEY_BYTES} bytes long in production "
                          f"(it has {size}); e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(48))'")
