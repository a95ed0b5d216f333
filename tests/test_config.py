"""Configuration from the environment."""

from __future__ import annotations

import pytest

from insurecrm.config import ConfigError, load_config


def test_production_refuses_to_start_without_secret_key(monkeypatch, tmp_path):
    monkeypatch.setenv("INSURECRM_ENV", "production")
    monkeypatch.delenv("INSURECRM_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="INSURECRM_SECRET_KEY"):
        load_config(str(tmp_path))


PRODUCTION_KEY = "k" * 32


@pytest.mark.parametrize("key", ["s3cret", "x" * 31, "密" * 10])  # the last: 10 characters, 30 bytes
def test_production_refuses_a_secret_key_shorter_than_32_bytes(monkeypatch, tmp_path, key):
    monkeypatch.setenv("INSURECRM_ENV", "production")
    monkeypatch.setenv("INSURECRM_SECRET_KEY", key)
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        load_config(str(tmp_path))


def test_production_accepts_a_32_byte_key_and_development_a_short_one(monkeypatch, tmp_path):
    monkeypatch.setenv("INSURECRM_ENV", "production")
    monkeypatch.setenv("INSURECRM_SECRET_KEY", "密" * 11)  # 11 characters, 33 bytes
    assert load_config(str(tmp_path))["SECRET_KEY"] == "密" * 11
    monkeypatch.setenv("INSURECRM_ENV", "development")
    monkeypatch.setenv("INSURECRM_SECRET_KEY", "short")
    assert load_config(str(tmp_path))["SECRET_KEY"] == "short"


def test_production_checks_a_key_given_by_overrides_too(monkeypatch, tmp_path):
    monkeypatch.setenv("INSURECRM_ENV", "production")
    monkeypatch.setenv("INSURECRM_SECRET_KEY", PRODUCTION_KEY)
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        load_config(str(tmp_path), {"SECRET_KEY": "test-secret"})


def test_rate_limits_are_counted_in_the_database_unless_told_otherwise(monkeypatch, tmp_path):
    monkeypatch.delenv("INSURECRM_RATELIMIT_STORAGE_URI", raising=False)
    assert load_config(str(tmp_path))["RATELIMIT_STORAGE_URI"] == "database://"
    monkeypatch.setenv("INSURECRM_RATELIMIT_STORAGE_URI", "redis://redis.internal:6379")
    assert load_config(str(tmp_path))["RATELIMIT_STORAGE_URI"] == "redis://redis.internal:6379"


def test_settings_come_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("INSURECRM_ENV", "production")
    monkeypatch.setenv("INSURECRM_SECRET_KEY", PRODUCTION_KEY)
    monkeypatch.setenv("INSURECRM_DATABASE_URL", "postgresql+psycopg://db/insurecrm")
    monkeypatch.setenv("INSURECRM_MAIL_PORT", "587")
    config = load_config(str(tmp_path))
    assert config["DATABASE_URL"] == "postgresql+psycopg://db/insurecrm"
    assert config["MAIL_PORT"] == 587
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["PSEUDONYM_KEY"] == PRODUCTION_KEY


def test_default_database_is_sqlite_under_instance(monkeypatch, tmp_path):
    monkeypatch.delenv("INSURECRM_DATABASE_URL", raising=False)
    config = load_config(str(tmp_path))
    assert config["DATABASE_URL"] == f"sqlite:///{tmp_path}/insurecrm.sqlite3"
