"""Configuration from the environment."""

from __future__ import annotations

import pytest

from insurecrm.config import ConfigError, load_config


def test_production_refuses_to_start_without_secret_key(monkeypatch, tmp_path):
    monkeypatch.setenv("INSURECRM_ENV", "production")
    monkeypatch.delenv("INSURECRM_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="INSURECRM_SECRET_KEY"):
        load_config(str(tmp_path))


def test_settings_come_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("INSURECRM_ENV", "production")
    monkeypatch.setenv("INSURECRM_SECRET_KEY", "s3cret")
    monkeypatch.setenv("INSURECRM_DATABASE_URL", "postgresql+psycopg://db/insurecrm")
    monkeypatch.setenv("INSURECRM_MAIL_PORT", "587")
    config = load_config(str(tmp_path))
    assert config["DATABASE_URL"] == "postgresql+psycopg://db/insurecrm"
    assert config["MAIL_PORT"] == 587
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["PSEUDONYM_KEY"] == "s3cret"


def test_default_database_is_sqlite_under_instance(monkeypatch, tmp_path):
    monkeypatch.delenv("INSURECRM_DATABASE_URL", raising=False)
    config = load_config(str(tmp_path))
    assert config["DATABASE_URL"] == f"sqlite:///{tmp_path}/insurecrm.sqlite3"
