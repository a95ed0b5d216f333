"""Settings, read from ``INSURECRM_*`` environment variables (each documented in the README)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path


class ConfigError(RuntimeError):
    """The configuration cannot be used (e.g. production without a secret key)."""


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


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
        "RATELIMIT_STORAGE_URI": os.environ.get("INSURECRM_RATELIMIT_STORAGE_URI", "memory://"),
        "LOGIN_RATE_LIMIT": os.environ.get("INSURECRM_LOGIN_RATE_LIMIT", "10 per minute"),
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
        "RENEWAL_WINDOW_DAYS": int(os.environ.get("INSURECRM_RENEWAL_WINDOW_DAYS", "60")),
        "JOBS_MAX_CATCH_UP_DAYS": int(os.environ.get("INSURECRM_JOBS_MAX_CATCH_UP_DAYS", "30")),
        #: the hour (insurer's time zone) at which the scheduler runs the day's jobs
        "JOBS_HOUR": int(os.environ.get("INSURECRM_JOBS_HOUR", "1")),
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
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearerAuth": []}],
        },
    }
    config.update(overrides or {})
    if not config["SECRET_KEY"]:
        if config["ENV_NAME"] == "production":
            raise ConfigError("INSURECRM_SECRET_KEY must be set when INSURECRM_ENV=production")
        config["SECRET_KEY"] = "insecure-development-key"  # noqa: S105 - refused in production above
    config["PSEUDONYM_KEY"] = config["PSEUDONYM_KEY"] or config["SECRET_KEY"]
    return config
